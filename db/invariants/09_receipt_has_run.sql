-- Every task receipt points at an existing run of its lineage.
--
-- Proves receipts are never orphaned: the run that opened (or last completed) a receipt exists in
-- app.runs, and belongs to the lineage the receipt is keyed by, so a replayed effect can always be
-- traced to the run and the intent that caused it.
SELECT
  t.task_key AS id,
  CASE
    WHEN r.id IS NULL THEN format('receipt (%s, %s) names run %s, which does not exist', t.connector, t.status, t.run_id)
    ELSE format('receipt names run %s of lineage %s, but the receipt is keyed by lineage %s', r.id, r.lineage_root, t.lineage_root)
  END AS detail
FROM app.task_receipts AS t
LEFT JOIN app.runs AS r ON r.id = t.run_id
WHERE r.id IS NULL OR r.lineage_root <> t.lineage_root
ORDER BY t.first_seen_at, t.task_key
