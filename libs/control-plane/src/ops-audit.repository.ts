import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { canonicalJson, sha256 } from '#common';
import type { OpsOp } from '#contracts';
import { Database } from '#db';

/** What an OPS audit row says: who did what to which workflow, why and when. */
export interface OpsAction {
  readonly actionId: string;
  readonly op: OpsOp;
  readonly targetWorkflowID: string;
  readonly actor: string;
  readonly reason: string;
  readonly principal: string;
  readonly at: string;
  readonly stepN?: number;
  readonly appVersion?: string;
  readonly forkedWorkflowID?: string;
  readonly queueName?: string;
  /** For a fork of an IntentWorkflow: the run row the fork gets, and the steps it reuses. */
  readonly forkedRun?: { intentId: string; lineageRoot: string; queue: string; reusedSteps: readonly string[] };
}

/**
 * The audit write of a control action, with the projection changes that belong to it, in one
 * transaction. Keyed by action_id, so the step that runs it can replay without a second row.
 */
@Injectable()
export class OpsAuditRepository {
  constructor(private readonly db: Database) {}

  async record(action: OpsAction): Promise<void> {
    const payload = {
      op: action.op,
      actor: action.actor,
      reason: action.reason,
      targetWorkflowID: action.targetWorkflowID,
      at: action.at,
      principal: action.principal,
      actionId: action.actionId,
      ...(action.forkedWorkflowID !== undefined ? { forkedWorkflowID: action.forkedWorkflowID } : {}),
      ...(action.stepN !== undefined ? { stepN: action.stepN } : {}),
      ...(action.appVersion !== undefined ? { appVersion: action.appVersion } : {}),
    };
    const body = canonicalJson(payload);
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('app.artifacts')
        .values({
          run_id: action.targetWorkflowID,
          step_id: 'OPS',
          idx: 0,
          kind: 'json_diagnostic',
          inline: body,
          sha256: sha256(body),
          action_id: action.actionId,
          created_at: action.at,
        })
        .onConflict((oc) => oc.constraint('artifacts_unique').doNothing())
        .execute();

      switch (action.op) {
        case 'cancel':
          await tx
            .updateTable('app.runs')
            .set({ status: 'canceled', next_action: 'RESUME', updated_at: sql`now()` })
            .where('id', '=', action.targetWorkflowID)
            .where('status', 'not in', ['succeeded', 'failed'])
            .execute();
          break;
        case 'resume':
          await tx
            .updateTable('app.runs')
            .set({ status: 'queued', next_action: 'WAIT', updated_at: sql`now()` })
            .where('id', '=', action.targetWorkflowID)
            .where('status', '=', 'canceled')
            .execute();
          break;
        case 'fork': {
          const run = action.forkedRun;
          if (!run || !action.forkedWorkflowID) break;
          await tx
            .insertInto('app.runs')
            .values({
              id: action.forkedWorkflowID,
              intent_id: run.intentId,
              idempotency_key: null,
              lineage_root: run.lineageRoot,
              queue_name: run.queue,
              status: 'queued',
              next_action: 'WAIT',
              forked_from: action.targetWorkflowID,
            })
            .onConflict((oc) => oc.doNothing())
            .execute();
          if (run.reusedSteps.length > 0) {
            await tx
              .insertInto('app.run_steps')
              .values(run.reusedSteps.map((step) => ({ run_id: action.forkedWorkflowID!, step_id: step, attempt: 0, phase: 'reused' as const, output: null })))
              .onConflict((oc) => oc.doNothing())
              .execute();
          }
          break;
        }
      }
    });
  }
}
