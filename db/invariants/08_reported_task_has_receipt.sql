-- Every task a succeeded run reports as done has a succeeded receipt.
--
-- Proves one receipt per effect from the reporting side (the task_receipts primary key already makes
-- a second receipt for a task key impossible): a succeeded run has its execution_report artifact, and
-- each task that report lists as succeeded (made or replayed) is backed by the succeeded receipt of
-- its task key. Skipped tasks (dry runs) need none.
WITH succeeded AS (
  SELECT r.id, report.inline AS report
  FROM app.runs AS r
  LEFT JOIN app.artifacts AS report
    ON report.run_id = r.id AND report.step_id = 'ExecuteST' AND report.kind = 'execution_report' AND report.action_id IS NULL
  WHERE r.status = 'succeeded'
)
SELECT
  s.id,
  'succeeded run has no execution_report artifact' AS detail
FROM succeeded AS s
WHERE s.report IS NULL
UNION ALL
SELECT
  s.id,
  CASE
    WHEN receipt.task_key IS NULL THEN format('task %s (%s) is reported succeeded but has no receipt', task ->> 'taskKey', task ->> 'connector')
    ELSE format('task %s (%s) is reported succeeded but its receipt is %s', task ->> 'taskKey', task ->> 'connector', receipt.status)
  END
FROM succeeded AS s
CROSS JOIN LATERAL jsonb_array_elements(coalesce(s.report -> 'tasks', '[]'::jsonb)) AS task
LEFT JOIN app.task_receipts AS receipt ON receipt.task_key = task ->> 'taskKey'
WHERE task ->> 'status' = 'succeeded'
  AND (receipt.task_key IS NULL OR receipt.status <> 'succeeded')
ORDER BY 1, 2
