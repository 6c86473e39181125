import { DBOS, Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { currentOwnerXid } from '@dbos-inc/dbos-sdk/internal/context';
import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Database } from '#db';
import {
  type AppStepOptions,
  cancellableSleep,
  continueWorkflowTrace,
  DbosService,
  runAppStep,
  Admission,
  type StepSql,
  type TraceCarrier,
  withStepSpan,
} from '#dbos';
import { serviceMetrics, timedStep } from '#dbos';
import { type Claimant, ReceiptsRepository, RunsRepository, type Settlement } from '#runs';
import { ConnectorRegistry } from './connectors/connector.registry.js';
import { isTransient, PermanentTaskError } from './connectors/connector.js';
import { IntentsRepository } from './intents.repository.js';
import { applyConstraints, decide, type Decision, ExplicitTaskPlanner, type IntentPayload, type Patch, type Plan, type Planner } from './planner.js';

/** Whether the app and DBOS system schemas share one database (then app steps commit with their checkpoint). */
export const SHARED_DATABASE = Symbol('SHARED_DATABASE');

export const INTENT_WORKFLOW_NAME = 'IntentWorkflow';
/** The pipeline: always the first four DBOS calls of a run (plus a DBOS.sleep before ExecuteST when delayed). */
export const PIPELINE_STEPS = ['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST'] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/**
 * Runs of one process inside their database prefix (CompileST → ApplyPatchST → DecideST) at once.
 * A queue poll starts up to 16 runs in the same instant. Admitted two at a time, their prefixes, and
 * so their ExecuteSTs, follow one another instead of all contending for the event loop and for
 * Postgres together; an HTTP request that arrives meanwhile waits for short turns, not for a burst.
 * Total work is unchanged, and a prefix takes a few milliseconds, so throughput is too. Measured with
 * `mise run bench -- --quick` (POST /api/runs p99): 16 at once 39–158 ms, 4 at once 74–133 ms, 2 at
 * once 69–89 ms over 5 runs, 1 at once 100 ms.
 */
export const RUN_ADMISSION = 2;

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
  /** When the run was created (epoch ms): its delay counts from here, so a run that waited on the queue does not sleep again. */
  readonly createdAtMs?: number;
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

/**
 * This execution is no longer the run's live one: the run was cancelled, or resumed into another
 * execution. Not a failure of the run; the live execution (if any) carries on.
 */
export class SupersededExecutionError extends Error {
  override readonly name = 'SupersededExecutionError';
  constructor(runId: string) {
    super(`this execution of ${runId} was superseded (cancelled or resumed elsewhere): it makes no further effect`);
  }
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
 * Each step's app writes (mark, artifact, receipts, projection) are one keyed statement, so a replay
 * writes nothing twice; the first three steps touch nothing but the database, and with app and
 * system schemas in one database their statement commits in the step's checkpoint transaction.
 * ExecuteST makes the external effects: the only step that retries, and only on transient errors.
 */
@Injectable()
export class IntentWorkflow {
  /** The registered workflow function; start it through DbosService.enqueue. */
  readonly workflow: (input: IntentWorkflowInput) => Promise<ExecutionReport>;
  private readonly planner: Planner = new ExplicitTaskPlanner();
  private readonly logger = new Logger(INTENT_WORKFLOW_NAME);
  private readonly steps: AppStepOptions;
  private readonly admission = new Admission(RUN_ADMISSION);

  constructor(
    private readonly intents: IntentsRepository,
    private readonly runs: RunsRepository,
    private readonly receipts: ReceiptsRepository,
    private readonly connectors: ConnectorRegistry,
    db: Database,
    @Inject(SHARED_DATABASE) sharedDatabase: boolean,
    dbos: DbosService,
  ) {
    this.steps = { db, sharedDatabase };
    // Every execution holds one of the process's run slots, however it started (see ExecutionSlots).
    this.workflow = DBOS.registerWorkflow((input: IntentWorkflowInput) => dbos.slots.hold(DBOS.workflowID ?? '', () => this.pipeline(input)), {
      name: INTENT_WORKFLOW_NAME,
    });
  }

