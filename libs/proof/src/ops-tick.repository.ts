import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { Database, type NextAction, type RunStatus } from '#db';
import { SystemDatabase } from '#dbos';

export interface ProjectionFix {
  readonly runId: string;
  readonly from: RunStatus;
  readonly to: RunStatus;
  readonly nextAction: NextAction;
  readonly error?: { name: string; message: string };
}

/** The tick's queries: live projections (app DB) against DBOS's statuses (system DB). */
@Injectable()
export class OpsTickRepository {
  constructor(
    private readonly db: Database,
    private readonly system: SystemDatabase,
  ) {}

  /** Runs whose projection is not final, oldest first: the ones DBOS may have moved past. */
  liveRuns(limit: number) {
    return this.db
      .selectFrom('app.runs')
      .select(['id', 'status'])
      .where('status', 'in', ['queued', 'running', 'waiting'])
      .orderBy('updated_at')
      .limit(limit)
      .execute();
  }

  statuses(ids: readonly string[]) {
    if (ids.length === 0) return Promise.resolve([]);
    return this.system
      .selectFrom('dbos.workflow_status')
      .select(['workflow_uuid', 'status'])
      .where('workflow_uuid', 'in', [...ids])
      .execute();
  }

  /** Applies a fix only if the projection is still what the tick saw (no race with a step). */
  async apply(fix: ProjectionFix): Promise<boolean> {
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

  async observe() {
    const now = Date.now();
    const [depth, failures, oldest] = await Promise.all([
      this.system
        .selectFrom('dbos.workflow_status')
        .select(['queue_name', 'status', (eb) => eb.fn.countAll<string>().as('count')])
        .where('status', 'in', ['ENQUEUED', 'PENDING', 'DELAYED'])
        .groupBy(['queue_name', 'status'])
        .execute(),
      this.system
        .selectFrom('dbos.workflow_status')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('status', 'in', ['ERROR', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'])
        .where('updated_at', '>=', String(now - 86_400_000))
        .executeTakeFirstOrThrow(),
      this.system
        .selectFrom('dbos.workflow_status')
        .select((eb) => eb.fn.min('created_at').as('oldest'))
        .where('status', '=', 'ENQUEUED')
        .executeTakeFirst(),
    ]);
    return {
      queueDepth: depth.map((d) => ({ queue: d.queue_name, status: d.status, count: Number(d.count) })),
      enqueued: depth.filter((d) => d.status === 'ENQUEUED').reduce((n, d) => n + Number(d.count), 0),
      pending: depth.filter((d) => d.status === 'PENDING').reduce((n, d) => n + Number(d.count), 0),
      failures24h: Number(failures.count),
      oldestEnqueuedAgeMs: oldest?.oldest ? now - Number(oldest.oldest) : null,
    };
  }

  async recordSnapshot(
    snapshot: { tickId: string; scheduledFor: Date; reconciled: number } & Awaited<ReturnType<OpsTickRepository['observe']>>,
  ): Promise<void> {
    await this.db
      .insertInto('app.ops_snapshots')
      .values({
        tick_id: snapshot.tickId,
        scheduled_for: snapshot.scheduledFor,
        queue_depth: JSON.stringify(snapshot.queueDepth),
        enqueued: snapshot.enqueued,
        pending: snapshot.pending,
        failures_24h: snapshot.failures24h,
        oldest_enqueued_age_ms: snapshot.oldestEnqueuedAgeMs,
        reconciled: snapshot.reconciled,
      })
      .onConflict((oc) => oc.column('tick_id').doNothing())
      .execute();
  }
}
