import { DBOS } from '@dbos-inc/dbos-sdk';
import { Injectable } from '@nestjs/common';
import { serviceMetrics } from '#dbos';
import { OpsAuditRepository, type OpsAction } from './ops-audit.repository.js';

export const OPS_ACTION_WORKFLOW_NAME = 'OpsActionWorkflow';

/** A unique violation on dbos.workflow_status for this ID: the workflow exists already. */
function isExistingWorkflow(error: unknown, workflowId: string): boolean {
  const fields = (error ?? {}) as { code?: unknown; detail?: unknown; json?: { code?: unknown; detail?: unknown } };
  const code = fields.code ?? fields.json?.code;
  const detail = fields.detail ?? fields.json?.detail;
  return code === '23505' && typeof detail === 'string' && detail.includes(`(workflow_uuid)=(${workflowId})`);
}

/**
 * A control action as a small durable workflow keyed by its action ID: AuditST (the OPS row and
 * its projection change, one transaction), then the DBOS management call, which DBOS checkpoints
 * as a step. Fail-closed: no audit row, no effect. A crash between the two is finished by recovery,
 * so there is never an OPS row without its effect, nor an effect without its OPS row.
 */
@Injectable()
export class OpsActionWorkflow {
  readonly workflow: (action: OpsAction) => Promise<string>;

  constructor(private readonly audit: OpsAuditRepository) {
    this.workflow = DBOS.registerWorkflow((action: OpsAction) => this.perform(action), { name: OPS_ACTION_WORKFLOW_NAME });
  }

  static workflowId(actionId: string): string {
    return `ops_${actionId}`;
  }

  private async perform(action: OpsAction): Promise<string> {
    await DBOS.runStep(() => this.audit.record(action), { name: 'AuditST' });
    switch (action.op) {
      case 'cancel':
        await DBOS.cancelWorkflow(action.targetWorkflowID);
        serviceMetrics()?.runCancelled();
        return action.targetWorkflowID;
      case 'resume':
        await DBOS.resumeWorkflow(action.targetWorkflowID, action.queueName ? { queueName: action.queueName } : undefined);
        return action.targetWorkflowID;
      case 'fork': {
        if (action.stepN === undefined || action.forkedWorkflowID === undefined) throw new Error('fork needs stepN and forkedWorkflowID');
        try {
          const handle = await DBOS.forkWorkflow(action.targetWorkflowID, action.stepN - 1, {
            newWorkflowID: action.forkedWorkflowID,
            ...(action.appVersion !== undefined ? { applicationVersion: action.appVersion } : {}),
            ...(action.queueName !== undefined ? { queueName: action.queueName } : {}),
          });
          return handle.workflowID;
        } catch (error) {
          // A crash after DBOS created the fork but before it checkpointed the call: recovery runs the
          // call again and the fork's ID already exists. The effect happened; the action is done.
          if (isExistingWorkflow(error, action.forkedWorkflowID)) return action.forkedWorkflowID;
          throw error;
        }
      }
    }
  }
}