  private async pipeline(input: IntentWorkflowInput): Promise<ExecutionReport> {
    const runId = DBOS.workflowID;
    if (!runId) throw new Error('IntentWorkflow must run as a workflow');
    const executionStart = Date.now();
    // Before any DBOS call: the steps' spans are children of the (re-parented) workflow span.
    const traced = continueWorkflowTrace(input.trace);
    // A run whose trace was not started by POST /api/runs (a fork) records the trace it runs in.
    // Not a step: a keyed, idempotent projection write, like markFailed below; telemetry never fails a run.
    if (traced && !traced.continued) await this.runs.recordTraceId(runId, traced.traceId).catch(() => undefined);
    let current = 'CompileST';
    try {
      const { plan, patch, decision } = await this.admission.run(async () => {
        const plan = await runAppStep('CompileST', this.steps, (sql) => this.compile(sql, runId, input));
        current = 'ApplyPatchST';
        const patch = await runAppStep('ApplyPatchST', this.steps, (sql) => this.applyPatch(sql, runId, plan));
        current = 'DecideST';
        const decision = await runAppStep('DecideST', this.steps, (sql) => this.decide(sql, runId, plan, patch, input.createdAtMs));
        return { plan, patch, decision };
      });
      if (decision.delayMs > 0) {
        current = 'DBOS.sleep';
        await withStepSpan('DBOS.sleep', () => cancellableSleep(decision.delayMs));
      }
      current = 'ExecuteST';
      const report = await timedStep('ExecuteST', () =>
        DBOS.runStep(() => this.execute(runId, plan, patch, decision), {
          name: 'ExecuteST',
          retriesAllowed: true,
          maxAttempts: patch.maxAttempts,
          ...EXECUTE_RETRY,
          shouldRetry: isTransient,
        }),
      );
      serviceMetrics()?.runFinished('succeeded', executionStart);
      this.logger.log(`${runId} succeeded: ${report.tasks.length} task(s), ${report.tasks.filter((t) => t.replayed).length} replayed`);
      return report;
    } catch (error) {
      // Cancellation, and the errors DBOS raises in an execution that was superseded (cancelled and
      // then resumed elsewhere), are not failures of the run: the control plane owns that projection.
      if (error instanceof DBOSErrors.DBOSError && !(error instanceof DBOSErrors.DBOSMaxStepRetriesError)) throw error;
      if (error instanceof SupersededExecutionError) throw error;
      // Not a step: an idempotent projection write, repeated harmlessly if the workflow is recovered.
      await this.runs.markFailed(runId, current, { ...errorOf(error), step: current }).catch(() => undefined);
      serviceMetrics()?.runFinished('failed', executionStart);
      throw error;
    }
  }

  private async compile(sql: StepSql, runId: string, input: IntentWorkflowInput): Promise<CompiledPlan> {
    const startedAt = new Date();
    // Immutable: an intent this process has seen is not read again (in split-roles, the worker reads it once).
    const intent = await this.intents.findCached(input.intentId, sql);
    if (!intent) throw new PermanentTaskError(`intent ${input.intentId} does not exist`);
    const payload = intent.payload as unknown as IntentPayload;
    const plan: CompiledPlan = { ...this.planner.plan({ id: intent.id, goal: intent.goal, payload }, input.lineageRoot), constraints: payload.constraints };
    await this.runs.recordStep(
      {
        runId,
        stepId: 'CompileST',
        phase: 'completed',
        output: { tasks: plan.tasks.length },
        startedAt,
        artifacts: [{ idx: 0, kind: 'plan_card', body: plan }],
        projection: { status: 'running', nextAction: 'WAIT' },
      },
      sql,
    );
    return plan;
  }

  private async applyPatch(sql: StepSql, runId: string, plan: CompiledPlan): Promise<Patch> {
    const startedAt = new Date();
    const patch = applyConstraints(plan.constraints);
    await this.runs.recordStep(
      {
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
      },
      sql,
    );
    return patch;
  }

  private async decide(sql: StepSql, runId: string, plan: CompiledPlan, patch: Patch, createdAtMs: number | undefined): Promise<Decision> {
    // On the app pool, a re-run after its statement committed but before DBOS checkpointed the step
    // finds the decision recorded: it stands. (With the checkpoint in the same transaction, no such gap.)
    if (!sql.withCheckpoint) {
      const recorded = await this.runs.recordedArtifact(runId, 'DecideST', 'decision');
      if (recorded !== undefined) return recorded as Decision;
    }
    const startedAt = new Date();
    const decision = decide(plan.constraints, patch, startedAt.getTime(), createdAtMs);
    await this.runs.recordStep(
      {
        runId,
        stepId: 'DecideST',
        phase: 'completed',
        output: decision,
        startedAt,
        artifacts: [{ idx: 0, kind: 'decision', body: decision }],
        projection: decision.delayMs > 0 ? { status: 'waiting', nextAction: 'WAIT' } : { status: 'running', nextAction: 'WAIT' },
      },
      sql,
    );
    return decision;
  }

