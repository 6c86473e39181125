import { DBOS } from '@dbos-inc/dbos-sdk';
import { Injectable } from '@nestjs/common';
import { Conflict, NotFound, newActionId, newRunId, shownId } from '#common';
import {
  type ActionAccepted,
  decodeKeyset,
  describeStep,
  encodeKeyset,
  type ForkAccepted,
  type ListWorkflowsQuery,
  type OpsAuditEntry,
  WORKFLOW_ID,
  type WorkflowDetail,
  type WorkflowPage,
  type WorkflowSteps,
  type WorkflowSummary,
} from '#contracts';
import { isQueueName } from '#dbos';
import { RunsRepository } from '#runs';
import { OpsActionWorkflow } from './ops-action.workflow.js';
import type { OpsAction } from './ops-audit.repository.js';
import type { OpsPrincipal } from './ops-auth.js';
import { OpsRepository } from './ops.repository.js';
import { type ActionVerdict, decideAction } from './state-rules.js';

export interface ActionInput {
  readonly actor: string;
  readonly reason: string;
}

const EPOCH_MS = /^\d{1,16}$/;

type WorkflowRow = NonNullable<Awaited<ReturnType<OpsRepository['workflow']>>>;

function toSummary(row: Omit<WorkflowRow, 'completed_at'>): WorkflowSummary {
  return {
    workflowID: row.workflow_uuid,
    status: row.status,
    name: row.name,
    queue: row.queue_name,
    appVersion: row.application_version,
    executorId: row.executor_id,
    createdAt: new Date(Number(row.created_at)).toISOString(),
    updatedAt: new Date(Number(row.updated_at)).toISOString(),
    recoveryAttempts: Number(row.recovery_attempts ?? 0),
    forkedFrom: row.forked_from,
  };
}

