import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import fc from 'fast-check';
import type { ArgumentMetadata } from '@nestjs/common';
import {
  STRICT_VALIDATION,
  ValidationFailed,
  flattenValidationErrors,
  forbiddenKeyDetails,
  strictValidationPipe,
  validateContract,
  type ValidationDetail,
} from '#common';
import { decodeCursor, decodeKeyset, encodeCursor, encodeKeyset } from './cursor.js';
import { CreateIntentRequest } from './intents.schema.js';
import { ListRunsQuery, StartRunRequest } from './runs.schema.js';

/** What the global pipe does with a body: transform (no implicit conversion), validate strictly, flatten. */
function validate<T extends object>(cls: new () => T, body: unknown): { instance: T; details: ValidationDetail[] } {
  const instance = plainToInstance(cls, body, { enableImplicitConversion: false });
  const details = flattenValidationErrors(validateSync(instance, STRICT_VALIDATION));
  return { instance, details };
}

const paths = (details: readonly ValidationDetail[]) => details.map((d) => d.path);

/** What the real global pipe answers for a body: the transformed value, or the details of its 400. */
async function viaPipe(cls: new () => object, body: unknown, type: ArgumentMetadata['type'] = 'body'): Promise<ValidationDetail[]> {
  try {
    await strictValidationPipe().transform(body, { type, metatype: cls });
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationFailed);
    return [...(error as ValidationFailed).details];
  }
}

/** What validateContract answers: [] or the details of the ValidationFailed it throws (anything else fails). */
function viaContract(cls: new () => object, value: unknown): ValidationDetail[] {
  try {
    validateContract(cls, value);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationFailed);
    return [...(error as ValidationFailed).details];
  }
}

/** Every name class-transformer would drop silently: the members of Object.prototype, and `prototype`. */
const PROTOTYPE_NAMES = [...Object.getOwnPropertyNames(Object.prototype), 'prototype'];

/** Sets an own, enumerable key, even `__proto__` (as JSON.parse does). */
function withOwnKey(target: Record<string, unknown>, name: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

function intent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    goal: 'say hello',
    inputs: { tasks: [{ connector: 'echo', args: { value: 'hello' } }] },
    constraints: {},
    ...overrides,
  };
}

const tasks = (n: number) => Array.from({ length: n }, (_, i) => ({ connector: 'echo', args: { value: i } }));

function withConstraints(constraints: Record<string, unknown>) {
  return intent({ constraints });
}

