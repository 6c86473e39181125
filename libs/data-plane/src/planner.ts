import { canonicalJson, sha256 } from '#common';

/** A type, not an interface: it is a JSON object (Record<string, unknown>) as stored. */
export type IntentPayload = {
  readonly inputs: {
    readonly tasks: readonly { readonly connector: string; readonly args: Record<string, unknown> }[];
    readonly data?: Record<string, unknown>;
  };
  readonly constraints: {
    readonly delayMs?: number;
    readonly notBefore?: string;
    readonly maxAttempts?: number;
    readonly taskTimeoutMs?: number;
    readonly dryRun?: boolean;
  };
  readonly connectors?: readonly string[];
};

export interface PlannedTask {
  readonly index: number;
  readonly connector: string;
  readonly args: Record<string, unknown>;
  /** Deterministic per lineage: a fork re-running ExecuteST finds the receipts of its ancestors. */
  readonly taskKey: string;
}

export interface Plan {
  readonly intentId: string;
  readonly goal: string;
  readonly lineageRoot: string;
  readonly tasks: readonly PlannedTask[];
}

/** The Planner port: turns an intent into tasks. The default plans the explicit task list. */
export interface Planner {
  plan(intent: { id: string; goal: string; payload: IntentPayload }, lineageRoot: string): Plan;
}

export function taskKey(lineageRoot: string, index: number, task: { connector: string; args: Record<string, unknown> }): string {
  return `tk_${sha256(`${lineageRoot}\n${index}\n${canonicalJson(task)}`).slice(0, 40)}`;
}

export class ExplicitTaskPlanner implements Planner {
  plan(intent: { id: string; goal: string; payload: IntentPayload }, lineageRoot: string): Plan {
    return {
      intentId: intent.id,
      goal: intent.goal,
      lineageRoot,
      tasks: intent.payload.inputs.tasks.map((task, index) => ({
        index,
        connector: task.connector,
        args: task.args,
        taskKey: taskKey(lineageRoot, index, task),
      })),
    };
  }
}

export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_TASK_TIMEOUT_MS = 30_000;

export interface Patch {
  readonly maxAttempts: number;
  readonly taskTimeoutMs: number;
  readonly dryRun: boolean;
}

/** ApplyPatchST: constraints → the execution settings the run will use. */
export function applyConstraints(constraints: IntentPayload['constraints']): Patch {
  return {
    maxAttempts: constraints.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    taskTimeoutMs: constraints.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS,
    dryRun: constraints.dryRun ?? false,
  };
}

export interface Decision {
  readonly execute: boolean;
  /** Durable sleep before ExecuteST, 0 for none. */
  readonly delayMs: number;
  readonly notBefore: string | null;
  readonly decidedAt: string;
  readonly reason: string;
}

/**
 * When a run may execute: its creation (`origin`, epoch ms) plus delayMs, or notBefore if later.
 * Fixed when the run is created, so the wait happens once, wherever it happens (see DecideST).
 */
export function notBeforeMs(constraints: IntentPayload['constraints'], origin: number): number {
  const notBefore = constraints.notBefore ? Date.parse(constraints.notBefore) : Number.NEGATIVE_INFINITY;
  return Math.max(origin + (constraints.delayMs ?? 0), notBefore);
}

/**
 * DecideST: what runs and when. `now` is the step's clock, checkpointed with its output; the delay
 * counts from `origin`, the run's creation (a run that already waited its delay on the queue does
 * not wait again). Without an origin (runs enqueued by an older version), from `now`.
 */
export function decide(constraints: IntentPayload['constraints'], patch: Patch, now: number, origin: number = now): Decision {
  const delayMs = Math.max(0, notBeforeMs(constraints, origin) - now);
  const untilNotBefore = constraints.notBefore ? Math.max(0, Date.parse(constraints.notBefore) - now) : 0;
  const reasons: string[] = [];
  if (patch.dryRun) reasons.push('dry run: tasks are planned, not executed');
  if (constraints.delayMs) reasons.push(`delayMs ${constraints.delayMs}`);
  if (constraints.notBefore) reasons.push(untilNotBefore > 0 ? `notBefore ${constraints.notBefore}` : `notBefore ${constraints.notBefore} already passed`);
  return {
    execute: !patch.dryRun,
    delayMs,
    notBefore: constraints.notBefore ?? null,
    decidedAt: new Date(now).toISOString(),
    reason: reasons.length ? reasons.join('; ') : 'execute now',
  };
}
