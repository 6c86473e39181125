import type { DBOS } from '@dbos-inc/dbos-sdk';

type RegisterQueueOptions = NonNullable<Parameters<typeof DBOS.registerQueue>[1]>;

/** Runs one process executes at once, and how often a worker polls for queued ones, unless configured (RUN_CONCURRENCY, RUN_QUEUE_POLL_MS). */
export const DEFAULT_RUN_CONCURRENCY = 16;
export const DEFAULT_RUN_QUEUE_POLL_MS = 50;

/**
 * Every queue the service enqueues on; registered at boot. Enqueueing on any other name is refused.
 * `intents` carries the defaults here; DbosService registers it with the process's RunExecution settings.
 */
export const QUEUES = {
  intents: { workerConcurrency: DEFAULT_RUN_CONCURRENCY, minPollingIntervalMs: DEFAULT_RUN_QUEUE_POLL_MS, onConflict: 'always_update' },
  /** Housekeeping (the scheduled tick): only processes that run workers dequeue it, never the CLI or an api process. */
  ops: { workerConcurrency: 1, onConflict: 'always_update' },
} as const satisfies Record<string, RegisterQueueOptions>;

export type QueueName = keyof typeof QUEUES;
export const DEFAULT_QUEUE: QueueName = 'intents';

export function isQueueName(name: string): name is QueueName {
  return Object.hasOwn(QUEUES, name);
}

/** How this process executes runs (RUN_* variables; see the README's configuration table). */
export interface RunExecution {
  /** Runs one process executes at once, whichever way they started (RUN_CONCURRENCY). */
  readonly concurrency: number;
  /** Runs executing at once across every process (RUN_GLOBAL_CONCURRENCY); set, every run goes through the queue. */
  readonly globalConcurrency?: number | undefined;
  /** How often a worker polls the `intents` queue, in ms (RUN_QUEUE_POLL_MS). */
  readonly queuePollMs: number;
  /** A process that executes runs starts a new run itself when it has room (RUN_DIRECT_START). */
  readonly directStart: boolean;
}

export const DEFAULT_RUN_EXECUTION: RunExecution = {
  concurrency: DEFAULT_RUN_CONCURRENCY,
  queuePollMs: DEFAULT_RUN_QUEUE_POLL_MS,
  directStart: true,
};

/** The `intents` queue's registration for these settings. */
export function intentsQueueOptions(runs: RunExecution): RegisterQueueOptions {
  return {
    ...QUEUES.intents,
    workerConcurrency: runs.concurrency,
    minPollingIntervalMs: runs.queuePollMs,
    ...(runs.globalConcurrency !== undefined ? { globalConcurrency: runs.globalConcurrency } : {}),
  };
}
