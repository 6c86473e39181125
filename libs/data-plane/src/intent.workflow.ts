import { DBOS, Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { Injectable, Logger } from '@nestjs/common';
import { continueWorkflowTrace, type TraceCarrier, withStepSpan } from '#dbos';
import { ConnectorRegistry } from './connectors/connector.registry.js';
import { isTransient, PermanentTaskError } from './connectors/connector.js';
import { IntentsRepository } from './intents.repository.js';
import { applyConstraints, decide, type Decision, ExplicitTaskPlanner, type IntentPayload, type Patch, type Plan, type Planner } from './planner.js';
import { ReceiptsRepository } from './receipts.repository.js';
import { RunsRepository } from './runs.repository.js';

export const INTENT_WORKFLOW_NAME = 'IntentWorkflow';
/** The pipeline: always the first four DBOS calls of a run (plus a DBOS.sleep before ExecuteST when delayed). */
export const PIPELINE_STEPS = ['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST'] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/** ExecuteST backoff: 0.5 s, 1 s, 2 s, … between attempts on transient errors. */
export const EXECUTE_RETRY = { intervalSeconds: 0.5, backoffRate: 2 } as const;

export interface IntentWorkflowInput {
  readonly intentId: string;
  /** The first run of the lineage; forks keep it (DBOS copies the inputs), so task keys stay stable. */
  readonly lineageRoot: string;
  /**
   * The W3C trace context of the request that started the run (only when tracing is on): the
   * workflow span continues that trace, across the queue. A fork copies it; for a fork it is a link.
   */
  readonly trace?: TraceCarrier;
}

export interface CompiledPlan extends Plan {
  readonly constraints: IntentPayload['constraints'];
}

export interface TaskResult {
  readonly taskKey: string;
  readonly index: number;
  readonly connector: string;
  readonly status: 'succeeded' | 'skipped';
  /** True when the receipt of an earlier run of the lineage answered and no effect was made. */
  readonly replayed: boolean;
  readonly output: unknown;
}

export interface ExecutionReport {
  readonly tasks: readonly TaskResult[];
}

function errorOf(error: unknown): { name: string; message: string } {
  if (error instanceof DBOSErrors.DBOSMaxStepRetriesError) {
    const last = error.errors.at(-1);
    return { name: last?.name ?? error.name, message: `${error.errors.length} attempts failed; last: ${last?.message ?? error.message}` };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/**
 * The IntentWorkflow: CompileST → ApplyPatchST → DecideST → [DBOS.sleep] → ExecuteST.
 * Each step's app writes (mark, artifact, projection) commit in one transaction keyed so a replay
 * writes nothing twice. ExecuteST is the only step that retries, and only on transient errors.
 */
@Injectable()
export class IntentWorkflow {
  /** The registered workflow function; start it through DbosService.enqueue. */
  readonly workflow: (input: IntentWorkflowInput) => Promise<ExecutionReport>;
  private readonly planner: Planner = new ExplicitTaskPlanner();
  private readonly logger = new Logger(INTENT_WORKFLOW_NAME);

  constructor(
    private readonly intents: IntentsRepository,
    private readonly runs: RunsRepository,
    private readonly receipts: ReceiptsRepository,
    private readonly connectors: ConnectorRegistry,
  ) {
    this.workflow = DBOS.registerWorkflow((input: IntentWorkflowInput) => this.pipeline(input), { name: INTENT_WORKFLOW_NAME });
  }

  private async pipeline(input: IntentWorkflowInput): Promise<ExecutionReport> {
    const runId = DBOS.workflowID;
    if (!runId) throw new Error('IntentWorkflow must run as a workflow');
    // Before any DBOS call: the steps' spans are children of the (re-parented) workflow span.
    const traced = continueWorkflowTrace(input.trace);
    // A run whose trace was not started by POST /api/runs (a fork) records the trace it runs in.
    // Not a step: a keyed, idempotent projection write, like markFailed below; telemetry never fails a run.
    if (traced && !traced.continued) await this.runs.recordTraceId(runId, traced.traceId).catch(() => undefined);
    let current = 'CompileST';
    try {
      const plan = await DBOS.runStep(() => this.compile(runId, input), { name: 'CompileST' });
      current = 'ApplyPatchST';
      const patch = await DBOS.runStep(() => this.applyPatch(runId, plan), { name: 'ApplyPatchST' });
      current = 'DecideST';
      const decision = await DBOS.runStep(() => this.decide(runId, plan, patch), { name: 'DecideST' });
      if (decision.delayMs > 0) {
        current = 'DBOS.sleep';
        await withStepSpan('DBOS.sleep', () => DBOS.sleep(decision.delayMs));
      }
      current = 'ExecuteST';
      const report = await DBOS.runStep(() => this.execute(runId, plan, patch, decision), {
        name: 'ExecuteST',
        retriesAllowed: true,
        maxAttempts: patch.maxAttempts,
        ...EXECUTE_RETRY,
        shouldRetry: isTransient,
      });
      this.logger.log(`${runId} succeeded: ${report.tasks.length} task(s), ${report.tasks.filter((t) => t.replayed).length} replayed`);
      return report;
    } catch (error) {
      // Cancellation, and the errors DBOS raises in an execution that was superseded (cancelled and
      // then resumed elsewhere), are not failures of the run: the control plane owns that projection.
      if (error instanceof DBOSErrors.DBOSError && !(error instanceof DBOSErrors.DBOSMaxStepRetriesError)) throw error;
      // Not a step: an idempotent projection write, repeated harmlessly if the workflow is recovered.
      await this.runs.markFailed(runId, current, { ...errorOf(error), step: current }).catch(() => undefined);
      throw error;
    }
  }

  private async compile(runId: string, input: IntentWorkflowInput): Promise<CompiledPlan> {
    const startedAt = new Date();
    const intent = await this.intents.find(input.intentId);
    if (!intent) throw new PermanentTaskError(`intent ${input.intentId} does not exist`);
    const payload = intent.payload as unknown as IntentPayload;
    const plan: CompiledPlan = { ...this.planner.plan({ id: intent.id, goal: intent.goal, payload }, input.lineageRoot), constraints: payload.constraints };
    await this.runs.recordStep({
      runId,
      stepId: 'CompileST',
      phase: 'completed',
      output: { tasks: plan.tasks.length },
      startedAt,
      artifacts: [{ idx: 0, kind: 'plan_card', body: plan }],
      projection: { status: 'running', nextAction: 'WAIT' },
    });
    return plan;
  }

  private async applyPatch(runId: string, plan: CompiledPlan): Promise<Patch> {
    const startedAt = new Date();
    const patch = applyConstraints(plan.constraints);
    await this.runs.recordStep({
      runId,
      stepId: 'ApplyPatchST',
      phase: 'completed',
      output: patch,
      startedAt,
      artifacts: [
        {
          idx: 0,
          kind: 'patch_card',
          body: { ...patch, tasks: plan.tasks.map((t) => ({ taskKey: t.taskKey, connector: t.connector, timeoutMs: patch.taskTimeoutMs })) },
        },
      ],
      projection: { status: 'running', nextAction: 'WAIT' },
    });
    return patch;
  }

  private async decide(runId: string, plan: CompiledPlan, patch: Patch): Promise<Decision> {
    // Re-run after its app transaction committed but before DBOS checkpointed it: the decision stands.
    const recorded = await this.runs.recordedArtifact(runId, 'DecideST', 'decision');
    if (recorded !== undefined) return recorded as Decision;
    const startedAt = new Date();
    const decision = decide(plan.constraints, patch, startedAt.getTime());
    await this.runs.recordStep({
      runId,
      stepId: 'DecideST',
      phase: 'completed',
      output: decision,
      startedAt,
      artifacts: [{ idx: 0, kind: 'decision', body: decision }],
      projection: decision.delayMs > 0 ? { status: 'waiting', nextAction: 'WAIT' } : { status: 'running', nextAction: 'WAIT' },
    });
    return decision;
  }

  private async execute(runId: string, plan: CompiledPlan, patch: Patch, decision: Decision): Promise<ExecutionReport> {
    const startedAt = new Date();
    try {
      const tasks: TaskResult[] = [];
      for (const task of plan.tasks) {
        if (!decision.execute) {
          tasks.push({ taskKey: task.taskKey, index: task.index, connector: task.connector, status: 'skipped', replayed: false, output: null });
          continue;
        }
        tasks.push(await this.perform(runId, plan, task, patch));
      }
      const report: ExecutionReport = { tasks };
      await this.runs.recordStep({
        runId,
        stepId: 'ExecuteST',
        phase: 'completed',
        output: { tasks: tasks.length, replayed: tasks.filter((t) => t.replayed).length },
        startedAt,
        artifacts: [{ idx: 0, kind: 'execution_report', body: report }],
        projection: { status: 'succeeded', nextAction: 'NONE' },
      });
      return report;
    } catch (error) {
      const failure = errorOf(error);
      await this.runs.recordStep({ runId, stepId: 'ExecuteST', phase: 'failed', output: failure, startedAt, artifacts: [] });
      throw error;
    }
  }

  /** One task through its receipt: a receipt that already succeeded is replayed, not re-sent. */
  private async perform(runId: string, plan: Plan, task: Plan['tasks'][number], patch: Patch): Promise<TaskResult> {
    const receipt = await this.receipts.open({ taskKey: task.taskKey, runId, lineageRoot: plan.lineageRoot, taskIndex: task.index, connector: task.connector });
    const base = { taskKey: task.taskKey, index: task.index, connector: task.connector, status: 'succeeded' as const };
    // Succeeded in an earlier run of the lineage (a fork): replayed, no effect. Succeeded in this
    // very run (ExecuteST re-executed after a crash, or a second execution after a resume): the same
    // result as before, so the step's artifact is byte-for-byte the one already recorded.
    if (receipt.status === 'succeeded') return { ...base, replayed: receipt.run_id !== runId, output: receipt.output };

    let connector;
    let args;
    try {
      connector = this.connectors.get(task.connector);
      args = connector.parseArgs(task.args, `tasks.${task.index}.args`);
    } catch (error) {
      const failure = new PermanentTaskError(`task ${task.index} can no longer run: ${(error as Error).message}`);
      await this.receipts.fail(task.taskKey, errorOf(failure));
      throw failure;
    }
    const attempt = await this.receipts.beginAttempt(task.taskKey);
    const signal = DBOS.stepStatus?.cancelSignal ?? new AbortController().signal;
    try {
      const output = await connector.execute(args, { taskKey: task.taskKey, attempt, timeoutMs: patch.taskTimeoutMs, signal });
      await this.receipts.succeed(task.taskKey, runId, output);
      return { ...base, replayed: false, output };
    } catch (error) {
      await this.receipts.fail(task.taskKey, errorOf(error));
      throw error;
    }
  }
}
