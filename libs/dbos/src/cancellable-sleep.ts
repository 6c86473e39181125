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
