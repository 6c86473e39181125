import { Injectable } from '@nestjs/common';
import { CompiledQuery, type Selectable, sql, type Transaction } from 'kysely';
import { canonicalJson, sha256 } from '#common';
import type { Keyset } from '#contracts';
import { type DB, Database, type NextAction, type RunStatus, type RunsTable, type ArtifactsTable, type StepPhase } from '#db';
import { activeSpanIds, type StepSql } from '#dbos';

/** The columns of a run the API shows (all but created_by). */
const RUN_COLUMNS = [
  'id',
  'intent_id',
  'idempotency_key',
  'lineage_root',
  'queue_name',
  'status',
  'last_step',
  'next_action',
  'error',
  'forked_from',
  'trace_id',
  'created_at',
  'updated_at',
] as const;

/** A run as read back: its columns, and created_at as the text a page cursor carries. */
export type RunRow = Pick<Selectable<RunsTable>, (typeof RUN_COLUMNS)[number]> & { created_key: string };

const MARK_COLUMNS = ['step_id', 'attempt', 'phase', 'started_at', 'finished_at'] as const;

const ARTIFACT_COLUMNS = ['id', 'step_id', 'idx', 'kind', 'mime', 'sha256', 'inline', 'uri', 'created_at'] as const;

/** An artifact as the API shows it. */
export type ArtifactRow = Pick<Selectable<ArtifactsTable>, (typeof ARTIFACT_COLUMNS)[number]>;

export interface NewRun {
  id: string;
  intentId: string;
  idempotencyKey: string | null;
  lineageRoot: string;
  queue: string;
  forkedFrom?: string | null;
  /** The trace the run belongs to (the request's), when tracing is on. */
  traceId?: string | null;
  /** `waiting` for a run created with a delay (it waits DELAYED on the queue). Default: queued. */
  status?: 'queued' | 'waiting';
  /** The principal that started the run; a replay of the same idempotencyKey keeps the first. */
  createdBy?: string | null;
}

export interface ArtifactInput {
  readonly idx: number;
  readonly kind: string;
  readonly body: unknown;
}

export interface StepRecord {
  readonly runId: string;
  readonly stepId: string;
  readonly phase: StepPhase;
  readonly output: unknown;
  readonly startedAt: Date;
  readonly artifacts: readonly ArtifactInput[];
  /** The projection this step moves the run to; a canceled run is never moved by a step. */
  readonly projection?: { status: RunStatus; nextAction: NextAction; error?: unknown };
}

/** A fork's run row, written with the OPS audit row of the fork that creates it. */
export interface ForkedRun {
  readonly id: string;
  readonly forkedFrom: string;
  readonly intentId: string;
  readonly lineageRoot: string;
  readonly queue: string;
  /** The steps the fork reuses from the run it forks: each gets a `reused` mark. */
  readonly reusedSteps: readonly string[];
}

/** An OPS audit row: the control action's canonical JSON, keyed by its action ID. */
export interface OpsAuditRow {
  readonly runId: string;
  readonly actionId: string;
  readonly body: string;
  readonly at: string;
}

/** A projection the tick brings in line with DBOS: applied only if the run is still in `from`. */
export interface ProjectionFix {
  readonly runId: string;
  readonly from: RunStatus;
  readonly to: RunStatus;
  readonly nextAction: NextAction;
  readonly error?: { name: string; message: string };
}

/** A step replayed with a different artifact than the one it recorded: determinism is broken. */
export class ReplayMismatchError extends Error {
  override readonly name = 'ReplayMismatchError';
}

/** The created_key column's SQL: created_at as ISO text with microseconds (the keyset cursor's key). */
const CREATED_KEY_SQL = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const createdKeySql = sql.raw<string>(CREATED_KEY_SQL);
const createdKey = createdKeySql.as('created_key');

/**
 * POST /api/runs's statement (RunsRepository.start): the run row of an existing intent ($1), created
 * once per run ID ($2), or the row that ID already has. One constant text: it is on every run's path,
 * where building and compiling it per call showed in profiles.
 */
