import type { IncomingMessage } from 'node:http';
import { ValidationFailed } from './errors.js';

/** Deepest JSON nesting (objects and arrays) a body may have; contracts need far less. */
export const MAX_JSON_DEPTH = 64;

/** A refusal raised while the raw body is checked; the exception filter maps `type` to a 400 message. */
export class BodyRefused extends Error {
  readonly status = 400;
  constructor(readonly type: 'entity.too.deep' | 'entity.ill.formed' | 'charset.not.utf8') {
    super(type);
  }
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The deepest nesting of a JSON text, scanned byte by byte (strings and escapes skipped), stopping as
 * soon as it passes `limit`: no recursion, no parse, so 100,000 levels cost one linear pass.
 */
export function jsonDepthExceeds(body: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > limit) return true;
    } else if (byte === 0x7d || byte === 0x5d) depth--;
  }
  return false;
}

/**
 * body-parser's `verify` hook (see apps/api/src/http-server.ts): runs on the raw bytes before JSON.parse. Refuses any charset but UTF-8
 * (JSON between systems is UTF-8, RFC 8259 §8.1; body-parser would decode any `utf-*` charset, and in
 * UTF-7 a `[` is `+AFs-`, which the depth scan below cannot see), bodies that are not well-formed UTF-8
 * (which the decoder would otherwise turn into U+FFFD, so two different bodies could become one
 * intent), and bodies nested deeper than MAX_JSON_DEPTH.
 */
export function verifyJsonBody(_request: IncomingMessage, _response: unknown, body: Buffer, encoding: string): void {
  if (!/^utf-?8$/i.test(encoding)) throw new BodyRefused('charset.not.utf8');
  try {
    fatalUtf8.decode(body);
  } catch {
    throw new BodyRefused('entity.ill.formed');
  }
  if (jsonDepthExceeds(body, MAX_JSON_DEPTH)) throw new BodyRefused('entity.too.deep');
}

/** The most any one response carries: list pages are summaries and large bodies are left out of them. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * A query string whose percent-escapes do not decode to well-formed UTF-8 (`%ED%A0%80`, a lone
 * surrogate; `%FF`; a bare `%`) is a 400 (ValidationFailed, thrown). A query parser would turn each
 * into U+FFFD, so two different filters would become one.
 */
export function verifyQueryString(url: string): void {
  const start = url.indexOf('?');
  if (start < 0) return;
  try {
    decodeURIComponent(url.slice(start + 1));
  } catch {
    throw new ValidationFailed([{ path: 'query', message: 'the query string is not well-formed percent-encoded UTF-8' }]);
  }
}
