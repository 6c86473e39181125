import { DBOSJSON, serializeFunctionInputOutput } from '@dbos-inc/dbos-sdk/internal/serialization';
import type { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { isPlainJson, roundTripStepOutput, stepOutputText } from './step-output.js';

const executor = { serializer: DBOSJSON } as unknown as DBOSExecutor;

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { d: value };
  return value;
}

function sparse(): unknown[] {
  const holes: unknown[] = new Array(3);
  holes[0] = 1;
  holes[2] = 3;
  return holes;
}

const PLAIN: readonly unknown[] = [
  null,
  true,
  '',
  'text with "quotes", \\ and \n',
  'unicode: ü, 😀, a lone \ud800 surrogate',
  0,
  -12.5,
  1e21,
  Number.MAX_SAFE_INTEGER,
  [],
  {},
  [1, 'two', null, { three: [3] }],
  { tasks: [{ taskKey: 'tk_1', index: 0, connector: 'echo', status: 'succeeded', replayed: false, output: { value: 'bench' } }] },
  { '10': 'integer-like keys', b: 1, a: 2 },
  JSON.parse('{"nested":{"deep":[{"x":1}]}}'),
  nested(40),
];

const NOT_PLAIN: readonly unknown[] = [
  undefined,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  -0,
  10n,
  new Date(0),
  new Map([['a', 1]]),
  new Set([1]),
  /regex/,
  new Point(1, 2),
  Object.create(null) as object,
  () => 1,
  { a: undefined },
  { a: 1, when: new Date(0) },
  [1, undefined],
  sparse(),
  JSON.parse('{"__proto__":{"x":1}}'),
  nested(100),
];

describe('step outputs: plain JSON without superjson’s walk, everything else through it', () => {
  it('tells plain JSON from the values superjson annotates', () => {
    for (const value of PLAIN) expect(isPlainJson(value)).toBe(true);
    for (const value of NOT_PLAIN) expect(isPlainJson(value)).toBe(false);
  });

  it('writes exactly the text DBOS’s superjson serializer writes, for both kinds', async () => {
    for (const value of [...PLAIN, ...NOT_PLAIN.filter((v) => typeof v !== 'function' && typeof v !== 'bigint' && v !== undefined)]) {
      expect(await stepOutputText(executor, value)).toBe(DBOSJSON.stringify(value));
    }
  });

  it('round-trips as DBOS does: the same text, and the value a replay returns', async () => {
    for (const value of [...PLAIN, { a: 1, when: new Date(0) }, new Map([['a', 1]]), [1, undefined]]) {
      const ours = await roundTripStepOutput(executor, value, 'ExecuteST');
      const dbos = await serializeFunctionInputOutput(value, ['ExecuteST', '<result>'], DBOSJSON);
      expect(ours.stringified).toBe(dbos.stringified);
      expect(ours.sername).toBe(dbos.sername);
      expect(ours.deserialized).toEqual(dbos.deserialized);
      expect(DBOSJSON.parse(ours.stringified)).toEqual(dbos.deserialized);
    }
  });
});
