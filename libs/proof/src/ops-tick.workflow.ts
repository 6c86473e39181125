import { DBOS } from '@dbos-inc/dbos-sdk';
import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { backfillSchedule } from '@dbos-inc/dbos-sdk/internal/scheduler/scheduler';
import { Inject, Injectable } from '@nestjs/common';
import { DbosService, errorOf } from '#dbos';
import { type ProjectionFix, RunsRepository } from '#runs';
import { OpsTickRepository } from './ops-tick.repository.js';

export const OPS_TICK_SCHEDULE = Symbol('OPS_TICK_SCHEDULE');
export const OPS_TICK_NAME = 'ops-tick';
const RECONCILE_BATCH = 500;
/** How far back a tick looks for an earlier interval that never fired (CatchUpST). */
export const CATCH_UP_WINDOW_MS = 5 * 60_000;

/**
 * The scheduled tick: a database-backed DBOS schedule (every 30 s by default, missed ticks caught up
 * after downtime). Each firing has a deterministic workflow ID, so an interval is handled once.
 * ReconcileST brings run projections (RunsRepository) in line with DBOS (the truth); SnapshotST records what it saw;
 * CatchUpST fires an earlier interval that DBOS skipped at boot.
 */
@Injectable()
export class OpsTickWorkflow {
  readonly workflow: (scheduledDate: Date, context: unknown) => Promise<void>;

  constructor(
    private readonly repository: OpsTickRepository,
    private readonly runs: RunsRepository,
    dbos: DbosService,
    @Inject(OPS_TICK_SCHEDULE) schedule: string,
  ) {
    this.workflow = DBOS.registerWorkflow((scheduledDate: Date) => this.tick(scheduledDate), { name: 'OpsTickWorkflow' });
    dbos.afterLaunch(() =>
      DBOS.applySchedules([{ scheduleName: OPS_TICK_NAME, workflowFn: this.workflow, schedule, automaticBackfill: true, queueName: 'ops' }]),
    );
  }

  private async tick(scheduledDate: Date): Promise<void> {
    const tickId = DBOS.workflowID ?? `tick-${new Date(scheduledDate).toISOString()}`;
    const reconciled = await DBOS.runStep(() => this.reconcile(), { name: 'ReconcileST' });
    await DBOS.runStep(
      async () => this.repository.recordSnapshot({ tickId, scheduledFor: new Date(scheduledDate), reconciled, ...(await this.repository.observe()) }),
      {
        name: 'SnapshotST',
      },
    );
    // Last, so a tick recorded before this step existed replays its first two unchanged.
    await DBOS.runStep(() => this.catchUp(new Date(scheduledDate)), { name: 'CatchUpST' });
  }

  /**
   * Fires any interval between the latest recorded tick and this one that never fired. DBOS 5.3's
   * automatic backfill covers [last fired, boot), but its schedule loop then starts from the next
   * whole second and fires only later instants: an interval that falls in between is skipped. The
   * deterministic workflow ID (`sched-<name>-<instant>`, DBOS's own) makes firing one that exists a
   * no-op. Intervals older than CATCH_UP_WINDOW_MS are left to DBOS's backfill at boot.
   */
  private async catchUp(scheduledFor: Date): Promise<number> {
    const latest = await this.repository.latestSnapshotBefore(scheduledFor);
    const executor = DBOSExecutor.globalInstance;
    if (!latest || !executor) return 0;
    const from = new Date(Math.max(latest.getTime(), scheduledFor.getTime() - CATCH_UP_WINDOW_MS));
    return (await backfillSchedule(executor.systemDatabase, executor.serializer, OPS_TICK_NAME, from, scheduledFor)).length;
  }

  /** Moves projections DBOS has finished (a crash, a timeout, a cancel by deadline) to the final state. */
  private async reconcile(): Promise<number> {
    const runs = await this.runs.unfinished(RECONCILE_BATCH);
    const truth = new Map((await this.repository.statuses(runs.map((r) => r.id))).map((s) => [s.workflow_uuid, s.status]));
    let fixed = 0;
    for (const run of runs) {
      const status = truth.get(run.id);
      let fix: ProjectionFix | undefined;
      switch (status ?? 'UNKNOWN') {
        case 'SUCCESS':
          fix = { runId: run.id, from: run.status, to: 'succeeded', nextAction: 'NONE' };
          break;
        case 'ERROR':
        case 'MAX_RECOVERY_ATTEMPTS_EXCEEDED':
          fix = {
            runId: run.id,
            from: run.status,
            to: 'failed',
            nextAction: 'REPAIR',
            error: errorOf((await DBOS.getWorkflowStatus(run.id))?.error, 'the workflow failed'),
          };
          break;
        case 'CANCELLED':
          fix = { runId: run.id, from: run.status, to: 'canceled', nextAction: 'RESUME' };
          break;
        default:
          break;
      }
      if (fix && (await this.runs.reconcile(fix))) fixed++;
    }
    return fixed;
  }
}
