import { Injectable } from '@nestjs/common';
import { sql, type Transaction } from 'kysely';
import { canonicalJson, sha256 } from '#common';
import type { Keyset } from '#contracts';
import { Database, type DB, type NextAction, type RunStatus, type StepPhase } from '#db';
import { activeSpanIds } from '#dbos';

export interface RunRow {
  id: string;
  intent_id: string;
  idempotency_key: string | null;
  lineage_root: string;
  queue_name: string;
  status: RunStatus;
  last_step: string | null;
  next_action: NextAction;
  error: unknown;
  forked_from: string | null;
  trace_id: string | null;
  created_at: Date;
  updated_at: Date;
  created_key: string;
}

export interface NewRun {
  id: string;
  intentId: string;
  idempotencyKey: string | null;
  lineageRoot: string;
  queue: string;
  forkedFrom?: string | null;
  /** The trace the run belongs to (the request's), when tracing is on. */
  traceId?: string | null;
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

/** A step replayed with a different artifact than the one it recorded: determinism is broken. */
export class ReplayMismatchError extends Error {
  override readonly name = 'ReplayMismatchError';
}

const createdKey = sql<string>`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('created_key');
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

@Injectable()
export class RunsRepository {
  constructor(private readonly db: Database) {}

  /** True when this call created the run row. */
  async insert(run: NewRun): Promise<boolean> {
    const inserted = await this.db
      .insertInto('app.runs')
      .values({
        id: run.id,
        intent_id: run.intentId,
        idempotency_key: run.idempotencyKey,
        lineage_root: run.lineageRoot,
        queue_name: run.queue,
        status: 'queued',
        next_action: 'WAIT',
        forked_from: run.forkedFrom ?? null,
        trace_id: run.traceId ?? null,
      })
      .onConflict((oc) => oc.doNothing())
      .returning('id')
      .executeTakeFirst();
    return inserted !== undefined;
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

  marks(runId: string) {
    return this.db
      .selectFrom('app.run_steps')
      .select(['step_id', 'attempt', 'phase', 'started_at', 'finished_at'])
      .where('run_id', '=', runId)
      .orderBy('finished_at')
      .orderBy('step_id')
      .orderBy('attempt')
      .execute();
  }

  artifacts(runId: string) {
    return this.db
      .selectFrom('app.artifacts')
      .select(['id', 'step_id', 'idx', 'kind', 'mime', 'sha256', 'inline', 'uri', 'created_at'])
      .where('run_id', '=', runId)
      .where('step_id', '<>', 'OPS')
      .orderBy('id')
      .execute();
  }

  artifact(runId: string, artifactId: string) {
    return this.db
      .selectFrom('app.artifacts')
      .select(['id', 'step_id', 'idx', 'kind', 'mime', 'sha256', 'inline', 'uri', 'created_at'])
      .where('run_id', '=', runId)
      .where('id', '=', artifactId)
      .where('step_id', '<>', 'OPS')
      .executeTakeFirst();
  }

  /**
   * A step's app writes in one transaction: its mark, its artifacts and the run projection. Marks
   * and artifacts are keyed, so a step that replays after a crash writes nothing twice; an artifact
   * that replays with different content is a ReplayMismatchError.
   */
  async recordStep(record: StepRecord): Promise<void> {
    // Inside a DBOS step the active span is the step's: the mark names the span that wrote it.
    const span = activeSpanIds();
    await this.db.transaction().execute(async (tx) => {
      // The attempt number is counted from the marks themselves (durable), not from DBOS's in-memory
      // retry counter, which restarts at 1 after a crash and would collide with an earlier failed mark.
      const previous = await tx
        .selectFrom('app.run_steps')
        .select((eb) => eb.fn.max('attempt').as('last'))
        .where('run_id', '=', record.runId)
        .where('step_id', '=', record.stepId)
        .where('phase', '<>', 'reused')
        .executeTakeFirst();
      await tx
        .insertInto('app.run_steps')
        .values({
          run_id: record.runId,
          step_id: record.stepId,
          attempt: (previous?.last ?? 0) + 1,
          phase: record.phase,
          output: record.output === undefined ? null : JSON.stringify(record.output),
          started_at: record.startedAt,
          trace_id: span?.traceId ?? null,
          span_id: span?.spanId ?? null,
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
      for (const artifact of record.artifacts) await this.insertArtifact(tx, record.runId, record.stepId, artifact);
      if (record.projection) {
        await tx
          .updateTable('app.runs')
          .set({
            status: record.projection.status,
            next_action: record.projection.nextAction,
            last_step: record.stepId,
            error: record.projection.error === undefined ? null : JSON.stringify(record.projection.error),
            updated_at: sql`now()`,
          })
          .where('id', '=', record.runId)
          .where('status', '<>', 'canceled')
          .execute();
      }
    });
  }

  private async insertArtifact(tx: Transaction<DB>, runId: string, stepId: string, artifact: ArtifactInput): Promise<void> {
    const body = canonicalJson(artifact.body);
    const digest = sha256(body);
    const inserted = await tx
      .insertInto('app.artifacts')
      .values({ run_id: runId, step_id: stepId, idx: artifact.idx, kind: artifact.kind, inline: body, sha256: digest })
      .onConflict((oc) => oc.constraint('artifacts_unique').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) return;
    const existing = await tx
      .selectFrom('app.artifacts')
      .select('sha256')
      .where('run_id', '=', runId)
      .where('step_id', '=', stepId)
      .where('idx', '=', artifact.idx)
      .where('action_id', 'is', null)
      .executeTakeFirstOrThrow();
    if (existing.sha256 !== digest)
      throw new ReplayMismatchError(`${stepId} of ${runId} replayed artifact ${artifact.idx} (${artifact.kind}) with different content`);
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
}
