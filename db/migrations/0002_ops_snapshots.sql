-- What each scheduled tick observed. tick_id is the tick's deterministic DBOS workflow ID
-- (sched-ops-tick-<scheduled time>), so one interval can never record two snapshots.

CREATE TABLE app.ops_snapshots (
  tick_id                text PRIMARY KEY,
  scheduled_for          timestamptz NOT NULL,
  taken_at               timestamptz NOT NULL DEFAULT now(),
  queue_depth            jsonb NOT NULL,
  enqueued               integer NOT NULL,
  pending                integer NOT NULL,
  failures_24h           integer NOT NULL,
  oldest_enqueued_age_ms bigint,
  reconciled             integer NOT NULL
);

CREATE INDEX ops_snapshots_scheduled_idx ON app.ops_snapshots (scheduled_for DESC);
