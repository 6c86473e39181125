import { Injectable } from '@nestjs/common';
import type { StepSql } from '#dbos';
import { RunsRepository } from '#runs';
import { PermanentTaskError } from './connectors/connector.js';
import { intentPayload, IntentsRepository } from './intents.repository.js';
import { applyConstraints, decide, type Decision, ExplicitTaskPlanner, type IntentPayload, type Patch, type Plan, type Planner } from './planner.js';

/** Whether the app and DBOS system schemas share one database (then app steps commit with their checkpoint). */
export const SHARED_DATABASE = Symbol('SHARED_DATABASE');

export interface CompiledPlan extends Plan {
  readonly constraints: IntentPayload['constraints'];
}

/**
 * The IntentWorkflow's database steps: CompileST → ApplyPatchST → DecideST. Each decides from what
 * it reads and records its mark, artifact and run projection in one keyed statement on `sql`
 * (RunsRepository.recordStep), so a replay writes nothing twice.
 */
@Injectable()
export class IntentSteps {
  private readonly planner: Planner = new ExplicitTaskPlanner();

  constructor(
    private readonly intents: IntentsRepository,
    private readonly runs: RunsRepository,
  ) {}

  /** CompileST: the intent's plan (its tasks and their keys, stable across a lineage). */
  async compile(sql: StepSql, runId: string, input: { readonly intentId: string; readonly lineageRoot: string }): Promise<CompiledPlan> {
    const startedAt = new Date();
    // Immutable: an intent this process has seen is not read again (in split-roles, the worker reads it once).
    const intent = await this.intents.findCached(input.intentId, sql);
    if (!intent) throw new PermanentTaskError(`intent ${input.intentId} does not exist`);
    const payload = intentPayload(intent);
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

  /** ApplyPatchST: the intent's constraints as the run's patch (attempts, timeouts). */
  async applyPatch(sql: StepSql, runId: string, plan: CompiledPlan): Promise<Patch> {
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

  /** DecideST: whether and when the tasks run. */
  async decide(sql: StepSql, runId: string, plan: CompiledPlan, patch: Patch, createdAtMs: number | undefined): Promise<Decision> {
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
}
