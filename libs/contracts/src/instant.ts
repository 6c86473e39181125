import { ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * An instant as this service accepts it: RFC 3339 (the profile of ISO 8601 that every parser agrees
 * on): `YYYY-MM-DDTHH:MM[:SS[.fraction]]` with `Z` or `±HH:MM`. Week dates (`2024-W01`), ordinal
 * dates (`2024-001`), the basic format (`20240101T000000Z`), a space separator, decimal commas,
 * hour 24, second 60 and days a month does not have (`2024-02-30`) are refused: they pass
 * class-validator's ISO 8601 check yet Date.parse makes NaN, or another day, of them.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function isInstant(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = RFC3339.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = m.slice(1).map((part) => (part === undefined ? 0 : Number(part)));
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysIn(year!, month!)) return false;
  // Every field is checked here: Date.parse alone takes hour 24 and February 30 (as another day).
  return hour! <= 23 && minute! <= 59 && second! <= 59 && offsetHours! <= 23 && offsetMinutes! <= 59;
}

/** The property is an RFC 3339 instant (see isInstant). */
export function IsInstant(validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isInstant',
      validator: {
        validate: (value: unknown): boolean => isInstant(value),
        defaultMessage: (args) => `${args?.property ?? 'value'} must be an RFC 3339 instant such as 2026-01-01T00:00:00Z`,
      },
    },
    validationOptions,
  );
}