/** DBOS keeps the error of an ERROR workflow (in dbos.workflow_output); operators want its message. */
function errorMessage(error: unknown): string | null {
  if (error === undefined || error === null) return null;
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') return (error as { message: string }).message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/**
 * The control plane's logic, shared by the HTTP routes and the ops CLI: the same state rules,
 * the same OPS audit rows. A rejected request (404/409) changes nothing.
 */
@Injectable()
export class OpsService {
  constructor(
    private readonly repository: OpsRepository,
    private readonly runs: RunsRepository,
    private readonly actions: OpsActionWorkflow,
  ) {}

  async list(query: ListWorkflowsQuery): Promise<WorkflowPage> {
    const limit = query.limit ?? 50;
    const after = query.cursor ? decodeKeyset(query.cursor, [EPOCH_MS, WORKFLOW_ID]) : undefined;
    const rows = await this.repository.listWorkflows(
      {
        statuses: query.status,
        name: query.name,
        queue: query.queue,
        createdAfterMs: query.createdAfter ? Date.parse(query.createdAfter) : undefined,
        createdBeforeMs: query.createdBefore ? Date.parse(query.createdBefore) : undefined,
      },
      limit + 1,
      after ? { createdAtMs: after[0]!, id: after[1]! } : undefined,
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(toSummary), nextCursor: rows.length > limit && last ? encodeKeyset([String(last.created_at), last.workflow_uuid]) : null };
  }

  async get(id: string): Promise<WorkflowDetail> {
    const row = await this.mustFind(id);
    const [run, history, status] = await Promise.all([this.runs.summary(id), this.runs.opsHistory(id), DBOS.getWorkflowStatus(id)]);
    return {
      ...toSummary(row),
      completedAt: row.completed_at !== null ? new Date(Number(row.completed_at)).toISOString() : null,
      error: errorMessage(status?.error),
      run: run
        ? { runId: run.id, intentId: run.intent_id, status: run.status, nextAction: run.next_action, lastStep: run.last_step, forkedFrom: run.forked_from }
        : null,
      ops: history.map((h) => ({ ...(h.inline as OpsAuditEntry), actionId: h.action_id ?? '' })),
    };
  }

  async steps(id: string): Promise<WorkflowSteps> {
    await this.mustFind(id);
    return { workflowID: id, steps: ((await DBOS.listWorkflowSteps(id)) ?? []).map(describeStep) };
  }

  async cancel(id: string, input: ActionInput, who: OpsPrincipal): Promise<ActionAccepted> {
    const row = await this.mustFind(id);
    this.check(decideAction('cancel', { id, status: row.status, name: row.name, lastStepN: 1 }));
    const action = this.action('cancel', id, input, who);
    await this.perform(action);
    return { accepted: true, workflowID: id, op: 'cancel', actionId: action.actionId };
  }

  async resume(id: string, input: ActionInput, who: OpsPrincipal): Promise<ActionAccepted> {
    const row = await this.mustFind(id);
    this.check(decideAction('resume', { id, status: row.status, name: row.name, lastStepN: 1 }));
    // A run goes back on its own queue. DBOS's cancel clears the workflow's queue name, and resumed
    // without one it lands on DBOS's internal queue, which every process dispatches (an api process
    // too) outside the intents queue's limits.
    const run = await this.runs.summary(id);
    const queue = run?.queue_name ?? (row.queue_name && isQueueName(row.queue_name) ? row.queue_name : undefined);
    const action = { ...this.action('resume', id, input, who), ...(queue ? { queueName: queue } : {}) };
    await this.perform(action);
    return { accepted: true, workflowID: id, op: 'resume', actionId: action.actionId };
  }

  async fork(id: string, input: ActionInput & { stepN: number; appVersion?: string | undefined }, who: OpsPrincipal): Promise<ForkAccepted> {
    const row = await this.mustFind(id);
    // DBOS 5.3 does not check startStep; the rules do, before it is called. A finished workflow is
    // checked first, so an unfinished one is a conflict without reading its steps.
    this.check(decideAction('fork', { id, status: row.status, name: row.name, lastStepN: Number.MAX_SAFE_INTEGER }, { stepN: 1 }));
    const lastStepN = ((await this.repository.lastFunctionId(id)) ?? 0) + 1;
    const versions = input.appVersion !== undefined ? (await DBOS.listApplicationVersions()).map((v) => v.versionName) : [];
    this.check(decideAction('fork', { id, status: row.status, name: row.name, lastStepN }, { stepN: input.stepN, appVersion: input.appVersion }, versions));
    const run = await this.runs.summary(id);
    const forkedWorkflowID = run ? newRunId() : `fork_${newActionId().slice(4)}`;
    const reused = run ? await this.repository.stepNamesBefore(id, input.stepN - 1) : [];
    const queue = run?.queue_name ?? (row.queue_name && isQueueName(row.queue_name) ? row.queue_name : undefined);
    const action: OpsAction = {
      ...this.action('fork', id, input, who),
      stepN: input.stepN,
      forkedWorkflowID,
      ...(input.appVersion !== undefined ? { appVersion: input.appVersion } : {}),
      ...(queue ? { queueName: queue } : {}),
      ...(run
        ? { forkedRun: { intentId: run.intent_id, lineageRoot: run.lineage_root, queue: run.queue_name, reusedSteps: reused.map((s) => s.function_name) } }
        : {}),
    };
    await this.perform(action);
    return { accepted: true, workflowID: id, op: 'fork', actionId: action.actionId, forkedWorkflowID, stepN: input.stepN };
  }

  private action(op: OpsAction['op'], id: string, input: ActionInput, who: OpsPrincipal): OpsAction {
    return {
      actionId: newActionId(),
      op,
      targetWorkflowID: id,
      actor: input.actor,
      reason: input.reason,
      principal: who.principal,
      at: new Date().toISOString(),
    };
  }

  /** Runs the action workflow and waits for it: 202 means recorded and applied. */
  private async perform(action: OpsAction): Promise<void> {
    const handle = await DBOS.startWorkflow(this.actions.workflow, { workflowID: OpsActionWorkflow.workflowId(action.actionId) })(action);
    await handle.getResult();
  }

  private check(decision: ActionVerdict): void {
    if (decision.outcome === 'conflict') throw new Conflict(decision.message, decision.status, decision.hint);
  }

  private async mustFind(id: string): Promise<WorkflowRow> {
    const row = await this.repository.workflow(id);
    if (!row) throw new NotFound(`workflow ${shownId(id)} not found`);
    return row;
  }
}
