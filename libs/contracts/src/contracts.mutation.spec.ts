import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { STRICT_VALIDATION, flattenValidationErrors, type ValidationDetail } from '#common';
import { isInstant } from './instant.js';
import { CreateIntentRequest } from './intents.schema.js';
import { ListWorkflowsQuery } from './ops/list-workflows.schema.js';

/**
 * The contracts' runtime logic that intents.schema.spec.ts does not reach: RFC 3339 instants
 * (isInstant and its message), notBefore's 24 h cap, and the repeatable status query. The edges a
 * mutation run (docs/mutation-testing.md) showed untested.
 */

function validate<T extends object>(cls: new () => T, body: unknown): { instance: T; details: ValidationDetail[] } {
  const instance = plainToInstance(cls, body, { enableImplicitConversion: false });
  return { instance, details: flattenValidationErrors(validateSync(instance, STRICT_VALIDATION)) };
}

describe('isInstant', () => {
  it.each([
    '2024-01-01T00:00Z',
    '2024-01-01T00:00:00Z',
    '2024-01-01T00:00:00.123456789Z',
    '2024-12-31T23:59:59+23:59',
    '2024-06-15T12:30:45-05:00',
    '2024-02-29T00:00:00Z',
    '2023-04-30T00:00:00Z',
    '2023-12-31T00:00:00Z',
  ])('accepts %s', (value) => {
    expect(isInstant(value)).toBe(true);
  });

  it.each([
    ['month 0', '2024-00-10T00:00:00Z'],
    ['month 13', '2024-13-10T00:00:00Z'],
    ['day 0', '2024-01-00T00:00:00Z'],
    ['February 30', '2024-02-30T00:00:00Z'],
    ['February 29 of a common year', '2023-02-29T00:00:00Z'],
    ['April 31', '2023-04-31T00:00:00Z'],
    ['January 32', '2024-01-32T00:00:00Z'],
    ['hour 24', '2024-01-01T24:00:00Z'],
    ['minute 60', '2024-01-01T00:60:00Z'],
    ['second 60', '2024-01-01T00:00:60Z'],
    ['an offset of 24 hours', '2024-01-01T00:00:00+24:00'],
    ['an offset minute of 60', '2024-01-01T00:00:00+01:60'],
    ['no offset', '2024-01-01T00:00:00'],
    ['a space for the T', '2024-01-01 00:00:00Z'],
    ['a leading character', 'x2024-01-01T00:00:00Z'],
    ['a trailing character', '2024-01-01T00:00:00Zx'],
    ['ten fraction digits', '2024-01-01T00:00:00.1234567890Z'],
    ['a date only', '2024-01-01'],
    ['a number', 1_700_000_000_000],
    ['null', null],
  ])('refuses %s', (_what, value) => {
    expect(isInstant(value)).toBe(false);
  });

  it('refuses a non-string even when it reads as an instant (a type guard for strings)', () => {
    expect(isInstant({ toString: () => '2024-01-01T00:00:00Z' })).toBe(false);
    expect(isInstant(new String('2024-01-01T00:00:00Z'))).toBe(false);
  });

  it('names the property in its message', () => {
    const { details } = validate(ListWorkflowsQuery, { createdAfter: '2024-02-30T00:00:00Z' });
    expect(details).toEqual([{ path: 'createdAfter', message: 'createdAfter must be an RFC 3339 instant such as 2026-01-01T00:00:00Z' }]);
  });
});

describe('constraints.notBefore', () => {
  const intent = (notBefore: unknown) => ({ goal: 'g', inputs: { tasks: [{ connector: 'echo', args: {} }] }, constraints: { notBefore } });

  it('takes an instant in the past or within 24 h, and refuses one further out with its own message', () => {
    expect(validate(CreateIntentRequest, intent('2020-01-01T00:00:00Z')).details).toEqual([]);
    expect(validate(CreateIntentRequest, intent(new Date(Date.now() + 3_600_000).toISOString())).details).toEqual([]);
    expect(validate(CreateIntentRequest, intent(new Date(Date.now() + 86_400_000 + 60_000).toISOString())).details).toEqual([
      { path: 'constraints.notBefore', message: 'notBefore must be at most 24 h (86400000 ms) from now' },
    ]);
  });

  it('leaves a value that is not an instant to IsInstant alone (one detail, not two)', () => {
    expect(validate(CreateIntentRequest, intent('tomorrow')).details).toEqual([
      { path: 'constraints.notBefore', message: 'notBefore must be an RFC 3339 instant such as 2026-01-01T00:00:00Z' },
    ]);
    expect(validate(CreateIntentRequest, intent(1_900_000_000_000)).details).toEqual([
      { path: 'constraints.notBefore', message: 'notBefore must be an RFC 3339 instant such as 2026-01-01T00:00:00Z' },
    ]);
  });
});

describe('ListWorkflowsQuery.status', () => {
  it('takes one status or several, always as a list', () => {
    const one = validate(ListWorkflowsQuery, { status: 'ERROR' });
    expect(one.details).toEqual([]);
    expect(one.instance.status).toEqual(['ERROR']);
    const two = validate(ListWorkflowsQuery, { status: ['ERROR', 'CANCELLED'] });
    expect(two.details).toEqual([]);
    expect(two.instance.status).toEqual(['ERROR', 'CANCELLED']);
  });

  it('refuses an unknown status', () => {
    expect(validate(ListWorkflowsQuery, { status: ['ERROR', 'DONE'] }).details.map((d) => d.path)).toEqual(['status']);
  });
});