  private async execute(runId: string, plan: CompiledPlan, patch: Patch, decision: Decision): Promise<ExecutionReport> {
    const startedAt = new Date();
    const claimant = this.claimant(runId, patch);
    // The last send's outcome, not yet durable: the next claim (one statement) settles it first.
    const pending: { settlement?: Settlement | undefined } = {};
    try {
      const tasks: TaskResult[] = [];
      for (const task of plan.tasks) {
        if (!decision.execute) {
          tasks.push({ taskKey: task.taskKey, index: task.index, connector: task.connector, status: 'skipped', replayed: false, output: null });
          continue;
        }
        tasks.push(await this.perform(runId, plan, task, patch, claimant, pending));
      }
      await this.settlePending(runId, claimant, pending);
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
      // A superseded execution records nothing more: the run's live execution owns its marks.
      if (error instanceof SupersededExecutionError) throw error;
      await this.settlePending(runId, claimant, pending);
      const failure = errorOf(error);
      await this.runs.recordStep({ runId, stepId: 'ExecuteST', phase: 'failed', output: failure, startedAt, artifacts: [] });
      throw error;
    }
  }

  /** This execution of the run, as the receipts know it: its DBOS ownership token. */
  private claimant(runId: string, patch: Patch): Claimant {
    const execution = currentOwnerXid(runId);
    if (!execution) throw new Error(`ExecuteST of ${runId} runs without a DBOS ownership token`);
    return { execution, maxAttempts: patch.maxAttempts, checkLive: this.steps.sharedDatabase };
  }

  /**
   * With the DBOS system schema in another database the claim cannot check liveness in its own
   * transaction: check it just before (a resume racing into that window is the one gap left).
   */
  private async assertLive(runId: string, claimant: Claimant): Promise<void> {
    if (claimant.checkLive) return;
    if (!(await this.isLive(runId, claimant))) throw new SupersededExecutionError(runId);
  }

  private async isLive(runId: string, claimant: Claimant): Promise<boolean> {
    return (await DBOSExecutor.globalInstance?.systemDatabase.getWorkflowOwner(runId)) === claimant.execution;
  }

  private async settlePending(runId: string, claimant: Claimant, pending: { settlement?: Settlement | undefined }): Promise<void> {
    const settlement = pending.settlement;
    if (!settlement) return;
    pending.settlement = undefined;
    // A superseded execution's outcome is not recorded: the live execution re-sends that task itself.
    if (!claimant.checkLive && !(await this.isLive(runId, claimant))) return;
    await this.receipts.settle(settlement, runId, claimant);
  }

  /**
   * One task through its receipt: a receipt that already succeeded is replayed, not re-sent. The
   * claim settles the previous task's outcome and counts this attempt, durably, before the effect;
   * it is refused when this execution is no longer the run's live one (cancelled, or resumed
   * elsewhere), so a superseded execution makes no further effect.
   */
  private async perform(
    runId: string,
    plan: Plan,
    task: Plan['tasks'][number],
    patch: Patch,
    claimant: Claimant,
    pending: { settlement?: Settlement | undefined },
  ): Promise<TaskResult> {
    let runnable: { connector: ReturnType<ConnectorRegistry['get']>; args: object } | undefined;
    let unrunnable: Error | undefined;
    try {
      const connector = this.connectors.get(task.connector);
      runnable = { connector, args: connector.parseArgs(task.args, `tasks.${task.index}.args`) };
    } catch (error) {
      unrunnable = error as Error;
    }
    await this.assertLive(runId, claimant);
    const claim = await this.receipts.claim(
      pending.settlement,
      { taskKey: task.taskKey, runId, lineageRoot: plan.lineageRoot, taskIndex: task.index, connector: task.connector },
      runnable !== undefined,
      claimant,
    );
    if (claim.verdict === 'refused') throw new SupersededExecutionError(runId);
    pending.settlement = undefined;
    const base = { taskKey: task.taskKey, index: task.index, connector: task.connector, status: 'succeeded' as const };
    // Succeeded in an earlier run of the lineage (a fork): replayed, no effect. Succeeded in this
    // very run (ExecuteST re-executed after a crash): the same result as before, so the step's
    // artifact is byte-for-byte the one already recorded.
    if (claim.verdict === 'replay') return { ...base, replayed: claim.run_id !== runId, output: claim.output };
    if (claim.verdict === 'spent') {
      throw new PermanentTaskError(`task ${task.index}: all ${patch.maxAttempts} attempt(s) of this run are spent`);
    }
    if (!runnable || claim.seq === null || claim.attempts === null) {
      throw new PermanentTaskError(`task ${task.index} can no longer run: ${unrunnable?.message ?? 'unknown connector'}`);
    }
    const seq = claim.seq;
    const signal = DBOS.stepStatus?.cancelSignal ?? new AbortController().signal;
    try {
      const output = await runnable.connector.execute(runnable.args, {
        taskKey: task.taskKey,
        attempt: claim.attempts,
        timeoutMs: patch.taskTimeoutMs,
        signal,
      });
      pending.settlement = { taskKey: task.taskKey, seq, status: 'succeeded', output };
      return { ...base, replayed: false, output };
    } catch (error) {
      pending.settlement = { taskKey: task.taskKey, seq, status: 'failed', error: errorOf(error) };
      throw error;
    }
  }
}
