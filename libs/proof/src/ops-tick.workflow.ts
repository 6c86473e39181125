import { DBOS } from '@dbos-inc/dbos-sdk';
import { Inject, Injectable } from '@nestjs/common';
import { DbosService, errorOf } from '#dbos';
import { type ProjectionFix, RunsRepository } from '#runs';
import { OpsTickRepository } from './ops-tick.repository.js';

export const OPS_TICK_SCHEDULE = Symbol('OPS_TICK_SCHEDULE');
export const OPS_TICK_NAME = 'ops-tick';
const RECONCILE_BATCH = 500;

/**
 * The scheduled tick: a database-backed DBOS schedule (every 30 s by default, missed ticks caught up
 * after downtime). Each firing has a deterministic workflow ID, so an interval is handled once.
 * ReconcileST brings run projections (RunsRepository) in line with DBOS (the truth); SnapshotST records what it saw.
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
