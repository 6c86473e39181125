import type { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
// The module object itself (CommonJS exports), the one DBOS's executor calls its round trips through.
import dbosSerialization, { DBOSJSON, type DBOSSerializer, serializeFunctionInputOutput } from '@dbos-inc/dbos-sdk/internal/serialization';
import type { WorkflowSerializationFormat } from '@dbos-inc/dbos-sdk/internal/workflow';

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
 * replay would return), through DBOS's module object: a plain-JSON value takes the direct path once
 * roundTripPlainJsonDirectly is installed (below), like a workflow's arguments and result.
 */
export function roundTripStepOutput<T>(executor: DBOSExecutor, value: T, name: string): Promise<RoundTrip<T>> {
  return dbosSerialization.serializeFunctionInputOutput(value, [name, '<result>'], executor.serializer);
}

type Path = Parameters<typeof serializeFunctionInputOutput>[1];
type RoundTrip<T> = { stringified: string; deserialized: T; sername: string };

/** What DBOS's round trip gives for a plain-JSON value under superjson: its text, and a fresh copy of the value. */
function plainRoundTrip<T>(value: T): RoundTrip<T> {
  const json = JSON.stringify(value);
  return { stringified: superjsonText(json), deserialized: JSON.parse(json) as T, sername: DBOSJSON.name() };
}

const installed = Symbol.for('durable-ops.plainJsonRoundTrips');

/**
 * DBOS round-trips every workflow's arguments as it starts it and every workflow's result as it
 * records it (serializeFunctionInputOutput and …WithSerializer: the text it writes, and the copy the
 * workflow then sees), through superjson's walk, a JSON.stringify, a JSON.parse, superjson's second
 * walk and a search of the original for functions to stub. For a plain-JSON value under superjson
 * that is the text of one JSON.stringify and the value of one JSON.parse (no `meta`, no functions):
 * that is what these two functions now do for such a value, on DBOS's own module object, which its
 * executor calls them through. Any other value, format or serializer goes to DBOS's functions as
 * before. Installed once per process; `plain-json.spec.ts` holds the results to DBOS's.
 */
export function roundTripPlainJsonDirectly(): void {
  const module = dbosSerialization as typeof dbosSerialization & { [installed]?: true };
  if (module[installed]) return;
  const withSerializer = module.serializeFunctionInputOutputWithSerializer;
  const withFormat = module.serializeFunctionInputOutput;
  module.serializeFunctionInputOutputWithSerializer = <T>(value: T, path: Path, serializer: DBOSSerializer, serialization: string | null) =>
    serialization === DBOSJSON.name() && isPlainJson(value) ? Promise.resolve(plainRoundTrip(value)) : withSerializer(value, path, serializer, serialization);
  module.serializeFunctionInputOutput = <T>(value: T, path: Path, serializer: DBOSSerializer, format?: WorkflowSerializationFormat) =>
    // DBOS's choice of format: 'native' is superjson, no choice is the serializer's own.
    (format === 'native' || (format === undefined && serializer.name() === DBOSJSON.name())) && isPlainJson(value)
      ? Promise.resolve(plainRoundTrip(value))
      : withFormat(value, path, serializer, format);
  module[installed] = true;
}
