import { Injectable } from '@nestjs/common';
import { Database } from '#db';
import { SystemDatabase } from '#dbos';

/** The tick's own queries: DBOS's statuses and counts (system DB), and its snapshots (app.ops_snapshots). */
@Injectable()
export class OpsTickRepository {
  constructor(
    private readonly db: Database,
    private readonly system: SystemDatabase,
  ) {}

  statuses(ids: readonly string[]) {
    if (ids.length === 0) return Promise.resolve([]);
    return this.system
      .selectFrom('dbos.workflow_status')
      .select(['workflow_uuid', 'status'])
      .where('workflow_uuid', 'in', [...ids])
      .execute();
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

  /** When the latest tick scheduled before `before` ran (its snapshot's scheduled time), if any. */
  async latestSnapshotBefore(before: Date): Promise<Date | undefined> {
    const row = await this.db
      .selectFrom('app.ops_snapshots')
      .select((eb) => eb.fn.max('scheduled_for').as('latest'))
      .where('scheduled_for', '<', before)
      .executeTakeFirst();
    return row?.latest ? new Date(row.latest) : undefined;
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
