import { Error as DBOSErrors } from '@dbos-inc/dbos-sdk';

/**
 * A workflow's or step's error as the run projection stores it: `{ name, message }`. A step that ran
 * out of retries reports its last attempt's error with the number of attempts; an error read back
 * from DBOS (a plain object once deserialized) keeps its name and message; anything else is
 * `fallback`, or its string form.
 */
export function errorOf(error: unknown, fallback?: string): { name: string; message: string } {
  if (error instanceof DBOSErrors.DBOSMaxStepRetriesError) {
    const last = error.errors.at(-1);
    return { name: last?.name ?? error.name, message: `${error.errors.length} attempts failed; last: ${last?.message ?? error.message}` };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  if (error && typeof error === 'object') {
    const { name, message } = error as { name?: unknown; message?: unknown };
    if (typeof message === 'string') return { name: typeof name === 'string' ? name : 'Error', message };
  }
  return { name: 'Error', message: typeof error === 'string' ? error : (fallback ?? String(error)) };
}
