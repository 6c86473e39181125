-- No run attempted a task more often than its maxAttempts allowed.
--
-- Proves the attempt bound: each send of a task is an app.task_attempts row naming its run and its
-- attempt within that run (a re-send of an attempt whose outcome a crash lost keeps its number), and
-- no run's highest attempt on a task exceeds the maxAttempts of its patch_card. Receipts are shared by
-- a lineage (a fork re-attempts what failed), so a receipt's own attempt count is bounded by the sum
-- of maxAttempts over the runs of its lineage that claimed it; that also covers receipts older than
-- the per-send rows.
WITH allowed AS (
  SELECT
    r.id AS run_id,
    r.lineage_root,
    (card.inline ->> 'maxAttempts')::integer AS max_attempts
  FROM app.runs AS r
  JOIN app.artifacts AS card
    ON card.run_id = r.id AND card.step_id = 'ApplyPatchST' AND card.kind = 'patch_card' AND card.action_id IS NULL
),
per_run AS (
  SELECT a.run_id, a.task_key, max(a.attempt) AS attempts
  FROM app.task_attempts AS a
  GROUP BY a.run_id, a.task_key
)
SELECT
  p.run_id AS id,
  format('task %s: attempt %s made, but the run allows %s', p.task_key, p.attempts, al.max_attempts) AS detail
FROM per_run AS p
JOIN allowed AS al ON al.run_id = p.run_id
WHERE p.attempts > al.max_attempts
UNION ALL
SELECT
  t.task_key AS id,
  format('receipt counts %s attempts, but the runs of lineage %s allow %s in all', t.attempts, t.lineage_root, sum(al.max_attempts)) AS detail
FROM app.task_receipts AS t
JOIN allowed AS al ON al.lineage_root = t.lineage_root
GROUP BY t.task_key, t.attempts, t.lineage_root
HAVING t.attempts > sum(al.max_attempts)
ORDER BY 1, 2
