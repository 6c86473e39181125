-- Every fork has its OPS audit row naming the forked workflow, and every audited fork exists.
--
-- Proves forks are never silent: a workflow DBOS forked (workflow_status.forked_from) and every
-- OpsActionWorkflow that reached its DBOS.forkWorkflow step are named by an OPS row
-- (app.artifacts step_id = 'OPS', op = fork, forkedWorkflowID); and the fork an OPS row of a
-- finished action names really exists, forked from the row's target.
WITH fork_rows AS (
  SELECT a.action_id, a.run_id AS target, a.inline ->> 'forkedWorkflowID' AS forked
  FROM app.artifacts AS a
  WHERE a.step_id = 'OPS' AND a.inline ->> 'op' = 'fork'
)
SELECT
  ws.workflow_uuid AS id,
  format('workflow %s was forked from %s but no OPS fork row names it', ws.workflow_uuid, ws.forked_from) AS detail
FROM dbos.workflow_status AS ws
WHERE ws.forked_from IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM fork_rows AS f WHERE f.forked = ws.workflow_uuid AND f.target = ws.forked_from)
UNION ALL
SELECT
  ws.workflow_uuid,
  format('%s reached DBOS.forkWorkflow but has no OPS fork row naming a forkedWorkflowID', ws.workflow_uuid)
FROM dbos.workflow_status AS ws
JOIN dbos.operation_outputs AS oo ON oo.workflow_uuid = ws.workflow_uuid AND oo.function_name = 'DBOS.forkWorkflow'
WHERE ws.name = 'OpsActionWorkflow'
  AND NOT EXISTS (
    SELECT 1 FROM fork_rows AS f WHERE 'ops_' || f.action_id = ws.workflow_uuid AND f.forked IS NOT NULL
  )
UNION ALL
SELECT
  'ops_' || f.action_id,
  format('OPS fork row of %s names %s, which is not a fork of %s', 'ops_' || f.action_id, coalesce(f.forked, '(nothing)'), f.target)
FROM fork_rows AS f
JOIN dbos.workflow_status AS action ON action.workflow_uuid = 'ops_' || f.action_id AND action.status = 'SUCCESS'
WHERE NOT EXISTS (
  SELECT 1 FROM dbos.workflow_status AS forked WHERE forked.workflow_uuid = f.forked AND forked.forked_from = f.target
)
ORDER BY 1, 2
