-- Every cancel and resume the control plane performed has its OPS audit row.
--
-- Proves no effect without its audit: an OpsActionWorkflow (ops_<actionId>, from the API or the CLI)
-- that reached its DBOS.cancelWorkflow or DBOS.resumeWorkflow step has the OPS row its AuditST wrote
-- before it (app.artifacts step_id = 'OPS', the same action_id, the same op).
SELECT
  ws.workflow_uuid AS id,
  format('%s reached %s but has no OPS %s row (action_id %s)', ws.workflow_uuid, oo.function_name, want.op, substr(ws.workflow_uuid, 5)) AS detail
FROM dbos.workflow_status AS ws
JOIN dbos.operation_outputs AS oo ON oo.workflow_uuid = ws.workflow_uuid
CROSS JOIN LATERAL (
  SELECT CASE oo.function_name WHEN 'DBOS.cancelWorkflow' THEN 'cancel' ELSE 'resume' END AS op
) AS want
WHERE ws.name = 'OpsActionWorkflow'
  AND oo.function_name IN ('DBOS.cancelWorkflow', 'DBOS.resumeWorkflow')
  AND NOT EXISTS (
    SELECT 1
    FROM app.artifacts AS a
    WHERE a.step_id = 'OPS'
      AND 'ops_' || a.action_id = ws.workflow_uuid
      AND a.inline ->> 'op' = want.op
  )
ORDER BY ws.workflow_uuid
