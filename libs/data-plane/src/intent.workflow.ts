import { DBOS, Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Database } from '#db';
import {
  Admission,
  type AppStepOptions,
  cancellableSleep,
  continueWorkflowTrace,
  currentExecutionEntry,
  DbosService,
  errorOf,
  runAppSteps,
  runEffectStep,
  serviceMetrics,
  type TraceCarrier,
  uncountedByQueue,
  withStepSpan,
} from '#dbos';
import { RunsRepository } from '#runs';
import { isTransient } from './connectors/connector.js';
import { ExecuteStep, type ExecutionReport, SupersededExecutionError } from './execute.step.js';
import { IntentSteps, SHARED_DATABASE } from './intent.steps.js';

export const INTENT_WORKFLOW_NAME = 'IntentWorkflow';
/** The pipeline: always the first four DBOS calls of a run (plus a DBOS.sleep before ExecuteST when delayed). */
export const PIPELINE_STEPS = ['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST'] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];
/** The pipeline's steps that touch nothing but the database: one transaction when none of them ran before. */
const DATABASE_STEPS = PIPELINE_STEPS.slice(0, 3);

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

/**
 * The IntentWorkflow: CompileST → ApplyPatchST → DecideST → [DBOS.sleep] → ExecuteST. The steps'
 * bodies are IntentSteps (intent.steps.ts) and ExecuteStep (execute.step.ts); this is their order.
 * Each step's app writes (mark, artifact, projection) are one keyed statement, so a replay
 * writes nothing twice. With app and system schemas in one database they commit with the step's
 * checkpoint: the first three steps, which touch nothing but the database, in one transaction for
 * the three (runAppSteps; step by step when one of them ran before, as in a fork), and ExecuteST's
 * with its last task's settlement (runEffectStep). ExecuteST makes the external effects: the only
 * step that retries, and only on transient errors.
 */
@Injectable()
export class IntentWorkflow {
  /** The registered workflow function; start it through DbosService.enqueue. */
  readonly workflow: (input: IntentWorkflowInput) => Promise<ExecutionReport>;
  private readonly logger = new Logger(INTENT_WORKFLOW_NAME);
  private readonly steps: AppStepOptions;
  private readonly admission = new Admission(RUN_ADMISSION);

  constructor(
    private readonly intentSteps: IntentSteps,
    private readonly executeStep: ExecuteStep,
    private readonly runs: RunsRepository,
    db: Database,
    @Inject(SHARED_DATABASE) sharedDatabase: boolean,
    dbos: DbosService,
  ) {
    this.steps = { db, sharedDatabase };
    // Every execution holds one of the process's run slots, however it started (see ExecutionSlots),
    // except while it sleeps: then it holds no slot and does not count against the intents queue's
    // workerConcurrency, and it takes a slot again (waiting for one) before ExecuteST.
    this.workflow = DBOS.registerWorkflow(
      (input: IntentWorkflowInput) => {
        // Before any await: DBOS's registry entry of this very execution.
        const execution = currentExecutionEntry();
        const runId = DBOS.workflowID ?? '';
        return dbos.slots.hold(runId, (slot) =>
          this.pipeline(input, (ms, wakeAt) =>
            // The span is the sleep's own; taking a slot back after it is not part of it.
            slot.setAside(() => uncountedByQueue(execution, () => dbos.asleep(runId, wakeAt, () => withStepSpan('DBOS.sleep', () => cancellableSleep(ms))))),
          ),
        );
      },
      { name: INTENT_WORKFLOW_NAME },
    );
  }

  private async pipeline(input: IntentWorkflowInput, sleep: (ms: number, wakeAt: number) => Promise<void>): Promise<ExecutionReport> {
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
      // One transaction for the three when none of them ran before (runAppSteps); step by step otherwise.
      const { plan, patch, decision } = await this.admission.run(() =>
        runAppSteps(DATABASE_STEPS, this.steps, async (step) => {
          current = 'CompileST';
          const plan = await step('CompileST', (sql) => this.intentSteps.compile(sql, runId, input));
          current = 'ApplyPatchST';
          const patch = await step('ApplyPatchST', (sql) => this.intentSteps.applyPatch(sql, runId, plan));
          current = 'DecideST';
          const decision = await step('DecideST', (sql) => this.intentSteps.decide(sql, runId, plan, patch, input.createdAtMs));
          return { plan, patch, decision };
        }),
      );
      if (decision.delayMs > 0) {
        current = 'DBOS.sleep';
        await sleep(decision.delayMs, Date.parse(decision.decidedAt) + decision.delayMs);
      }
      current = 'ExecuteST';
      const report = await runEffectStep('ExecuteST', this.steps, { maxAttempts: patch.maxAttempts, ...EXECUTE_RETRY, shouldRetry: isTransient }, () =>
        this.executeStep.run(runId, plan, patch, decision),
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
}