const RUN_COLUMN_LIST = RUN_COLUMNS.join(', ');
const START_RUN_SQL = `
  WITH intent AS (SELECT id FROM app.intents WHERE id = $1),
  inserted AS (
    INSERT INTO app.runs (id, intent_id, idempotency_key, lineage_root, queue_name, status, next_action, forked_from, trace_id, created_by)
    SELECT $2, intent.id, $3, $4, $5, $6, 'WAIT', $7, $8, $9
      FROM intent
    ON CONFLICT DO NOTHING
    RETURNING ${RUN_COLUMN_LIST}, ${CREATED_KEY_SQL} AS created_key, true AS created
  )
  SELECT * FROM inserted
  UNION ALL
  SELECT ${RUN_COLUMN_LIST}, ${CREATED_KEY_SQL} AS created_key, false AS created FROM app.runs
   WHERE id = $2 AND NOT EXISTS (SELECT 1 FROM inserted)`;

interface RecordStepParams {
  readonly runId: string;
  readonly stepId: string;
  readonly phase: StepPhase;
  readonly output: string | null;
  readonly startedAt: Date;
  readonly traceId: string | null;
  readonly spanId: string | null;
  /** JSON: [{idx, kind, inline, sha256}] */
  readonly artifacts: string;
  readonly status: RunStatus | null;
  readonly nextAction: NextAction | null;
  readonly error: string | null;
}

/**
 * The whole of a step's app writes in one statement. Nothing is written when an artifact of the
 * same key was already recorded with different content (the replay broke determinism): the
 * statement answers which ones, and which it saved or found identical. Its text is fixed (the
 * parameters are positional, in RecordStepParams' order): no query builder runs per step.
 */
const RECORD_STEP_SQL = `
    WITH art AS (
      SELECT * FROM jsonb_to_recordset($8::jsonb) AS x(idx integer, kind text, inline jsonb, sha256 text)
    ),
    recorded AS (
      SELECT a.idx, a.sha256 = art.sha256 AS same
        FROM app.artifacts AS a JOIN art ON art.idx = a.idx
       WHERE a.run_id = $1 AND a.step_id = $2 AND a.action_id IS NULL
    ),
    go AS (SELECT NOT EXISTS (SELECT 1 FROM recorded WHERE NOT same) AS ok),
    mark AS (
      INSERT INTO app.run_steps (run_id, step_id, attempt, phase, output, started_at, trace_id, span_id)
      SELECT $1, $2,
             coalesce((SELECT max(attempt) FROM app.run_steps
                        WHERE run_id = $1 AND step_id = $2 AND phase <> 'reused'), 0) + 1,
             $3, $4::jsonb, $5::timestamptz, $6, $7
        FROM go WHERE go.ok
      ON CONFLICT DO NOTHING
    ),
    saved AS (
      INSERT INTO app.artifacts (run_id, step_id, idx, kind, inline, sha256)
      SELECT $1, $2, art.idx, art.kind, art.inline, art.sha256
        FROM art, go WHERE go.ok
      ON CONFLICT ON CONSTRAINT artifacts_unique DO NOTHING
      RETURNING idx
    ),
    projection AS (
      UPDATE app.runs
         SET status = $9, next_action = $10, last_step = $2, error = $11::jsonb, updated_at = now()
        FROM go
       WHERE go.ok AND $9::text IS NOT NULL AND id = $1 AND status <> 'canceled'
    )
    SELECT coalesce((SELECT array_agg(idx) FROM recorded WHERE NOT same), '{}') AS mismatched,
           coalesce((SELECT array_agg(idx) FROM saved), '{}') AS saved,
           coalesce((SELECT array_agg(idx) FROM recorded WHERE same), '{}') AS matched`;

function recordStepSql(p: RecordStepParams): CompiledQuery<{ mismatched: number[]; saved: number[]; matched: number[] }> {
  return CompiledQuery.raw(RECORD_STEP_SQL, [
    p.runId,
    p.stepId,
    p.phase,
    p.output,
    // As ISO text: pg formats a Date parameter by hand, with its local offset (it showed in profiles).
    p.startedAt.toISOString(),
    p.traceId,
    p.spanId,
    p.artifacts,
    p.status,
    p.nextAction,
    p.error,
  ]);
}