describe('CreateIntentRequest', () => {
  it('accepts a minimal intent and keeps its values', () => {
    const { instance, details } = validate(CreateIntentRequest, intent());
    expect(details).toEqual([]);
    expect(instance).toBeInstanceOf(CreateIntentRequest);
    expect(instance.goal).toBe('say hello');
    expect(instance.inputs.tasks).toEqual([{ connector: 'echo', args: { value: 'hello' } }]);
  });

  it('accepts a full intent with every constraint at its bounds', () => {
    // notBefore a minute inside its cap (24 h from now), so the check's own clock cannot cross it.
    const notBefore = new Date(Date.now() + 86_400_000 - 60_000).toISOString();
    const body = intent({
      goal: 'g'.repeat(2000),
      inputs: { tasks: tasks(100), data: { k: 1 } },
      constraints: { delayMs: 86_400_000, notBefore, maxAttempts: 10, taskTimeoutMs: 3_600_000, dryRun: true },
      connectors: ['echo', 'http', 'my_conn-2'],
    });
    expect(validate(CreateIntentRequest, body).details).toEqual([]);
    expect(validate(CreateIntentRequest, withConstraints({ delayMs: 0, maxAttempts: 1, taskTimeoutMs: 1, dryRun: false })).details).toEqual([]);
  });

  it('validates through validateContract with the same details', () => {
    expect(() => validateContract(CreateIntentRequest, intent({ extra: 1 }))).toThrow(ValidationFailed);
    try {
      validateContract(CreateIntentRequest, intent({ extra: 1 }));
    } catch (error) {
      expect((error as ValidationFailed).details).toEqual([{ path: 'extra', message: 'property extra should not exist' }]);
    }
  });

  describe('rejects unknown keys at every level with the exact path', () => {
    it.each([
      ['top level', intent({ x: 1 }), 'x'],
      ['inputs', intent({ inputs: { tasks: tasks(1), x: 1 } }), 'inputs.x'],
      ['a task', intent({ inputs: { tasks: [{ connector: 'echo', args: {}, x: 1 }] } }), 'inputs.tasks.0.x'],
      ['the third task', intent({ inputs: { tasks: [...tasks(2), { connector: 'echo', args: {}, retries: 3 }] } }), 'inputs.tasks.2.retries'],
      ['constraints', withConstraints({ delayMs: 5, x: 1 }), 'constraints.x'],
    ])('%s', (_where, body, path) => {
      const { details } = validate(CreateIntentRequest, body);
      expect(details).toContainEqual({ path, message: expect.stringContaining('should not exist') as string });
      expect(details).toHaveLength(1);
    });

    it('for any key name the contract does not declare, through the global pipe and validateContract (property)', async () => {
      const declared = new Set(['goal', 'inputs', 'constraints', 'connectors', 'tasks', 'data', 'connector', 'args']);
      const declaredConstraints = ['delayMs', 'notBefore', 'maxAttempts', 'taskTimeoutMs', 'dryRun'];
      const key = fc
        .oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom(...PROTOTYPE_NAMES))
        .filter((k) => !declared.has(k) && !declaredConstraints.includes(k));
      await fc.assert(
        fc.asyncProperty(key, fc.constantFrom('top', 'inputs', 'task', 'constraints'), fc.jsonValue(), async (name, where, value) => {
          const body = intent();
          if (where === 'top') withOwnKey(body, name, value);
          if (where === 'inputs') body.inputs = withOwnKey({ tasks: tasks(1) }, name, value);
          if (where === 'task') body.inputs = { tasks: [withOwnKey({ connector: 'echo', args: {} }, name, value)] };
          if (where === 'constraints') body.constraints = withOwnKey({}, name, value);
          const at = { top: name, inputs: `inputs.${name}`, task: `inputs.tasks.0.${name}`, constraints: `constraints.${name}` }[where];
          // The key itself is refused, or (when its value holds a prototype-named key, as fc.jsonValue() may) something inside it.
          for (const details of [await viaPipe(CreateIntentRequest, body), viaContract(CreateIntentRequest, body)]) {
            if (details.length === 0 || !details.every((d) => d.path === at || d.path.startsWith(`${at}.`))) return false;
          }
          return true;
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('refuses keys named like Object.prototype members anywhere, open objects included', () => {
    const places: [string, (name: string) => Record<string, unknown>, string][] = [
      ['top level', (name) => withOwnKey(intent(), name, 'x'), ''],
      ['inputs', (name) => intent({ inputs: withOwnKey({ tasks: tasks(1) }, name, 'x') }), 'inputs.'],
      ['a task', (name) => intent({ inputs: { tasks: [withOwnKey({ connector: 'echo', args: {} }, name, 'x')] } }), 'inputs.tasks.0.'],
      ['constraints', (name) => intent({ constraints: withOwnKey({}, name, 'x') }), 'constraints.'],
      ['inputs.data (open)', (name) => intent({ inputs: { tasks: tasks(1), data: withOwnKey({ ok: 1 }, name, 'x') } }), 'inputs.data.'],
      ['task args (open)', (name) => intent({ inputs: { tasks: [{ connector: 'echo', args: withOwnKey({ value: 1 }, name, 'x') }] } }), 'inputs.tasks.0.args.'],
      [
        'deep inside an echo value',
        (name) => intent({ inputs: { tasks: [{ connector: 'echo', args: { value: [{ a: withOwnKey({}, name, 1) }] } }] } }),
        'inputs.tasks.0.args.value.0.a.',
      ],
    ];

    describe.each(places)('in %s', (_where, build, prefix) => {
      it.each(PROTOTYPE_NAMES)('%s → 400 naming it (global pipe and validateContract)', async (name) => {
        const expected = [{ path: `${prefix}${name}`, message: `property ${name} is not allowed` }];
        expect(await viaPipe(CreateIntentRequest, build(name))).toEqual(expected);
        expect(viaContract(CreateIntentRequest, build(name))).toEqual(expected);
      });
    });

    it('catches an own __proto__ key as JSON.parse creates it', async () => {
      const body = JSON.parse(
        '{"goal":"g","inputs":{"tasks":[{"connector":"echo","args":{"value":{"__proto__":{"polluted":true}}}}]},"constraints":{}}',
      ) as unknown;
      const expected = [{ path: 'inputs.tasks.0.args.value.__proto__', message: 'property __proto__ is not allowed' }];
      expect(await viaPipe(CreateIntentRequest, body)).toEqual(expected);
      expect(viaContract(CreateIntentRequest, body)).toEqual(expected);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('checks query objects too', async () => {
      expect(await viaPipe(ListRunsQuery, withOwnKey({ limit: '5' }, 'toString', '1'), 'query')).toEqual([
        { path: 'toString', message: 'property toString is not allowed' },
      ]);
    });

    it('reports every offending key, each with its path (own keys first, then children in key order)', () => {
      expect(forbiddenKeyDetails({ a: { toString: 1 }, b: [{ valueOf: 2 }], constructor: 3 })).toEqual([
        { path: 'constructor', message: 'property constructor is not allowed' },
        { path: 'a.toString', message: 'property toString is not allowed' },
        { path: 'b.0.valueOf', message: 'property valueOf is not allowed' },
      ]);
      expect(forbiddenKeyDetails({ toString: 1 }, 'inputs.tasks.0.args')).toEqual([
        { path: 'inputs.tasks.0.args.toString', message: 'property toString is not allowed' },
      ]);
    });

    it('walks a very deep or cyclic value without overflowing', () => {
      let deep: unknown = { toString: 1 };
      for (let i = 0; i < 100_000; i++) deep = [deep];
      expect(forbiddenKeyDetails(deep)).toHaveLength(1);
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      expect(forbiddenKeyDetails(cyclic)).toEqual([]);
    });

    it('leaves ordinary keys alone, including ones that merely contain a prototype name', async () => {
      const body = intent({
        inputs: { tasks: [{ connector: 'echo', args: { value: { toStringX: 1, my_constructor: 2, proto: 3 } } }], data: { valueOf_: 1 } },
      });
      expect(await viaPipe(CreateIntentRequest, body)).toEqual([]);
      expect(viaContract(CreateIntentRequest, body)).toEqual([]);
    });
  });

  describe('the global pipe', () => {
    it('passes non-class parameters through unchanged, whatever they hold', async () => {
      const pipe = strictValidationPipe();
      await expect(pipe.transform('toString', { type: 'param', metatype: String, data: 'id' })).resolves.toBe('toString');
      await expect(pipe.transform('run_abc', { type: 'param', metatype: String, data: 'id' })).resolves.toBe('run_abc');
      const custom = withOwnKey({}, 'constructor', 1);
      await expect(pipe.transform(custom, { type: 'custom', metatype: CreateIntentRequest })).resolves.toBe(custom);
      const untyped = { toString: 'x' };
      await expect(pipe.transform(untyped, { type: 'body', metatype: Object })).resolves.toBe(untyped);
    });

    it('still transforms and validates a class body', async () => {
      const pipe = strictValidationPipe();
      await expect(pipe.transform(intent(), { type: 'body', metatype: CreateIntentRequest })).resolves.toBeInstanceOf(CreateIntentRequest);
      expect(await viaPipe(CreateIntentRequest, intent({ extra: 1 }))).toEqual([{ path: 'extra', message: 'property extra should not exist' }]);
    });
  });

  it('validateContract turns an unexpected throw inside the transformer into a ValidationFailed', () => {
    const hostile = { goal: 'g', constraints: {} } as Record<string, unknown>;
    Object.defineProperty(hostile, 'inputs', {
      enumerable: true,
      get() {
        throw new TypeError('boom');
      },
    });
    expect(viaContract(CreateIntentRequest, hostile)).toEqual([{ path: '', message: 'value could not be validated' }]);
  });

  it('lets inputs.data hold anything: it is the one open object', () => {
    const data = { anything: { deeply: { nested: [1, 'two', null, { x: true }] } }, 'odd key': 1, tasks: 'not the tasks' };
    const { instance, details } = validate(CreateIntentRequest, intent({ inputs: { tasks: tasks(1), data } }));
    expect(details).toEqual([]);
    expect(instance.inputs.data).toEqual(data);
  });

  it('rejects inputs.data that is not an object', () => {
    expect(paths(validate(CreateIntentRequest, intent({ inputs: { tasks: tasks(1), data: [1, 2] } })).details)).toEqual(['inputs.data']);
    expect(paths(validate(CreateIntentRequest, intent({ inputs: { tasks: tasks(1), data: 'text' } })).details)).toEqual(['inputs.data']);
  });

  it.each([
    ['empty', ''],
    ['longer than 2000 characters', 'g'.repeat(2001)],
    ['not a string', 42],
    ['missing', undefined],
  ])('rejects a goal that is %s', (_what, goal) => {
    expect(paths(validate(CreateIntentRequest, intent({ goal })).details)).toContain('goal');
  });

  it.each([
    ['no tasks', 0],
    ['101 tasks', 101],
  ])('rejects %s', (_what, n) => {
    const { details } = validate(CreateIntentRequest, intent({ inputs: { tasks: tasks(n) } }));
    expect(paths(details)).toEqual(['inputs.tasks']);
  });

  it('rejects missing inputs, missing tasks, and tasks that are not an array', () => {
    expect(paths(validate(CreateIntentRequest, intent({ inputs: undefined })).details)).toContain('inputs');
    expect(paths(validate(CreateIntentRequest, intent({ inputs: {} })).details)).toContain('inputs.tasks');
    expect(paths(validate(CreateIntentRequest, intent({ inputs: { tasks: { connector: 'echo', args: {} } } })).details)).toContain('inputs.tasks');
  });

  it('requires constraints, even if empty', () => {
    expect(paths(validate(CreateIntentRequest, intent({ constraints: undefined })).details)).toContain('constraints');
    expect(paths(validate(CreateIntentRequest, intent({ constraints: [] })).details)).toContain('constraints');
  });

  it.each([
    ['delayMs', -1],
    ['delayMs', 86_400_001],
    ['delayMs', 1.5],
    ['delayMs', '100'],
    ['maxAttempts', 0],
    ['maxAttempts', 11],
    ['maxAttempts', 2.5],
    ['taskTimeoutMs', 0],
    ['taskTimeoutMs', 3_600_001],
    ['notBefore', 'tomorrow'],
    ['notBefore', '2030-13-01T00:00:00Z'],
    ['notBefore', 1_900_000_000_000],
    ['notBefore', '9999-12-31T23:59:59Z'],
    ['notBefore', new Date(Date.now() + 86_400_000 + 60_000).toISOString()],
    ['dryRun', 'true'],
    ['dryRun', 1],
  ])('rejects constraints.%s = %p', (name, value) => {
    const { details } = validate(CreateIntentRequest, withConstraints({ [name]: value }));
    expect(paths(details).length).toBeGreaterThan(0);
    expect(new Set(paths(details))).toEqual(new Set([`constraints.${name}`]));
  });

  it('rejects connectors that repeat or are not connector names', () => {
    expect(paths(validate(CreateIntentRequest, intent({ connectors: ['echo', 'echo'] })).details)).toEqual(['connectors']);
    expect(paths(validate(CreateIntentRequest, intent({ connectors: ['Echo'] })).details)).toEqual(['connectors']);
    expect(paths(validate(CreateIntentRequest, intent({ connectors: ['1http'] })).details)).toEqual(['connectors']);
    expect(paths(validate(CreateIntentRequest, intent({ connectors: [42] })).details)).toContain('connectors');
    expect(paths(validate(CreateIntentRequest, intent({ connectors: 'echo' })).details)).toContain('connectors');
  });

  it('rejects a task connector that is not a connector name', () => {
    const body = intent({ inputs: { tasks: [{ connector: 'Not A Name', args: {} }] } });
    expect(validate(CreateIntentRequest, body).details).toEqual([
      { path: 'inputs.tasks.0.connector', message: 'connector must be a connector name such as echo, http or fault' },
    ]);
  });

  it.each([
    ['missing', { connector: 'echo' }],
    ['an array', { connector: 'echo', args: [1, 2] }],
    ['null', { connector: 'echo', args: null }],
    ['a string', { connector: 'echo', args: 'hello' }],
  ])('rejects task args that are %s', (_what, task) => {
    const { details } = validate(CreateIntentRequest, intent({ inputs: { tasks: [...tasks(1), task] } }));
    expect(new Set(paths(details))).toEqual(new Set(['inputs.tasks.1.args']));
  });

  it('reports every problem of a bad body, each with its path', () => {
    const body = { goal: '', inputs: { tasks: [{ connector: 'echo' }] }, constraints: { maxAttempts: 0 }, extra: true };
    const found = new Set(paths(validate(CreateIntentRequest, body).details));
    expect(found).toEqual(new Set(['goal', 'inputs.tasks.0.args', 'constraints.maxAttempts', 'extra']));
  });
});

describe('StartRunRequest', () => {
  const intentId = `it_${'0123456789abcdef'.repeat(2)}`;

  it('accepts an intent id with every option at its bounds', () => {
    expect(validate(StartRunRequest, { intentId }).details).toEqual([]);
    const full = { intentId, idempotencyKey: 'k'.repeat(200), priority: 1_000_000, timeoutMS: 604_800_000, queuePartitionKey: 'p' };
    expect(validate(StartRunRequest, full).details).toEqual([]);
    expect(validate(StartRunRequest, { intentId, priority: 1, timeoutMS: 1000 }).details).toEqual([]);
  });

  it.each([
    ['missing', undefined],
    ['without the prefix', '0123456789abcdef'.repeat(2)],
    ['31 hex characters', `it_${'a'.repeat(31)}`],
    ['33 hex characters', `it_${'a'.repeat(33)}`],
    ['upper-case hex', `it_${'A'.repeat(32)}`],
    ['a run id', `run_${'a'.repeat(32)}`],
  ])('rejects an intentId that is %s', (_what, bad) => {
    const { details } = validate(StartRunRequest, { intentId: bad });
    expect(new Set(paths(details))).toEqual(new Set(['intentId']));
  });

  it.each([
    ['priority', 0],
    ['priority', 1_000_001],
    ['priority', 1.5],
    ['timeoutMS', 999],
    ['timeoutMS', 604_800_001],
    ['timeoutMS', '5000'],
    ['idempotencyKey', ''],
    ['idempotencyKey', 'k'.repeat(201)],
    ['queuePartitionKey', ''],
  ])('rejects %s = %p', (name, value) => {
    expect(new Set(paths(validate(StartRunRequest, { intentId, [name]: value }).details))).toEqual(new Set([name]));
  });

  it('rejects an unknown key (a common typo included)', () => {
    expect(validate(StartRunRequest, { intentId, timeoutMs: 5000 }).details).toEqual([{ path: 'timeoutMs', message: 'property timeoutMs should not exist' }]);
  });
});

describe('ListRunsQuery', () => {
  it('converts a limit from the query string to a number', () => {
    const { instance, details } = validate(ListRunsQuery, { limit: '5' });
    expect(details).toEqual([]);
    expect(instance.limit).toBe(5);
  });

  it('accepts the query filters', () => {
    expect(validate(ListRunsQuery, { status: 'failed', intentId: `it_${'f'.repeat(32)}`, limit: '200', cursor: 'abc' }).details).toEqual([]);
    expect(validate(ListRunsQuery, {}).details).toEqual([]);
  });

  it.each(['0', '201', 'ten', '1.5', ''])('rejects limit=%p', (limit) => {
    expect(paths(validate(ListRunsQuery, { limit }).details)).toEqual(expect.arrayContaining(['limit']));
    expect(new Set(paths(validate(ListRunsQuery, { limit }).details))).toEqual(new Set(['limit']));
  });

  it.each(['done', 'SUCCEEDED', 'cancelled'])('rejects status=%p', (status) => {
    expect(paths(validate(ListRunsQuery, { status }).details)).toEqual(['status']);
  });

  it('rejects a bad intentId filter and unknown query keys', () => {
    expect(paths(validate(ListRunsQuery, { intentId: 'it_nothex' }).details)).toEqual(['intentId']);
    expect(paths(validate(ListRunsQuery, { page: '2' }).details)).toEqual(['page']);
  });
});

describe('cursor', () => {
  it('round-trips a keyset', () => {
    const key = { createdAt: '2024-05-01T12:34:56.789012Z', id: 'run_abc' };
    const cursor = encodeCursor(key);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(key);
  });

  it('round-trips any keyset (property)', () => {
    // The form the repositories issue: to_char(... 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), microseconds included.
    const createdAt = fc
      .tuple(fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), fc.integer({ min: 0, max: 999 }))
      .map(([d, micros]) => d.toISOString().replace('Z', `${String(micros).padStart(3, '0')}Z`));
    const id = fc.stringMatching(/^[\x21-\x7e]{1,200}$/);
    fc.assert(
      fc.property(createdAt, id, (c, id) => {
        expect(decodeCursor(encodeCursor({ createdAt: c, id }))).toEqual({ createdAt: c, id });
      }),
    );
  });

  function cursorError(cursor: string): unknown {
    try {
      decodeCursor(cursor);
    } catch (error) {
      return error;
    }
    return undefined;
  }

  it.each([
    ['garbage', 'not a cursor!!'],
    ['empty', ''],
    ['base64 of non-JSON', Buffer.from('hello').toString('base64url')],
    ['an object', Buffer.from(JSON.stringify({ createdAt: '2024-01-01T00:00:00Z', id: 'x' })).toString('base64url')],
    ['three elements', Buffer.from(JSON.stringify(['2024-01-01T00:00:00Z', 'x', 'y'])).toString('base64url')],
    ['a non-date', Buffer.from(JSON.stringify(['yesterday', 'x'])).toString('base64url')],
    ['a numeric id', Buffer.from(JSON.stringify(['2024-01-01T00:00:00.000000Z', 7])).toString('base64url')],
    ['a number Date.parse accepts', encodeKeyset(['1', 'run_x'])],
    ['a date Date.parse accepts', encodeKeyset(['May 1, 2024', 'run_x'])],
    ['an ISO time without microseconds', encodeKeyset(['2024-01-01T00:00:00Z', 'run_x'])],
    ['an ISO time with milliseconds', encodeKeyset(['2024-01-01T00:00:00.000Z', 'run_x'])],
    ['an ISO time with an offset', encodeKeyset(['2024-01-01T00:00:00.000000+01:00', 'run_x'])],
    ['a date only', encodeKeyset(['2024-01-01', 'run_x'])],
    ['month 13', encodeKeyset(['2024-13-01T00:00:00.000000Z', 'run_x'])],
    ['hour 24', encodeKeyset(['2024-01-01T24:00:00.000000Z', 'run_x'])],
    ['February 30', encodeKeyset(['2024-02-30T00:00:00.000000Z', 'run_x'])],
    ['year 0', encodeKeyset(['0000-01-01T00:00:00.000000Z', 'run_x'])],
    ['trailing text', encodeKeyset(['2024-01-01T00:00:00.000000Z junk', 'run_x'])],
    ['an empty id', encodeKeyset(['2024-01-01T00:00:00.000000Z', ''])],
    ['an id with a NUL', encodeKeyset(['2024-01-01T00:00:00.000000Z', 'run_\u0000'])],
  ])('rejects %s as a validation error on the cursor path', (_what, cursor) => {
    const error = cursorError(cursor);
    expect(error).toBeInstanceOf(ValidationFailed);
    expect((error as ValidationFailed).details).toEqual([{ path: 'cursor', message: 'cursor is not a cursor this service issued' }]);
  });

  it('accepts exactly the issued form, leap days included', () => {
    for (const createdAt of ['2024-02-29T23:59:59.999999Z', '0001-01-01T00:00:00.000000Z', '9999-12-31T23:59:59.000001Z']) {
      expect(decodeCursor(encodeCursor({ createdAt, id: 'it_0' }))).toEqual({ createdAt, id: 'it_0' });
    }
  });

  it('keeps its encoding: a cursor issued before is still read', () => {
    const issued = Buffer.from(JSON.stringify(['2024-05-01T12:34:56.789012Z', 'run_abc'])).toString('base64url');
    expect(encodeCursor({ createdAt: '2024-05-01T12:34:56.789012Z', id: 'run_abc' })).toBe(issued);
  });

  describe('generic keysets', () => {
    const EPOCH_MS = /^\d{1,16}$/;
    const ID = /^[\x21-\x7e]{1,200}$/;

    it('round-trips parts validated by their own patterns', () => {
      expect(decodeKeyset(encodeKeyset(['1714566896789', 'wf-1']), [EPOCH_MS, ID])).toEqual(['1714566896789', 'wf-1']);
      expect(decodeKeyset(encodeKeyset(['a', 'b', 'c']), [/^a$/, /^b$/, /^c$/])).toEqual(['a', 'b', 'c']);
    });

    it.each([
      ['a part failing its pattern', ['2024-01-01T00:00:00.000000Z', 'wf-1']],
      ['too few parts', ['1714566896789']],
      ['too many parts', ['1714566896789', 'wf-1', 'x']],
      ['a non-string part', [1714566896789, 'wf-1']],
    ])('rejects %s', (_what, parts) => {
      const cursor = Buffer.from(JSON.stringify(parts)).toString('base64url');
      let thrown: unknown;
      try {
        decodeKeyset(cursor, [EPOCH_MS, ID]);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ValidationFailed);
      expect((thrown as ValidationFailed).details).toEqual([{ path: 'cursor', message: 'cursor is not a cursor this service issued' }]);
    });

    it('is not fooled by a global pattern', () => {
      const global = /^\d+$/g;
      const cursor = encodeKeyset(['123']);
      expect(decodeKeyset(cursor, [global])).toEqual(['123']);
      expect(decodeKeyset(cursor, [global])).toEqual(['123']);
    });
  });

  it('never throws anything but ValidationFailed (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '').toString('base64url')),
        ),
        (cursor) => {
          const error = cursorError(cursor);
          return error === undefined || error instanceof ValidationFailed;
        },
      ),
    );
  });
});
