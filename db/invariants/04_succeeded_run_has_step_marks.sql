-- Every succeeded run has each pipeline step marked exactly once as completed or reused.
--
-- Proves exactly-once at the level of the local marks: the four steps (CompileST, ApplyPatchST,
-- DecideST, ExecuteST) each left one mark in app.run_steps with phase completed (it ran here) or
-- reused (a fork copied its checkpoint), never both, never twice, never missing. Failed attempts of
-- ExecuteST (phase failed) may come before its completed mark and are not counted.
WITH steps (step_id, step_order) AS (
  VALUES ('CompileST', 1), ('ApplyPatchST', 2), ('DecideST', 3), ('ExecuteST', 4)
),
counted AS (
  SELECT
    r.id AS run_id,
    s.step_id,
    s.step_order,
    count(m.*) FILTER (WHERE m.phase = 'completed') AS completed,
    count(m.*) FILTER (WHERE m.phase = 'reused') AS reused
  FROM app.runs AS r
  CROSS JOIN steps AS s
  LEFT JOIN app.run_steps AS m ON m.run_id = r.id AND m.step_id = s.step_id
  WHERE r.status = 'succeeded'
  GROUP BY r.id, s.step_id, s.step_order
)
SELECT
  c.run_id AS id,
  CASE
    WHEN c.completed + c.reused = 0 THEN format('succeeded run has no %s mark', c.step_id)
    ELSE format('succeeded run has %s completed and %s reused %s marks (want exactly one)', c.completed, c.reused, c.step_id)
  END AS detail
FROM counted AS c
WHERE c.completed + c.reused <> 1
ORDER BY c.run_id, c.step_order