/**
 * The run record: app.runs, its step marks (app.run_steps) and its artifacts (app.artifacts), OPS
 * audit rows included. Every write to those tables is here; the planes call it (the control plane
 * inside its own transaction, passed as `tx`).
 */
@Injectable()
export class RunsRepository {
  constructor(private readonly db: Database) {}

  /**
   * POST /api/runs in one statement: the run row of an existing intent, with its creator, created once per run ID.
   * Answers the row and whether this call created it, or undefined when the intent does not exist.
   */
  async start(run: NewRun): Promise<{ row: RunRow; created: boolean } | undefined> {
    const { rows } = await this.db.executeQuery<RunRow & { created: boolean }>(
      CompiledQuery.raw(START_RUN_SQL, [
        run.intentId,
        run.id,
        run.idempotencyKey,
        run.lineageRoot,
        run.queue,
        run.status ?? 'queued',
        run.forkedFrom ?? null,
        run.traceId ?? null,
        run.createdBy ?? null,
      ]),
    );
    const first = rows[0];
    if (first) {
      const { created, ...row } = first;
      return { row, created };
    }
    // Nothing in this statement's snapshot: the intent is unknown, or a concurrent request with the
    // same idempotencyKey inserted the row after the snapshot was taken (it is committed by now).
    const row = await this.find(run.id);
    return row ? { row, created: false } : undefined;
  }

  find(id: string): Promise<RunRow | undefined> {
    return this.db
      .selectFrom('app.runs')
      .select([...RUN_COLUMNS, createdKey])
      .where('id', '=', id)
      .executeTakeFirst();
  }

