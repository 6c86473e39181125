-- Every run's status projection agrees with its workflow's DBOS status.
--
-- DBOS is the truth: SUCCESS ⇔ succeeded, ERROR or MAX_RECOVERY_ATTEMPTS_EXCEEDED ⇔ failed,
-- CANCELLED ⇔ canceled, and a workflow still PENDING / ENQUEUED / DELAYED ⇔ queued, running or waiting.
-- Two disagreements are transient by design and are given 60 s:
-- * the projection ran ahead (a step commits succeeded/failed, or a cancel's AuditST commits canceled,
--   a moment before DBOS records the outcome): judged 60 s after the projection's last write;
-- * the projection lags (DBOS finished and the scheduled tick, every 30 s, has not reconciled the
--   queued/running/waiting row yet; or a resume's AuditST re-queued a cancelled run a moment before
--   its DBOS.resumeWorkflow step): judged 60 s after the later of the two changes.
-- Any other disagreement is reported at once: a succeeded run whose workflow failed, say, or the
-- lasting trace of a cancel that raced a run's last step (canceled vs SUCCESS, succeeded vs
-- CANCELLED), which nothing reconciles.
WITH judged AS (
  SELECT
    r.id,
    r.status AS projection,
    r.updated_at AS projection_at,
    ws.status AS dbos_status,
    to_timestamp(ws.updated_at / 1000.0) AS dbos_at,
    CASE ws.status
      WHEN 'SUCCESS' THEN 'succeeded'
      WHEN 'ERROR' THEN 'failed'
      WHEN 'MAX_RECOVERY_ATTEMPTS_EXCEEDED' THEN 'failed'
      WHEN 'CANCELLED' THEN 'canceled'
    END AS expected
  FROM app.runs AS r
  JOIN dbos.workflow_status AS ws ON ws.workflow_uuid = r.id
)
SELECT
  j.id,
  format('run is %s but its workflow is %s (projection written %s, workflow changed %s)', j.projection, j.dbos_status, j.projection_at, j.dbos_at) AS detail
FROM judged AS j
WHERE
  CASE
    -- DBOS still working: any in-flight projection fits, a terminal one only while it is fresh.
    WHEN j.expected IS NULL THEN
      j.projection IN ('succeeded', 'failed', 'canceled') AND j.projection_at < now() - interval '60 seconds'
    WHEN j.projection = j.expected THEN false
    -- DBOS finished and the projection has not caught up yet, or a resume is half way through.
    WHEN j.projection IN ('queued', 'running', 'waiting') THEN
      greatest(j.dbos_at, j.projection_at) < now() - interval '60 seconds'
    ELSE true
  END
ORDER BY j.id
