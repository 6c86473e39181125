-- Every OPS audit row has its action workflow, and that workflow took (or is still taking) effect.
--
-- Proves no audit without its effect: each OPS row (app.artifacts step_id = 'OPS') was written by the
-- AuditST step of OpsActionWorkflow ops_<action_id>, which then made the DBOS call. That workflow is
-- SUCCESS (the effect happened) or still PENDING (recovery will finish it); missing, failed or
-- cancelled means an action was recorded that did not happen.
SELECT
  a.action_id AS id,
  CASE
    WHEN ws.workflow_uuid IS NULL THEN format('OPS %s row on %s has no action workflow ops_%s', a.inline ->> 'op', a.run_id, a.action_id)
    WHEN ws.name IS DISTINCT FROM 'OpsActionWorkflow' THEN format('OPS %s row on %s: ops_%s is a %s, not an OpsActionWorkflow', a.inline ->> 'op', a.run_id, a.action_id, ws.name)
    ELSE format('OPS %s row on %s: its action workflow ops_%s is %s, so the action did not take effect', a.inline ->> 'op', a.run_id, a.action_id, ws.status)
  END AS detail
FROM app.artifacts AS a
LEFT JOIN dbos.workflow_status AS ws ON ws.workflow_uuid = 'ops_' || a.action_id
WHERE a.step_id = 'OPS'
  AND (ws.workflow_uuid IS NULL OR ws.name IS DISTINCT FROM 'OpsActionWorkflow' OR ws.status NOT IN ('SUCCESS', 'PENDING'))
ORDER BY a.created_at, a.action_id
