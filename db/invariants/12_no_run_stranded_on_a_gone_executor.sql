-- No run stays PENDING on an executor that has been gone for more than 60 s.
--
-- Proves no run is stranded by a process that died, was replaced under another executor ID, or never
-- came back: an executor is alive while a process holds its liveness lock (app.ops_executor_alive), and
-- a live worker's sweep puts a gone executor's PENDING runs back on their queue within one sweep
-- interval (EXECUTOR_SWEEP_SCHEDULE, 10 s by default). "Gone since" is when a sweep last saw it alive
-- (app.ops_executors.last_seen_at), or the run's last status change for an executor that never
-- registered. The 60 s are the takeover bound. With no worker running at all, nothing can take the
-- runs over, and they are reported: they are stranded until a worker starts.
SELECT
  ws.workflow_uuid AS id,
  format(
    'run %s is PENDING on executor %s, gone since %s (no live process holds its lock, and no sweep took the run over)',
    ws.workflow_uuid,
    ws.executor_id,
    COALESCE(e.last_seen_at, to_timestamp(ws.updated_at / 1000.0))
  ) AS detail
FROM dbos.workflow_status AS ws
LEFT JOIN app.ops_executors AS e ON e.executor_id = ws.executor_id
WHERE ws.name = 'IntentWorkflow'
  AND ws.status = 'PENDING'
  AND NOT app.ops_executor_alive(ws.executor_id)
  AND COALESCE(e.last_seen_at, to_timestamp(ws.updated_at / 1000.0)) < now() - interval '60 seconds'
ORDER BY ws.workflow_uuid
