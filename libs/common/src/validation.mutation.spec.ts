import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Min, ValidateNested, validateSync, type ValidationError } from 'class-validator';
import { ValidationFailed, type ValidationDetail } from './errors.js';
import { flattenValidationErrors, forbiddenKeyDetails, PathIdPipe, shownId, STRICT_VALIDATION, strictValidationPipe, validateContract } from './validation.js';

/**
 * The request-validation helpers on their own (the contracts' tests in libs/contracts reach them through
 * CreateIntentRequest): the edges a mutation run (docs/mutation-testing.md) showed untested.
 */

class Inner {
  @IsInt()
  @Min(1)
  n!: number;
}

class Outer {
  @IsString()
  name!: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => Inner)
  inner?: Inner;
}

/** The details of the ValidationFailed that `run` throws (fails the test on anything else). */
function details(run: () => unknown): ValidationDetail[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationFailed);
    return [...(error as ValidationFailed).details];
  }
  throw new Error('expected a ValidationFailed');
}

async function pipeDetails(value: unknown): Promise<ValidationDetail[]> {
  try {
    await strictValidationPipe().transform(value, { type: 'body', metatype: Outer });
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationFailed);
    return [...(error as ValidationFailed).details];
  }
  throw new Error('expected a ValidationFailed');
}

describe('flattenValidationErrors', () => {
  const error = (property: string, constraints?: Record<string, string>, children: ValidationError[] = []): ValidationError => ({
    property,
    constraints,
    children,
  });

  it('joins nested paths with dots, under a prefix when given one, each constraint its own detail', () => {
    const tree = [error('a', { x: 'a is x', y: 'a is y' }), error('b', undefined, [error('0', undefined, [error('c', { z: 'c is z' })])])];
    expect(flattenValidationErrors(tree)).toEqual([
      { path: 'a', message: 'a is x' },
      { path: 'a', message: 'a is y' },
      { path: 'b.0.c', message: 'c is z' },
    ]);
    expect(flattenValidationErrors(tree, 'args')).toEqual([
      { path: 'args.a', message: 'a is x' },
      { path: 'args.a', message: 'a is y' },
      { path: 'args.b.0.c', message: 'c is z' },
    ]);
  });

  it('takes an error without children (the field is optional)', () => {
    expect(flattenValidationErrors([{ property: 'a', constraints: { x: 'a is x' } }])).toEqual([{ path: 'a', message: 'a is x' }]);
  });

  it('reports at most 50 details', () => {
    const many = Array.from({ length: 60 }, (_, i) => error(`p${i}`, { c: `p${i} is bad` }));
    const flat = flattenValidationErrors(many);
    expect(flat).toHaveLength(50);
    expect(flat.at(-1)).toEqual({ path: 'p49', message: 'p49 is bad' });
  });
});

