-- Every IntentWorkflow has its app.runs row.
--
-- Proves no run is invisible to the data plane: a run's row is written before its workflow is
-- enqueued (POST /api/runs) or forked (the fork's AuditST), so a workflow without a row is a
-- workflow someone started behind the service's back, or a row that was lost.
SELECT
  ws.workflow_uuid AS id,
  format('IntentWorkflow %s (%s) has no app.runs row', ws.workflow_uuid, ws.status) AS detail
FROM dbos.workflow_status AS ws
WHERE ws.name = 'IntentWorkflow'
  AND NOT EXISTS (SELECT 1 FROM app.runs AS r WHERE r.id = ws.workflow_uuid)
ORDER BY ws.created_at, ws.workflow_uuid
