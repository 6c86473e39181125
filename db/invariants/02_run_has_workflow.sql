-- Every app.runs row has its IntentWorkflow.
--
-- Proves no run is stranded: the run ID is the workflow ID, and a row whose workflow never started
-- (a start cut in half by a crash and never retried, or a dbos schema reset under live app data) can
-- never make progress. A queued row younger than 60 s is in the middle of being started and is
-- not judged yet.
SELECT
  r.id,
  CASE
    WHEN ws.workflow_uuid IS NULL THEN format('run %s (%s, created %s) has no DBOS workflow', r.id, r.status, r.created_at)
    ELSE format('run %s is backed by a %s workflow, not an IntentWorkflow', r.id, ws.name)
  END AS detail
FROM app.runs AS r
LEFT JOIN dbos.workflow_status AS ws ON ws.workflow_uuid = r.id
WHERE (ws.workflow_uuid IS NULL OR ws.name IS DISTINCT FROM 'IntentWorkflow')
  AND NOT (ws.workflow_uuid IS NULL AND r.status = 'queued' AND r.created_at > now() - interval '60 seconds')
ORDER BY r.created_at, r.id