  list(filter: { status?: RunStatus | undefined; intentId?: string | undefined }, limit: number, after: Keyset | undefined): Promise<RunRow[]> {
    let query = this.db.selectFrom('app.runs').select([...RUN_COLUMNS, createdKey]);
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.intentId) query = query.where('intent_id', '=', filter.intentId);
    if (after) query = query.where(sql<boolean>`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id})`);
    return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }

  /** A run's step marks in the order they finished. */
  marks(runId: string) {
    return this.marksOf(runId).select(MARK_COLUMNS).execute();
  }

  /** The same with each mark's output (the ops CLI's triage). */
  marksWithOutput(runId: string) {
    return this.marksOf(runId)
      .select([...MARK_COLUMNS, 'output'])
      .execute();
  }

  private marksOf(runId: string) {
    return this.db.selectFrom('app.run_steps').where('run_id', '=', runId).orderBy('finished_at').orderBy('step_id').orderBy('attempt');
  }

  /** What the control plane shows of a run, and what a fork copies from it. */
  summary(id: string) {
    return this.db
      .selectFrom('app.runs')
      .select(['id', 'intent_id', 'status', 'next_action', 'last_step', 'forked_from', 'lineage_root', 'queue_name'])
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** A run's OPS audit rows, oldest first. */
  opsHistory(id: string) {
    return this.db
      .selectFrom('app.artifacts')
      .select(['action_id', 'inline', 'created_at'])
      .where('run_id', '=', id)
      .where('step_id', '=', 'OPS')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  artifacts(runId: string) {
    return this.db.selectFrom('app.artifacts').select(ARTIFACT_COLUMNS).where('run_id', '=', runId).where('step_id', '<>', 'OPS').orderBy('id').execute();
  }

  artifact(runId: string, artifactId: string) {
    return this.db
      .selectFrom('app.artifacts')
      .select(ARTIFACT_COLUMNS)
      .where('run_id', '=', runId)
      .where('id', '=', artifactId)
      .where('step_id', '<>', 'OPS')
      .executeTakeFirst();
  }

  /**
   * A step's app writes as one statement: its mark, its artifacts and the run projection (ExecuteST
   * settles each task's receipt on its own, as the task settles: ReceiptsRepository). On `sql` (the step's checkpoint transaction, when the app and system
   * schemas share a database) they commit with the checkpoint; on the pool they commit on their own.
   * Either way they are keyed, so a step that replays after a crash writes nothing twice, and an
   * artifact that replays with different content is a ReplayMismatchError that writes nothing.
   */
  async recordStep(record: StepRecord, onStep?: StepSql): Promise<void> {
    // Inside a DBOS step the active span is the step's: the mark names the span that wrote it.
    const span = activeSpanIds();
    const artifacts = record.artifacts.map((a) => {
      const body = canonicalJson(a.body);
      return { idx: a.idx, kind: a.kind, body, sha256: sha256(body) };
    });
    const projection = record.projection;
    const statement = recordStepSql({
      runId: record.runId,
      stepId: record.stepId,
      phase: record.phase,
      output: record.output === undefined ? null : JSON.stringify(record.output),
      startedAt: record.startedAt,
      traceId: span?.traceId ?? null,
      spanId: span?.spanId ?? null,
      // The canonical body is already JSON: spliced in as it is, not parsed and serialised again.
      artifacts: `[${artifacts.map((a) => `{"idx":${a.idx},"kind":${JSON.stringify(a.kind)},"inline":${a.body},"sha256":"${a.sha256}"}`).join(',')}]`,
      status: projection?.status ?? null,
      nextAction: projection?.nextAction ?? null,
      error: projection?.error === undefined ? null : JSON.stringify(projection.error),
    });
    const [result] = onStep ? await onStep.execute(statement) : (await this.db.executeQuery(statement)).rows;
    if (!result) throw new Error(`recording ${record.stepId} of ${record.runId} returned nothing`);
    const mismatched = result.mismatched.map(Number);
    if (mismatched.length > 0) throw this.mismatch(record, mismatched);
    // An artifact neither written nor found in the statement's snapshot was written meanwhile by a
    // concurrent execution of the same step: compare with what it wrote.
    const settled = new Set([...result.saved, ...result.matched].map(Number));
    const raced = artifacts.filter((a) => !settled.has(a.idx));
    if (raced.length === 0) return;
    // On the step's own connection when it has one: a fresh snapshot of the same transaction.
    const written = this.db
      .selectFrom('app.artifacts')
      .select(['idx', 'sha256'])
      .where('run_id', '=', record.runId)
      .where('step_id', '=', record.stepId)
      .where('action_id', 'is', null)
      .where(
        'idx',
        'in',
        raced.map((a) => a.idx),
      );
    const rows = onStep ? await onStep.execute(written.compile()) : await written.execute();
    const differing = raced.filter((a) => rows.find((r) => r.idx === a.idx)?.sha256 !== a.sha256).map((a) => a.idx);
    if (differing.length > 0) throw this.mismatch(record, differing);
  }

  private mismatch(record: StepRecord, indexes: readonly number[]): ReplayMismatchError {
    const kinds = indexes.map((idx) => `${idx} (${record.artifacts.find((a) => a.idx === idx)?.kind ?? '?'})`).join(', ');
    return new ReplayMismatchError(`${record.stepId} of ${record.runId} replayed artifact ${kinds} with different content`);
  }

  /**
   * The artifact a step recorded with its completed mark, if any. DBOS checkpoints a step in its own
   * transaction after the step's app transaction commits; a kill -9 between the two makes recovery
   * run the step again, and a step whose output depends on the clock must then return what it
   * recorded instead of deciding anew.
   */
  async recordedArtifact(runId: string, stepId: string, kind: string): Promise<unknown> {
    const row = await this.db
      .selectFrom('app.artifacts as a')
      .innerJoin('app.run_steps as m', (join) => join.onRef('m.run_id', '=', 'a.run_id').onRef('m.step_id', '=', 'a.step_id'))
      .select('a.inline')
      .where('a.run_id', '=', runId)
      .where('a.step_id', '=', stepId)
      .where('a.kind', '=', kind)
      .where('a.action_id', 'is', null)
      .where('m.phase', '=', 'completed')
      .executeTakeFirst();
    return row?.inline ?? undefined;
  }

  /** The trace a run executes in, for a run that has none yet (a fork). Idempotent: the first one stays. */
  async recordTraceId(runId: string, traceId: string): Promise<void> {
    await this.db.updateTable('app.runs').set({ trace_id: traceId }).where('id', '=', runId).where('trace_id', 'is', null).execute();
  }

  /** The run failed: kept error, REPAIR. Idempotent, so a recovered workflow may call it again. */
  async markFailed(runId: string, stepId: string | null, error: { name: string; message: string; step?: string }): Promise<void> {
    await this.db
      .updateTable('app.runs')
      .set({ status: 'failed', next_action: 'REPAIR', error: JSON.stringify(error), ...(stepId ? { last_step: stepId } : {}), updated_at: sql`now()` })
      .where('id', '=', runId)
      .where('status', 'in', ['queued', 'running', 'waiting', 'failed'])
      .execute();
  }

  /** The OPS audit row of a control action; a replay of the same action writes nothing. */
  async recordOpsAudit(tx: Transaction<DB>, audit: OpsAuditRow): Promise<void> {
    await tx
      .insertInto('app.artifacts')
      .values({
        run_id: audit.runId,
        step_id: 'OPS',
        idx: 0,
        kind: 'json_diagnostic',
        inline: audit.body,
        sha256: sha256(audit.body),
        action_id: audit.actionId,
        created_at: audit.at,
      })
      .onConflict((oc) => oc.constraint('artifacts_unique').doNothing())
      .execute();
  }

  /** A cancel's projection: canceled, RESUME, unless the run already finished. */
  async markCanceled(tx: Transaction<DB>, runId: string): Promise<void> {
    await tx
      .updateTable('app.runs')
      .set({ status: 'canceled', next_action: 'RESUME', updated_at: sql`now()` })
      .where('id', '=', runId)
      .where('status', 'not in', ['succeeded', 'failed'])
      .execute();
  }

  /** A resume's projection: a canceled run is queued again. */
  async markResumed(tx: Transaction<DB>, runId: string): Promise<void> {
    await tx
      .updateTable('app.runs')
      .set({ status: 'queued', next_action: 'WAIT', updated_at: sql`now()` })
      .where('id', '=', runId)
      .where('status', '=', 'canceled')
      .execute();
  }

  /** A fork's run row and the `reused` marks of the steps it reuses, created once. */
  async createFork(tx: Transaction<DB>, fork: ForkedRun): Promise<void> {
    await tx
      .insertInto('app.runs')
      .values({
        id: fork.id,
        intent_id: fork.intentId,
        idempotency_key: null,
        lineage_root: fork.lineageRoot,
        queue_name: fork.queue,
        status: 'queued',
        next_action: 'WAIT',
        forked_from: fork.forkedFrom,
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
    if (fork.reusedSteps.length > 0) {
      await tx
        .insertInto('app.run_steps')
        .values(fork.reusedSteps.map((step) => ({ run_id: fork.id, step_id: step, attempt: 0, phase: 'reused' as const, output: null })))
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  }

  /** Runs whose projection is not final, oldest first: the ones DBOS may have moved past. */
  unfinished(limit: number) {
    return this.db
      .selectFrom('app.runs')
      .select(['id', 'status'])
      .where('status', 'in', ['queued', 'running', 'waiting'])
      .orderBy('updated_at')
      .limit(limit)
      .execute();
  }

  /** Applies a fix only if the projection is still what the tick saw (no race with a step). */
  async reconcile(fix: ProjectionFix): Promise<boolean> {
    const result = await this.db
      .updateTable('app.runs')
      .set({
        status: fix.to,
        next_action: fix.nextAction,
        ...(fix.error ? { error: JSON.stringify(fix.error) } : {}),
        updated_at: sql`now()`,
      })
      .where('id', '=', fix.runId)
      .where('status', '=', fix.from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}
