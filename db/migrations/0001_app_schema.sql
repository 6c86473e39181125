-- The app schema: intents, their runs (projections of DBOS workflows), local step marks,
-- artifacts (step outputs and OPS audit rows), task receipts and operator settings.

CREATE SCHEMA IF NOT EXISTS app;

CREATE TABLE app.intents (
  id          text PRIMARY KEY,
  goal        text NOT NULL,
  payload     jsonb NOT NULL,
  intent_hash text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX intents_created_idx ON app.intents (created_at DESC, id DESC);

CREATE TABLE app.runs (
  id              text PRIMARY KEY,
  intent_id       text NOT NULL REFERENCES app.intents (id),
  idempotency_key text UNIQUE,
  lineage_root    text NOT NULL,
  queue_name      text NOT NULL,
  status          text NOT NULL
    CHECK (status IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'canceled')),
  last_step       text,
  next_action     text NOT NULL CHECK (next_action IN ('NONE', 'WAIT', 'RESUME', 'REPAIR')),
  error           jsonb,
  forked_from     text,
  trace_id        text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX runs_created_idx ON app.runs (created_at DESC, id DESC);
CREATE INDEX runs_status_created_idx ON app.runs (status, created_at DESC, id DESC);
CREATE INDEX runs_intent_idx ON app.runs (intent_id);
CREATE INDEX runs_forked_from_idx ON app.runs (forked_from) WHERE forked_from IS NOT NULL;

-- One mark per (run, step, attempt). phase: completed | failed | reused (copied by a fork).
CREATE TABLE app.run_steps (
  run_id      text NOT NULL REFERENCES app.runs (id),
  step_id     text NOT NULL,
  attempt     integer NOT NULL CHECK (attempt >= 0),
  phase       text NOT NULL CHECK (phase IN ('completed', 'failed', 'reused')),
  output      jsonb,
  trace_id    text,
  span_id     text,
  started_at  timestamptz,
  finished_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, step_id, attempt)
);

-- Step artifacts have action_id NULL and are unique per (run, step, idx).
-- OPS audit rows (step_id = 'OPS') carry a unique action_id, so two actions are two rows.
-- run_id has no foreign key: OPS rows may target any workflow.
CREATE TABLE app.artifacts (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id     text NOT NULL,
  step_id    text NOT NULL,
  idx        integer NOT NULL CHECK (idx >= 0),
  kind       text NOT NULL,
  mime       text NOT NULL DEFAULT 'application/json',
  inline     jsonb,
  uri        text,
  sha256     text NOT NULL,
  action_id  text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT artifacts_unique UNIQUE NULLS NOT DISTINCT (run_id, step_id, idx, action_id),
  CONSTRAINT artifacts_ops_have_action CHECK ((step_id = 'OPS') = (action_id IS NOT NULL))
);

CREATE INDEX artifacts_ops_idx ON app.artifacts (run_id, created_at) WHERE step_id = 'OPS';

-- One row per external task effect, keyed by the lineage root of the run, so forks replay it.
CREATE TABLE app.task_receipts (
  task_key      text PRIMARY KEY,
  run_id        text NOT NULL,
  lineage_root  text NOT NULL,
  task_index    integer NOT NULL,
  connector     text NOT NULL,
  status        text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts      integer NOT NULL DEFAULT 0,
  seen_count    integer NOT NULL DEFAULT 1,
  output        jsonb,
  error         jsonb,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX task_receipts_run_idx ON app.task_receipts (run_id);

CREATE TABLE app.settings (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
