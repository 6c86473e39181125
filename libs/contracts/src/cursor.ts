import { ValidationFailed } from '#common';

/** Opaque keyset cursor over (created_at DESC, id DESC). */
export interface Keyset {
  readonly createdAt: string;
  readonly id: string;
}

function notACursor(): ValidationFailed {
  return new ValidationFailed([{ path: 'cursor', message: 'cursor is not a cursor this service issued' }]);
}

/** Encodes the parts of a keyset as an opaque, URL-safe cursor. */
export function encodeKeyset(parts: readonly string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/**
 * Decodes a cursor made by {@link encodeKeyset}: it must hold exactly one string per validator, each
 * matching its validator in full. Anything else is a 400 on the `cursor` path, never a database error.
 */
export function decodeKeyset(cursor: string, validators: readonly RegExp[]): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw notACursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== validators.length) throw notACursor();
  const parts: string[] = [];
  for (const [index, validator] of validators.entries()) {
    const part: unknown = parsed[index];
    validator.lastIndex = 0;
    if (typeof part !== 'string' || !validator.test(part)) throw notACursor();
    parts.push(part);
  }
  return parts;
}

/**
 * The instant as the repositories issue it (`to_char(... 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`), and only
 * that: `Date.parse` accepts forms (`"1"`, `"May 1"`) that Postgres `::timestamptz` rejects.
 */
const ISO_MICROS = /^(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z$/;
/** Run and intent IDs: printable ASCII, bounded (never a NUL, which Postgres text cannot hold). */
const KEYSET_ID = /^[\x21-\x7e]{1,200}$/;

/** A calendar date that exists (rejects 2024-02-30, which the pattern alone admits). */
function isRealDate(iso: string): boolean {
  const date = new Date(iso);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 19) === iso.slice(0, 19);
}

export function encodeCursor(key: Keyset): string {
  return encodeKeyset([key.createdAt, key.id]);
}

export function decodeCursor(cursor: string): Keyset {
  const [createdAt, id] = decodeKeyset(cursor, [ISO_MICROS, KEYSET_ID]) as [string, string];
  if (!isRealDate(createdAt)) throw notACursor();
  return { createdAt, id };
}
