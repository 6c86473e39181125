import fc from 'fast-check';
import http from 'node:http';

/**
 * Hostile-input generators shared by the lattice tests, one per class of input that once made the
 * service answer 5xx or collapse two inputs into one, plus a raw HTTP client that can send what
 * fetch refuses to (invalid UTF-8, unencoded bytes in the path).
 */

/** Instants that pass a plain ISO 8601 format check but not RFC 3339 (or not the calendar). */
export const isoVariants = fc.constantFrom(
  '2024-W01',
  '2024-W01-1',
  '2024W011',
  '2024-001',
  '2024001',
  '20240101T000000Z',
  '20240101',
  '2024-01-01 10',
  '2024-01-01 10:00:00Z',
  '2024-01-01T10:00:00,5Z',
  '2024-01-01T10,5Z',
  '2024-02-30T00:00:00Z',
  '2023-02-29T00:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-00-10T00:00:00Z',
  '2024-01-32T00:00:00Z',
  '2024-01-01T24:00:00Z',
  '2024-01-01T23:60:00Z',
  '2024-01-01T23:59:60Z',
  '2024-01-01T00:00:00+24:00',
  '+002024-01-01T00:00:00Z',
  '2024-01-01',
  '2024-01',
  '2024',
  '2024-01-01T00:00:00',
  '2024-01-01t00:00:00z',
  '2026-01-01T00:00:00Z',
  '2026-01-01T00:00:00.123456789+01:00',
);

/** One character of each troublesome kind: NUL, C0, DEL, C1, bidi, zero-width, separators, lone surrogates. */
export const nastyChar = fc.constantFrom(
  '\u0000',
  '\u0001',
  '\t',
  '\n',
  '\r',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u009b',
  '\u200b',
  '\u200d',
  '\u202e',
  '\u2066',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ud800',
  '\udc00',
  '\ufffd',
);

export const nastyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.tuple(fc.string({ maxLength: 10 }), nastyChar, fc.string({ maxLength: 10 })).map(([a, c, b]) => a + c + b),
  fc.constantFrom('', 'x'.repeat(600), 'alice', 'stuck behind a bad deploy'),
);

/** A raw path segment (already percent-encoded, or deliberately not). */
export const hostileId = fc.oneof(
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  nastyChar.map((c) => (/\p{Cs}/u.test(c) ? (c === '\ud800' ? '%ED%A0%80' : '%ED%B0%80') : encodeURIComponent(c))),
  fc.constantFrom('%00', 'run%00x', '%0d%0aSet-Cookie:%20x=1', '%E0', '%', '%ZZ', '%C0%80', '%FF', '..', 'x'.repeat(300), 'a%2Fb', '%E2%80%AE'),
  fc.tuple(fc.string({ maxLength: 8 }), nastyChar).map(([a, c]) => encodeURIComponent(a) + (/\p{Cs}/u.test(c) ? '%ED%A0%80' : encodeURIComponent(c))),
);

/** JSON nested `depth` levels, as text (never built as an object: that is what is being tested). */
export function nested(depth: number, open = '[', close = ']'): string {
  return open.repeat(depth) + close.repeat(depth);
}

export const deepBody = fc.oneof(
  fc.integer({ min: 60, max: 100_000 }).map((d) => nested(d)),
  fc
    .integer({ min: 60, max: 5_000 })
    .map(
      (d) => `{"goal":"x","inputs":{"tasks":[{"connector":"echo","args":{"v":${nested(d, '{"a":', '}').replace(/\}+$/, (m) => `1${m}`)}}}]},"constraints":{}}`,
    ),
  fc.constantFrom(
    nested(100_000),
    nested(3_000, '{"a":', '}').replace(/\}+$/, (m) => `null${m}`),
    `{"actor":"a","reason":"r","x":${nested(4000)}}`,
  ),
);

/** `text` in UTF-7 as one base64 run: every character, `[` and `{` included, is hidden from a byte scan. */
export function utf7(text: string): string {
  return `+${Buffer.from(text, 'utf16le').swap16().toString('base64').replace(/=+$/, '')}-`;
}

/**
 * A body with its own Content-Type charset: UTF-7 and UTF-16 bodies (body-parser would decode any
 * utf-* charset) nested deep or carrying lone surrogates, and charsets body-parser refuses itself.
 */
export interface CharsetBody {
  readonly bytes: Buffer;
  readonly contentType: string;
}
export const charsetBody: fc.Arbitrary<CharsetBody> = fc
  .tuple(
    fc.constantFrom(
      nested(3_000),
      nested(100_000),
      nested(3_000, '{"a":', '}').replace(/\}+$/, (m) => `1${m}`),
      '{"goal":"\\ud800","inputs":{"tasks":[{"connector":"echo","args":{"v":1}}]},"constraints":{}}',
      '{"intentId":"it_00000000000000000000000000000000","idempotencyKey":"\\udc00"}',
      '{"actor":"a","reason":"r"}',
    ),
    fc.constantFrom('utf-7', 'UTF-7', 'utf-16le', 'utf-16be', 'utf-16', 'utf-32', 'koi8-r', 'latin1', 'utf-8', ''),
  )
  .map(([text, charset]) => {
    const bytes = /^utf-7$/i.test(charset)
      ? Buffer.from(utf7(text))
      : /^utf-16(le)?$/i.test(charset)
        ? Buffer.from(text, 'utf16le')
        : charset === 'utf-16be'
          ? Buffer.from(text, 'utf16le').swap16()
          : Buffer.from(text);
    return { bytes, contentType: `application/json${charset ? `; charset=${charset}` : ''}` };
  });

/** Bodies whose bytes are not well-formed UTF-8, or whose JSON escapes make lone surrogates. */
export const illFormedBody = fc.oneof(
  fc.constantFrom(
    Buffer.from('{"goal":"\xff\xfe","inputs":{"tasks":[{"connector":"echo","args":{}}]},"constraints":{}}', 'latin1'),
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]),
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0x80, 0x22, 0x7d]),
  ),
  fc
    .tuple(
      fc.constantFrom('\\ud800', '\\udc00', '\\udbff', '\\ud800\\ud800', 'a\\udfff'),
      fc.constantFrom(
        (e: string) => `{"goal":"${e}","inputs":{"tasks":[{"connector":"echo","args":{"v":1}}]},"constraints":{}}`,
        (e: string) => `{"goal":"g","inputs":{"tasks":[{"connector":"echo","args":{"${e}":1}}]},"constraints":{}}`,
        (e: string) => `{"intentId":"it_00000000000000000000000000000000","idempotencyKey":"${e}"}`,
        (e: string) => `{"actor":"${e}","reason":"r"}`,
        (e: string) => `{"actor":"a","reason":"${e}","stepN":1}`,
      ),
    )
    .map(([escape, template]) => Buffer.from(template(escape))),
);

export interface RawResponse {
  readonly status: number;
  readonly text: string;
  readonly bytes: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One request with the path sent byte for byte (no URL normalisation) and any body bytes. */
export function rawRequest(baseUrl: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        agent,
        headers: { ...headers, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const buffer = Buffer.concat(chunks);
          resolve({ status: response.statusCode ?? 0, text: buffer.toString('utf8'), bytes: buffer.length });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    if (body !== undefined) request.write(body);
    request.end();
  });
}

/** Runs `tasks` with at most `concurrency` in flight, in order of start. */
export async function inBatches<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
    }
  });
  await Promise.all(workers);
}

export function closeAgent(): void {
  agent.destroy();
}
