-- Executor liveness: which processes are alive, which are gone, and the runs each holds. Re-applied at
-- every boot (idempotent), in the database where dbos.* lives. Same editing rules as 0002_ops_views.sql.
--
-- Every process that launches DBOS holds, for its whole life, a session-level advisory lock keyed by its
-- executor ID (libs/dbos/src/executor-liveness.ts), on a connection of its own. A granted lock means a
-- live process: Postgres releases it the moment that connection's backend ends (the process died, or
-- lost its connection). A sweep takes over the PENDING workflows of an executor whose lock it can take.

-- The advisory lock key of an executor ID: the first 64 bits of its md5. The service takes its lock with
-- the same expression (libs/dbos/src/executor-liveness.ts).
CREATE OR REPLACE FUNCTION app.ops_executor_lock_key(executor_id text)
  RETURNS bigint
  LANGUAGE sql
  IMMUTABLE STRICT PARALLEL SAFE
AS $body$ SELECT ('x' || substr(md5(executor_id), 1, 16))::bit(64)::bigint $body$;

-- Keys of the executor locks granted right now in this database (a bigint key shows in pg_locks as
-- classid = high 32 bits, objid = low 32 bits, objsubid = 1).
CREATE OR REPLACE FUNCTION app.ops_executor_alive(executor_id text)
  RETURNS boolean
  LANGUAGE sql
  STABLE STRICT
AS $body$
  SELECT EXISTS (
    SELECT 1 FROM pg_locks AS l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT d.oid FROM pg_database AS d WHERE d.datname = current_database())
      AND ((l.classid::bigint << 32) | l.objid::bigint) = app.ops_executor_lock_key(executor_id)
  )
$body$;

-- One row per executor ID that ever launched here: registered at boot, last_seen_at refreshed by every
-- sweep that finds its lock held (and at a clean shutdown), taken_over_* written by the sweep that took
-- over its runs after it was gone.
CREATE TABLE IF NOT EXISTS app.ops_executors (
  executor_id     text PRIMARY KEY,
  role            text NOT NULL,
  host            text NOT NULL,
  pid             integer NOT NULL,
  app_version     text NOT NULL,
  started_at      timestamptz NOT NULL,
  last_seen_at    timestamptz NOT NULL,
  taken_over_at   timestamptz,
  taken_over_by   text,
  taken_over_workflows integer
);

-- Every executor that is registered or holds PENDING workflows: alive (its lock is held now), when it
-- was last seen alive (now, if alive), and what it holds. runs_held counts IntentWorkflow runs;
-- workflows_held every PENDING workflow (control actions and the tick included). An executor that never
-- registered (a process older than the liveness lock) has role NULL and last_seen NULL.
CREATE OR REPLACE VIEW app.v_ops_executors AS
WITH held AS (
  SELECT
    ws.executor_id,
    count(*) FILTER (WHERE ws.name = 'IntentWorkflow') AS runs_held,
    count(*)                                          AS workflows_held
  FROM dbos.workflow_status AS ws
  WHERE ws.status = 'PENDING' AND ws.executor_id IS NOT NULL
  GROUP BY ws.executor_id
),
known AS (
  SELECT e.executor_id FROM app.ops_executors AS e
  UNION
  SELECT h.executor_id FROM held AS h
)
SELECT
  k.executor_id::text                            AS executor,
  e.role::text                                   AS role,
  app.ops_executor_alive(k.executor_id)::boolean AS alive,
  (CASE WHEN app.ops_executor_alive(k.executor_id) THEN now() ELSE e.last_seen_at END)::timestamptz AS last_seen,
  COALESCE(h.runs_held, 0)::bigint               AS runs_held,
  COALESCE(h.workflows_held, 0)::bigint          AS workflows_held,
  e.host::text                                   AS host,
  e.pid::integer                                 AS pid,
  e.started_at::timestamptz                      AS started_at,
  e.taken_over_at::timestamptz                   AS taken_over_at,
  e.taken_over_by::text                          AS taken_over_by
FROM known AS k
LEFT JOIN app.ops_executors AS e ON e.executor_id = k.executor_id
LEFT JOIN held AS h ON h.executor_id = k.executor_id
ORDER BY alive DESC, k.executor_id;
