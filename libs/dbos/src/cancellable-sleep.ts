import { DBOS } from '@dbos-inc/dbos-sdk';
import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';

/**
 * DBOS.sleep that ends when the workflow is cancelled. DBOS 5.3's durable sleep only checks for a
 * cancel when it wakes, so a cancelled run would keep sleeping in this process (and, once resumed,
 * wake beside its new execution). The sleep's deadline is still DBOS's own checkpoint (durable
 * across kill -9, the original deadline after a recovery or a resume); the wait races it against
 * DBOS's cancellation watch (one batched status poll per second for every watched workflow of the
 * process), so a cancel ends the execution within about a second with DBOSWorkflowCancelledError.
 * The abandoned DBOS timer then only resolves at the deadline, into nothing.
 */
export async function cancellableSleep(durationMs: number): Promise<void> {
  const workflowId = DBOS.workflowID;
  const system = DBOSExecutor.globalInstance?.systemDatabase;
  if (!workflowId || !system) return DBOS.sleep(durationMs);
  const watch = system.watchForCancellation(workflowId);
  const sleeping = DBOS.sleep(durationMs);
  // Whichever loses the race settles unobserved.
  sleeping.catch(() => undefined);
  let onAbort: (() => void) | undefined;
  const cancelled = new Promise<never>((_, reject) => {
    const signal = watch.signal;
    onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  cancelled.catch(() => undefined);
  try {
    await Promise.race([sleeping, cancelled]);
  } finally {
    if (onAbort) watch.signal.removeEventListener('abort', onAbort);
    watch.release();
  }
}

/** DBOS's own record of one execution running in this process (what its queues count). */
type RunningEntry = NonNullable<ReturnType<NonNullable<typeof DBOSExecutor.globalInstance>['systemDatabase']['runningWorkflowMap']['get']>>[number];

/**
 * DBOS's registry entry of the execution that calls this: call it first thing in the workflow
 * function, before any await. DBOS registers the execution and calls the workflow function in the
 * same synchronous run, so the newest entry under the workflow's ID is this execution's.
 */
export function currentExecutionEntry(): RunningEntry | undefined {
  const workflowId = DBOS.workflowID;
  if (!workflowId) return undefined;
  return DBOSExecutor.globalInstance?.systemDatabase.runningWorkflowMap.get(workflowId)?.at(-1);
}

/**
 * Runs `body` (a sleep) without the execution counting against its queue's `workerConcurrency`:
 * DBOS counts, per queue, the executions in its registry that it dequeued from that queue, a
 * sleeping one too, so RUN_CONCURRENCY sleepers would stop this worker dequeuing anything. The
 * execution stays in the registry (shutdown, cancellation and recovery still see it); only its queue
 * name is set aside, and put back when `body` settles, before the run takes an execution slot again.
 */
export async function uncountedByQueue<T>(entry: RunningEntry | undefined, body: () => Promise<T>): Promise<T> {
  if (entry?.queueName === undefined) return body();
  const queueName = entry.queueName;
  entry.queueName = undefined;
  try {
    return await body();
  } finally {
    entry.queueName = queueName;
  }
}
