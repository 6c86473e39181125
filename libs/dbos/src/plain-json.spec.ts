import dbosSerialization, { DBOSJSON, DBOSPortableJSON, type DBOSSerializer, serializeFunctionInputOutput } from '@dbos-inc/dbos-sdk/internal/serialization';
import type { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { isPlainJson, roundTripPlainJsonDirectly, roundTripStepOutput, stepOutputText } from './plain-json.js';

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

describe('DBOS’s round trips of workflow arguments and results, with plain JSON taken directly', () => {
  // DBOS's own functions, taken before the installation replaces them on its module object.
  const dbosWithFormat = dbosSerialization.serializeFunctionInputOutput;
  const dbosWithSerializer = dbosSerialization.serializeFunctionInputOutputWithSerializer;
  const custom: DBOSSerializer = {
    name: () => 'custom',
    stringify: (v) => `custom:${JSON.stringify(v)}`,
    parse: (t) => (t == null ? null : JSON.parse(t.slice(7))),
  };
  const withFunction = { a: 1, f: () => 1 };
  const VALUES: readonly unknown[] = [
    ...PLAIN,
    [{ intentId: 'it_1', lineageRoot: 'run_1', createdAtMs: 1764876543210 }],
    { a: 1, when: new Date(0) },
    new Map([['a', 1]]),
    [1, undefined],
    new Point(1, 2),
    withFunction,
  ];

  beforeAll(() => {
    roundTripPlainJsonDirectly();
    roundTripPlainJsonDirectly(); // once only: a second call must not wrap the wrappers
  });

  it('replaces the functions DBOS’s executor calls, on its module object', () => {
    expect(dbosSerialization.serializeFunctionInputOutput).not.toBe(dbosWithFormat);
    expect(dbosSerialization.serializeFunctionInputOutputWithSerializer).not.toBe(dbosWithSerializer);
  });

  /** Every value through DBOS's function and through ours: the same result, or the same error. */
  const expectSameAsDbos = async (dbos: (value: unknown) => Promise<unknown>, ours: (value: unknown) => Promise<unknown>): Promise<void> => {
    for (const value of VALUES) expect(await ours(value).catch((e: unknown) => e)).toEqual(await dbos(value).catch((e: unknown) => e));
  };

  it('gives what DBOS gives, for every format and serializer (a workflow’s arguments: serializeFunctionInputOutput)', async () => {
    const path = ['IntentWorkflow', '<arguments>'];
    for (const format of [undefined, 'native', 'portable'] as const) {
      for (const serializer of [DBOSJSON, custom]) {
        await expectSameAsDbos(
          (value) => dbosWithFormat(value, path, serializer, format),
          (value) => dbosSerialization.serializeFunctionInputOutput(value, path, serializer, format),
        );
      }
    }
  });

  it('gives what DBOS gives, for every recorded format (a workflow’s result: …WithSerializer)', async () => {
    const path = ['IntentWorkflow', '<result>'];
    for (const serialization of [DBOSJSON.name(), DBOSPortableJSON.name(), 'custom', null]) {
      for (const serializer of [DBOSJSON, custom]) {
        await expectSameAsDbos(
          (value) => dbosWithSerializer(value, path, serializer, serialization),
          (value) => dbosSerialization.serializeFunctionInputOutputWithSerializer(value, path, serializer, serialization),
        );
      }
    }
  });

  it('hands back a copy, as DBOS does: the workflow never shares its caller’s object', async () => {
    const input = [{ intentId: 'it_1', nested: { list: [1, 2] } }];
    const { deserialized } = await dbosSerialization.serializeFunctionInputOutput(input, [], DBOSJSON);
    expect(deserialized).toEqual(input);
    expect(deserialized).not.toBe(input);
    expect(deserialized[0]!.nested).not.toBe(input[0]!.nested);
  });

  it('still stubs the functions a value loses (left to DBOS: a value with a function is not plain JSON)', async () => {
    const { deserialized } = await dbosSerialization.serializeFunctionInputOutput(withFunction, ['wf', '<result>'], DBOSJSON);
    expect(() => deserialized.f()).toThrow(/Functions are not preserved/);
  });
});
