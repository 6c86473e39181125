-- The ops views (docs/architecture.md): what on-call engineers and auditors query, in schema app, over dbos.* only.
-- Re-applied at every boot after DBOS migrates its schema, so everything here is idempotent; db:sys:reset
-- drops dbos and, by cascade, these views, and the next boot (or db:sys:reset itself) brings them back.
--
-- Rules for editing this file:
-- * applySystemSql splits it on a ';' at the end of a line outside a dollar-quoted function body, and
--   runs each piece on its own (no transaction, so CREATE INDEX CONCURRENTLY works). Never end a line
--   inside a statement with ';' unless it is inside a $body$ … $body$.
-- * CREATE OR REPLACE VIEW may only append columns. Every column below is cast to a fixed type so that
--   a DBOS column type change cannot alter a view's shape behind our back. To rename, retype, reorder
--   or remove a column, put `DROP VIEW IF EXISTS app.v_ops_…;` above that view's CREATE (grants on
--   the view are lost with it: re-grant them in this file) and update docs/architecture.md.
-- * A view pins the dbos columns it reads: a future DBOS migration that retypes or drops one of them
--   fails while these views exist. Drop the views before such an upgrade. They come back at boot.

CREATE SCHEMA IF NOT EXISTS app;

-- jsonb from text, or NULL when the text is not JSON. DBOS writes JSON, but a custom serializer may
-- not, and one unparsable row must not break a view (pg_input_is_valid needs Postgres 16).
CREATE OR REPLACE FUNCTION app.ops_try_jsonb(raw text)
  RETURNS jsonb
  LANGUAGE plpgsql
  IMMUTABLE STRICT PARALLEL SAFE
AS $body$
  BEGIN RETURN raw::jsonb; EXCEPTION WHEN data_exception THEN RETURN NULL; END
$body$;

-- Serves v_ops_failures_24h: failed workflows by recency, without scanning every ERROR row ever kept.
CREATE INDEX CONCURRENTLY IF NOT EXISTS durable_ops_wf_failed_updated_idx
  ON dbos.workflow_status (updated_at DESC)
  WHERE status IN ('ERROR', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED');

-- Serve v_ops_slow_steps: tiny partial indexes holding only the slow and the unfinished steps.
CREATE INDEX CONCURRENTLY IF NOT EXISTS durable_ops_oo_slow_idx
  ON dbos.operation_outputs (workflow_uuid, function_id)
  WHERE completed_at_epoch_ms - started_at_epoch_ms > 5000 AND function_name <> 'DBOS.sleep';

CREATE INDEX CONCURRENTLY IF NOT EXISTS durable_ops_oo_unfinished_idx
  ON dbos.operation_outputs (started_at_epoch_ms)
  WHERE completed_at_epoch_ms IS NULL AND function_name <> 'DBOS.sleep';

-- Workflows that failed in the last 24 hours (by their last status change), newest first.
-- error is the message DBOS kept in dbos.workflow_output.error (the workflow_status.error column is
-- legacy, read only as a fallback). DBOS serializes it as
--   js_superjson (the default): {"json": {"name": …, "message": …, "stack": …}, "__dbos_serializer": "superjson"}
--                               or {"json": "…"} when a string was thrown
--   portable_json:              {"name": …, "message": …, "code": …, "data": …}
-- and the raw text is shown when it is neither. MAX_RECOVERY_ATTEMPTS_EXCEEDED rows carry no error.
CREATE OR REPLACE VIEW app.v_ops_failures_24h AS
SELECT
  ws.workflow_uuid::text                 AS workflow_uuid,
  ws.status::text                        AS status,
  ws.name::text                          AS workflow_name,
  ws.class_name::text                    AS class_name,
  ws.application_version::text           AS application_version,
  to_timestamp(ws.created_at / 1000.0)   AS created_at,
  to_timestamp(ws.updated_at / 1000.0)   AS updated_at,
  COALESCE(
    CASE jsonb_typeof(parsed.error -> 'json')
      WHEN 'object' THEN parsed.error -> 'json' ->> 'message'
      WHEN 'string' THEN parsed.error ->> 'json'
    END,
    parsed.error ->> 'message',
    raw.error
  )::text                                AS error,
  ws.recovery_attempts::bigint           AS recovery_attempts
FROM dbos.workflow_status AS ws
LEFT JOIN dbos.workflow_output AS wo ON wo.workflow_uuid = ws.workflow_uuid
CROSS JOIN LATERAL (SELECT COALESCE(wo.error, ws.error) AS error) AS raw
CROSS JOIN LATERAL (SELECT app.ops_try_jsonb(raw.error) AS error) AS parsed
WHERE ws.status IN ('ERROR', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')
  AND ws.updated_at >= (EXTRACT(EPOCH FROM now()) * 1000)::bigint - 24 * 3600 * 1000
ORDER BY ws.updated_at DESC, ws.workflow_uuid;

-- Steps that took more than 5 s, or are still running after 5 s (duration measured to now), slowest first.
-- DBOS 5.3 writes a step's row when the step ends, so the unfinished branch stays empty today.
-- DBOS.sleep is left out: its row is written when the sleep starts, with the wake-up time as its
-- completion, so a durable delay would read as a slow step.
CREATE OR REPLACE VIEW app.v_ops_slow_steps AS
SELECT
  oo.workflow_uuid::text                 AS workflow_uuid,
  oo.function_id::integer                AS function_id,
  oo.function_name::text                 AS function_name,
  oo.started_at_epoch_ms::bigint         AS started_at_epoch_ms,
  oo.completed_at_epoch_ms::bigint       AS completed_at_epoch_ms,
  (oo.completed_at_epoch_ms - oo.started_at_epoch_ms)::bigint AS duration_ms,
  oo.error::text                         AS error
FROM dbos.operation_outputs AS oo
WHERE oo.completed_at_epoch_ms - oo.started_at_epoch_ms > 5000
  AND oo.function_name <> 'DBOS.sleep'
UNION ALL
SELECT
  oo.workflow_uuid::text,
  oo.function_id::integer,
  oo.function_name::text,
  oo.started_at_epoch_ms::bigint,
  NULL::bigint,
  ((EXTRACT(EPOCH FROM now()) * 1000)::bigint - oo.started_at_epoch_ms)::bigint,
  oo.error::text
FROM dbos.operation_outputs AS oo
WHERE oo.completed_at_epoch_ms IS NULL
  AND oo.function_name <> 'DBOS.sleep'
  AND (EXTRACT(EPOCH FROM now()) * 1000)::bigint - oo.started_at_epoch_ms > 5000
ORDER BY duration_ms DESC, workflow_uuid, function_id;

-- Work waiting or in flight, per queue and status. queue_name is NULL for workflows started directly
-- (not through a queue), and DBOS clears it when it cancels one.
CREATE OR REPLACE VIEW app.v_ops_queue_depth AS
SELECT
  ws.queue_name::text                       AS queue_name,
  ws.status::text                           AS status,
  count(*)::bigint                          AS workflow_count,
  to_timestamp(min(ws.created_at) / 1000.0) AS oldest_created_at,
  to_timestamp(max(ws.created_at) / 1000.0) AS newest_created_at
FROM dbos.workflow_status AS ws
WHERE ws.status IN ('ENQUEUED', 'PENDING', 'DELAYED')
GROUP BY ws.queue_name, ws.status
ORDER BY ws.queue_name NULLS LAST, ws.status;
