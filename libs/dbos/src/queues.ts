import type { DBOS } from '@dbos-inc/dbos-sdk';

type RegisterQueueOptions = NonNullable<Parameters<typeof DBOS.registerQueue>[1]>;

/** Every queue the service enqueues on; registered at boot. Enqueueing on any other name is refused. */
export const QUEUES = {
  intents: { workerConcurrency: 16, onConflict: 'always_update' },
  /** Housekeeping (the scheduled tick): only processes that run workers dequeue it, never the CLI or an api process. */
  ops: { workerConcurrency: 1, onConflict: 'always_update' },
} as const satisfies Record<string, RegisterQueueOptions>;

export type QueueName = keyof typeof QUEUES;
export const DEFAULT_QUEUE: QueueName = 'intents';

export function isQueueName(name: string): name is QueueName {
  return Object.hasOwn(QUEUES, name);
}
