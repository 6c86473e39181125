/**
 * The harnesses' wall-clock waits. They drive a service from outside (boot it, kill it, wait for
 * it), so they wait in process time; the service itself never does (DBOS.sleep and schedules only,
 * enforced by the lint rule and the policy test on apps/ and libs/, which tools/ is not part of).
 */

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Thrown by a check to stop waiting at once (say, the process being waited for died). */
export class StopWaiting extends Error {
  override readonly name = 'StopWaiting';
}

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined; fails with `what`
 * (and the last error `check` threw) after `timeoutMs`; a StopWaiting error ends it at once.
 */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    await sleep(everyMs);
  }
}
