import { Injectable } from '@nestjs/common';
import { canonicalJson } from '#common';
import type { OpsOp } from '#contracts';
import { Database } from '#db';
import { RunsRepository } from '#runs';

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
 * transaction (the rows are RunsRepository's). Keyed by action_id, so the step that runs it can
 * replay without a second row.
 */
@Injectable()
export class OpsAuditRepository {
  constructor(
    private readonly db: Database,
    private readonly runs: RunsRepository,
  ) {}

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
      await this.runs.recordOpsAudit(tx, { runId: action.targetWorkflowID, actionId: action.actionId, body, at: action.at });
      switch (action.op) {
        case 'cancel':
          await this.runs.markCanceled(tx, action.targetWorkflowID);
          break;
        case 'resume':
          await this.runs.markResumed(tx, action.targetWorkflowID);
          break;
        case 'fork': {
          const run = action.forkedRun;
          if (!run || !action.forkedWorkflowID) break;
          await this.runs.createFork(tx, { id: action.forkedWorkflowID, forkedFrom: action.targetWorkflowID, ...run });
          break;
        }
      }
    });
  }
}