describe('forbiddenKeyDetails', () => {
  it('refuses a NUL in a string, at its path, or as "value" at the top', () => {
    expect(forbiddenKeyDetails({ a: ['ok', 'x\u0000y'] })).toEqual([{ path: 'a.1', message: 'a.1 must not contain the NUL character' }]);
    expect(forbiddenKeyDetails('x\u0000')).toEqual([{ path: '', message: 'value must not contain the NUL character' }]);
    expect(forbiddenKeyDetails('x\u0000', 'args.v')).toEqual([{ path: 'args.v', message: 'args.v must not contain the NUL character' }]);
  });

  it('refuses a lone surrogate in a string, never a well-formed pair', () => {
    expect(forbiddenKeyDetails({ s: 'a\ud800b' })).toEqual([{ path: 's', message: 's must be well-formed Unicode (no lone surrogates)' }]);
    expect(forbiddenKeyDetails('\udc00')).toEqual([{ path: '', message: 'value must be well-formed Unicode (no lone surrogates)' }]);
    expect(forbiddenKeyDetails({ s: 'a\ud83d\ude00b', t: 'plain' })).toEqual([]);
  });

  it('refuses a NUL or a lone surrogate in a key, showing the key escaped', () => {
    expect(forbiddenKeyDetails({ o: { 'a\u0000b\u0000': 1 } })).toEqual([
      { path: 'o.a\\u0000b\\u0000', message: 'property names must not contain the NUL character' },
    ]);
    expect(forbiddenKeyDetails({ 'a\ud800b\udc00': 1 })).toEqual([
      { path: 'a\ufffdb\ufffd', message: 'property names must be well-formed Unicode (no lone surrogates)' },
    ]);
    expect(forbiddenKeyDetails({ 'a\ud83d\ude00': 1, ok: 2 })).toEqual([]);
  });

  it('walks into the values of keys it refuses for NUL or a surrogate, but not into prototype-named ones', () => {
    expect(forbiddenKeyDetails({ 'k\u0000': { toString: 1 } }).map((d) => d.path)).toEqual(['k\\u0000', 'k\u0000.toString']);
    expect(forbiddenKeyDetails({ constructor: { toString: 1 } })).toEqual([{ path: 'constructor', message: 'property constructor is not allowed' }]);
  });

  it('does not look inside binary values, and leaves numbers, booleans and null alone', () => {
    const bytes = new Uint8Array([0, 1, 2]);
    expect(forbiddenKeyDetails({ bytes, buffer: bytes.buffer, n: 0, b: false, z: null })).toEqual([]);
    expect(forbiddenKeyDetails(Buffer.from('x\u0000'))).toEqual([]);
  });

  it('visits each key once, even one named "undefined"', () => {
    expect(forbiddenKeyDetails({ undefined: 'a\u0000' })).toEqual([{ path: 'undefined', message: 'undefined must not contain the NUL character' }]);
  });

  it('stops at 50 details', () => {
    const body = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, `v\u0000${i}`]));
    const found = forbiddenKeyDetails(body);
    expect(found).toHaveLength(50);
    expect(found[0]).toEqual({ path: 'k0', message: 'k0 must not contain the NUL character' });
    const keys = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k\u0000${i}`, 1]));
    expect(forbiddenKeyDetails(keys)).toHaveLength(50);
  });
});

describe('validateContract', () => {
  it('returns the transformed instance', () => {
    const value = validateContract(Outer, { name: 'x', inner: { n: 2 } });
    expect(value).toBeInstanceOf(Outer);
    expect(value.inner).toBeInstanceOf(Inner);
  });

  it.each([
    ['null', null],
    ['an array', [{ name: 'x' }]],
    ['a string', 'x'],
    ['a number', 1],
  ])('refuses %s: the value must be an object, named by its path', (_what, value) => {
    expect(details(() => validateContract(Outer, value))).toEqual([{ path: '', message: 'value must be an object' }]);
    expect(details(() => validateContract(Outer, value, 'args'))).toEqual([{ path: 'args', message: 'args must be an object' }]);
  });

  it('names details under the path prefix, forbidden keys and NULs included', () => {
    expect(details(() => validateContract(Outer, { name: 'x', inner: { n: 0 } }, 'args'))).toEqual([
      { path: 'args.inner.n', message: 'n must not be less than 1' },
    ]);
    expect(details(() => validateContract(Outer, { name: 'x', extra: 1 }, 'args'))).toEqual([
      { path: 'args.extra', message: 'property extra should not exist' },
    ]);
    expect(details(() => validateContract(Outer, { name: 'x\u0000' }, 'args'))).toEqual([
      { path: 'args.name', message: 'args.name must not contain the NUL character' },
    ]);
  });

  it('turns a throwing getter into "could not be validated" on the prefix path', () => {
    const hostile = { name: 'x' };
    Object.defineProperty(hostile, 'inner', {
      enumerable: true,
      get() {
        throw new TypeError('boom');
      },
    });
    expect(details(() => validateContract(Outer, hostile, 'args'))).toEqual([{ path: 'args', message: 'args could not be validated' }]);
  });

  it('uses the strict options: unknown values and keys are refused, nothing is shown back', () => {
    expect(STRICT_VALIDATION).toEqual({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      validationError: { target: false, value: false },
    });
    const [error] = validateSync(Object.assign(new Outer(), { name: 1 }), STRICT_VALIDATION);
    expect(error).not.toHaveProperty('value');
    expect(error).not.toHaveProperty('target');
  });
});

describe('the global pipe', () => {
  it('refuses a forbidden key or NUL before validating, and flattens its validation errors', async () => {
    expect(await pipeDetails({ name: 'x', inner: { n: 1, toString: 1 } })).toEqual([{ path: 'inner.toString', message: 'property toString is not allowed' }]);
    expect(await pipeDetails({ name: 'x', inner: { n: 0 } })).toEqual([{ path: 'inner.n', message: 'n must not be less than 1' }]);
  });

  it('does not convert types implicitly, and returns a class instance', async () => {
    expect(await pipeDetails({ name: 'x', inner: { n: '2' } })).toEqual([
      { path: 'inner.n', message: 'n must not be less than 1' },
      { path: 'inner.n', message: 'n must be an integer number' },
    ]);
    await expect(strictValidationPipe().transform({ name: 'x' }, { type: 'body', metatype: Outer })).resolves.toBeInstanceOf(Outer);
  });
});

describe('PathIdPipe', () => {
  const pipe = new PathIdPipe('runId');

  it('passes 1..200 printable ASCII characters through', () => {
    expect(pipe.transform('run_1')).toBe('run_1');
    expect(pipe.transform('!')).toBe('!');
    expect(pipe.transform('~'.repeat(200))).toBe('~'.repeat(200));
  });

  it.each([
    ['empty', ''],
    ['201 characters', 'r'.repeat(201)],
    ['a space', 'run 1'],
    ['a NUL', 'run\u0000'],
    ['DEL', 'run\u007f'],
    ['non-ASCII', 'runé'],
    ['a leading newline', '\nrun'],
    ['a trailing newline', 'run\n'],
    ['not a string', 42],
  ])('refuses %s, naming the parameter', (_what, value) => {
    expect(details(() => pipe.transform(value))).toEqual([{ path: 'runId', message: 'runId must be an ID: 1..200 printable ASCII characters' }]);
  });
});

describe('shownId', () => {
  it('shows a printable ID of up to 64 characters as it is', () => {
    expect(shownId('it_0123')).toBe('it_0123');
    expect(shownId('x'.repeat(64))).toBe('x'.repeat(64));
  });

  it('cuts a longer one to 64 characters and marks the cut', () => {
    expect(shownId('x'.repeat(65))).toBe(`${'x'.repeat(64)}…`);
    expect(shownId(`${'y'.repeat(64)}zzz`)).toBe(`${'y'.repeat(64)}…`);
  });

  it('escapes what is not printable ASCII, and JSON-escapes quotes and backslashes', () => {
    expect(shownId('a\u0000b')).toBe('a\\u0000b');
    expect(shownId('a\nb')).toBe('a\\nb');
    expect(shownId('é\u007f')).toBe('\\u00e9\\u007f');
    expect(shownId('\u202e')).toBe('\\u202e');
    expect(shownId('a"b\\c')).toBe('a\\"b\\\\c');
    expect(shownId(' ~')).toBe(' ~');
  });
});
