-- No task effect was made by two live executions of one run.
--
-- Proves that cancel, resume and recovery never leave two executions of a run sending: every send is
-- an app.task_attempts row with the DBOS ownership token of the execution that claimed it, and a
-- claim only succeeds for the run's live execution (its workflow PENDING and owned by that token).
-- Two sends of one task by two executions of one run are legitimate only in sequence: the later
-- execution re-sends what the earlier one had in flight when it died (or was cancelled), and the
-- earlier one never settles it. A violation is two sends that overlapped: the earlier execution
-- settled its send after the later execution had already claimed the task.
SELECT
  first.run_id AS id,
  format(
    'task %s: send %s (execution %s) settled at %s, after send %s (execution %s) claimed it at %s',
    first.task_key, first.seq, first.execution_id, first.settled_at, later.seq, later.execution_id, later.claimed_at
  ) AS detail
FROM app.task_attempts AS first
JOIN app.task_attempts AS later
  ON later.task_key = first.task_key
  AND later.run_id = first.run_id
  AND later.seq > first.seq
  AND later.execution_id <> first.execution_id
WHERE first.settled_at IS NOT NULL
  AND first.settled_at > later.claimed_at
ORDER BY 1, 2
