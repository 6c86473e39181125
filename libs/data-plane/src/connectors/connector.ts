/** A task's external effect. Connectors validate their own args and classify their own failures. */
export interface TaskContext {
  /** Stable across retries, recoveries and forks of the same lineage: use it as the idempotency key. */
  readonly taskKey: string;
  /** 1-based, counted durably in the task's receipt. */
  readonly attempt: number;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

export interface Connector<Args extends object = object> {
  readonly name: string;
  /** Throws ValidationFailed (400 at intent creation) when args do not fit. */
  parseArgs(args: unknown, path: string): Args;
  execute(args: Args, context: TaskContext): Promise<unknown>;
}

/** Worth retrying: the same call may succeed later (network errors, 5xx, injected transient faults). */
export class TransientTaskError extends Error {
  override readonly name = 'TransientTaskError';
}

/** Retrying cannot help (4xx, permanent faults, bad configuration); the run needs repair. */
export class PermanentTaskError extends Error {
  override readonly name = 'PermanentTaskError';
}

export function isTransient(error: unknown): boolean {
  return error instanceof TransientTaskError;
}
