import { DBOSJSON, serializeFunctionInputOutput } from '@dbos-inc/dbos-sdk/internal/serialization';
import type { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';

/** Deeper than this, a value is left to superjson (whose walk is not bounded either, but is DBOS's). */
const MAX_PLAIN_DEPTH = 64;

/**
 * Whether `value` is JSON as it is: null, booleans, strings, finite numbers (not -0), dense arrays
 * and objects of Object.prototype whose own keys hold such values. superjson writes exactly
 * `{"json": JSON.stringify(value)}` for these (no `meta`): everything else (undefined anywhere, a
 * Date, a Map, NaN, a class instance, a function, a `__proto__` key) is left to it.
 */
export function isPlainJson(value: unknown, depth = 0): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (typeof value !== 'object' || depth >= MAX_PLAIN_DEPTH) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false;
    }
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key) || key === '__proto__') return false;
    if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

/** The text superjson (DBOS's default serializer) writes for a plain-JSON value, from that value's JSON. */
function superjsonText(json: string): string {
  return `{"json":${json},"__dbos_serializer":"superjson"}`;
}

function usesSuperjson(executor: DBOSExecutor): boolean {
  return executor.serializer.name() === DBOSJSON.name();
}

/**
 * A step's output as DBOS's serializer writes it. With DBOS's default (superjson) and a value that
 * is plain JSON, the same text superjson would write, from one JSON.stringify instead of superjson's
 * walk (which showed in profiles: four step outputs per run).
 */
export function stepOutputText(executor: DBOSExecutor, value: unknown): string | Promise<string> {
  if (usesSuperjson(executor) && isPlainJson(value)) return superjsonText(JSON.stringify(value));
  return executor.serializer.stringify(value);
}

/**
 * DBOS's round trip of a step's output (serializeFunctionInputOutput: the text, and the value a
 * replay would return), by JSON alone for a plain-JSON value under superjson (it has no functions
 * to stub).
 */
export async function roundTripStepOutput<T>(
  executor: DBOSExecutor,
  value: T,
  name: string,
): Promise<{ stringified: string; deserialized: T; sername: string }> {
  if (usesSuperjson(executor) && isPlainJson(value)) {
    const json = JSON.stringify(value);
    return { stringified: superjsonText(json), deserialized: JSON.parse(json) as T, sername: DBOSJSON.name() };
  }
  return serializeFunctionInputOutput(value, [name, '<result>'], executor.serializer);
}
