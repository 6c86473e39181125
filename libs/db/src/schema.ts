import type { ColumnType, Generated, JSONColumnType } from 'kysely';

/** The typed app schema (db/migrations); one file, kept in step with the SQL by db.int-spec.ts. */
export type RunStatus = 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'canceled';
export type NextAction = 'NONE' | 'WAIT' | 'RESUME' | 'REPAIR';
export type StepPhase = 'completed' | 'failed' | 'reused';
export type ReceiptStatus = 'pending' | 'succeeded' | 'failed';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<unknown, string, string>;

export interface IntentsTable {
  id: string;
  goal: string;
  payload: JSONColumnType<Record<string, unknown>, string, string>;
  intent_hash: string;
  created_at: Timestamp;
  /** The principal that stored it first (migration 0004). */
  created_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface RunsTable {
  id: string;
  intent_id: string;
  idempotency_key: string | null;
  lineage_root: string;
  queue_name: string;
  status: RunStatus;
  last_step: string | null;
  next_action: NextAction;
  error: ColumnType<unknown, string | null, string | null>;
  forked_from: string | null;
  trace_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** The principal whose POST /api/runs created it (migration 0004); NULL for forks. */
  created_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface RunStepsTable {
  run_id: string;
  step_id: string;
  attempt: number;
  phase: StepPhase;
  output: ColumnType<unknown, string | null, string | null>;
  trace_id: string | null;
  span_id: string | null;
  started_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  finished_at: Timestamp;
}

export interface ArtifactsTable {
  id: Generated<string>;
  run_id: string;
  step_id: string;
  idx: number;
  kind: string;
  mime: ColumnType<string, string | undefined, string>;
  inline: ColumnType<unknown, string | null, string | null>;
  uri: string | null;
  sha256: string;
  action_id: string | null;
  created_at: Timestamp;
}

export interface TaskReceiptsTable {
  task_key: string;
  run_id: string;
  lineage_root: string;
  task_index: number;
  connector: string;
  status: ReceiptStatus;
  attempts: ColumnType<number, number | undefined, number>;
  seen_count: ColumnType<number, number | undefined, number>;
  output: Json | null;
  error: Json | null;
  first_seen_at: Timestamp;
  updated_at: Timestamp;
}

/** One row per send of a task's effect: which run and which execution of it (0004_task_attempts). */
export interface TaskAttemptsTable {
  task_key: string;
  seq: number;
  run_id: string;
  attempt: number;
  execution_id: string;
  claimed_at: Timestamp;
  settled_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  outcome: 'succeeded' | 'failed' | null;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: Timestamp;
}

export interface OpsSnapshotsTable {
  tick_id: string;
  scheduled_for: Timestamp;
  taken_at: Timestamp;
  queue_depth: ColumnType<unknown, string, string>;
  enqueued: number;
  pending: number;
  failures_24h: number;
  oldest_enqueued_age_ms: ColumnType<string | null, number | null, number | null>;
  reconciled: number;
}

export interface DB {
  'app.intents': IntentsTable;
  'app.runs': RunsTable;
  'app.run_steps': RunStepsTable;
  'app.artifacts': ArtifactsTable;
  'app.task_receipts': TaskReceiptsTable;
  'app.task_attempts': TaskAttemptsTable;
  'app.settings': SettingsTable;
  'app.ops_snapshots': OpsSnapshotsTable;
}
