import { until } from '../../tools/harness/index.js';

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`: the harnesses' `until`, with test defaults. */
export function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  return until(what, check, timeoutMs, everyMs);
}
