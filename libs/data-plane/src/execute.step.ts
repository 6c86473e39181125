import { DBOS } from '@dbos-inc/dbos-sdk';
import { currentOwnerXid } from '@dbos-inc/dbos-sdk/internal/context';
import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { Inject, Injectable } from '@nestjs/common';
import { type EffectOutcome, errorOf, type StepSql } from '#dbos';
import { type Claimant, ReceiptsRepository, RunsRepository, type Settlement, type StepRecord } from '#runs';
import { ConnectorRegistry } from './connectors/connector.registry.js';
import { PermanentTaskError } from './connectors/connector.js';
import { type CompiledPlan, SHARED_DATABASE } from './intent.steps.js';
import type { Decision, Patch, Plan } from './planner.js';

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

/**
 * ExecuteST: the run's tasks through their connectors, each behind its receipt (ReceiptsRepository:
 * claimed before the send, settled after), then the step's mark, report and projection. The only
 * step with external effects, and the only one that retries (the IntentWorkflow runs it).
 */
@Injectable()
export class ExecuteStep {
  constructor(
    private readonly runs: RunsRepository,
    private readonly receipts: ReceiptsRepository,
    private readonly connectors: ConnectorRegistry,
    @Inject(SHARED_DATABASE) private readonly sharedDatabase: boolean,
  ) {}

  /**
   * The tasks, then what records them: the last task's settlement, the step's mark, its report and
   * the projection, as one `record` that the step commits with its checkpoint (runEffectStep). A
   * failed attempt records its settlement and its `failed` mark here, before it throws.
   */
  async run(runId: string, plan: CompiledPlan, patch: Patch, decision: Decision): Promise<EffectOutcome<ExecutionReport>> {
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
      const report: ExecutionReport = { tasks };
      const last = pending.settlement;
      const step: StepRecord = {
        runId,
        stepId: 'ExecuteST',
        phase: 'completed',
        output: { tasks: tasks.length, replayed: tasks.filter((t) => t.replayed).length },
        startedAt,
        artifacts: [{ idx: 0, kind: 'execution_report', body: report }],
        projection: { status: 'succeeded', nextAction: 'NONE' },
      };
      // Both statements are issued before either is awaited: on the step's transaction they go out
      // together. Both run to their end before the first failure is thrown (nothing of theirs may
      // reach the connection after the transaction is over).
      const record = async (sql: StepSql): Promise<void> => {
        const done = await Promise.allSettled([last ? this.settleOn(sql, runId, claimant, last) : undefined, this.runs.recordStep(step, sql)]);
        const failed = done.find((outcome) => outcome.status === 'rejected');
        if (failed) throw failed.reason;
      };
      return { value: report, record };
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
    return { execution, maxAttempts: patch.maxAttempts, checkLive: this.sharedDatabase };
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
    await this.settleOn(undefined, runId, claimant, settlement);
  }

  /** One settlement, on `sql` (the step's transaction) or on its own. A superseded execution's outcome is not recorded: the live execution re-sends that task itself. */
  private async settleOn(sql: StepSql | undefined, runId: string, claimant: Claimant, settlement: Settlement): Promise<void> {
    if (!claimant.checkLive && !(await this.isLive(runId, claimant))) return;
    await this.receipts.settle(settlement, runId, claimant, sql);
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
