import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsIn, IsObject, IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';
import { ValidationFailed, validateContract } from '#common';
import { PermanentTaskError, TransientTaskError, type Connector, type TaskContext } from './connector.js';
import { checkAllowlist } from './url-allowlist.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** RFC 7230 `token`: the characters a header name may have. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 7230 `field-value`: HTAB, SP, visible ASCII and obs-text; never CR, LF, NUL or other controls. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * Credential headers: an intent is stored and readable by every client, so a secret in it would be
 * too. Refused at intent creation; calls that need a credential go to an allowlisted prefix that adds
 * it (a gateway or sidecar outside this service).
 */
const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'x-auth-token',
  'x-access-token',
  'x-csrf-token',
]);
/**
 * Names with a credential word as one of their dash-separated parts: `X-Authorization`,
 * `X-Functions-Key`, `Ocp-Apim-Subscription-Key`, `X-CSRFToken`, `X-SessionId`, `X-Cookie`.
 */
const CREDENTIAL_PATTERN =
  /(^|-)(auth(n|z|orization|entication)?|[a-z]*token|[a-z]*secret|pass(word|wd|phrase|code)|api-?key|key|jwt|bearer|cookie|session[a-z]*|credential)s?($|-)/i;

/** Largest response body kept in the execution report: beyond it only its first bytes and its size are stored. */
export const MAX_HTTP_RESPONSE_BYTES = 16 * 1024;

/** Headers the HTTP client manages itself (it refuses or overrides them): refused here, not retried at the effect. */
const CLIENT_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect']);

export class HttpArgs {
  @ApiProperty({ enum: METHODS })
  @IsIn(METHODS)
  method!: (typeof METHODS)[number];

  @ApiProperty({
    description: 'Must be under one of the HTTP_CONNECTOR_ALLOWLIST prefixes: same origin, path at or below the prefix path; no credentials',
  })
  @IsString()
  @MaxLength(2048)
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  url!: string;

  @ApiPropertyOptional({ description: 'Sent as JSON' })
  @IsOptional()
  @IsDefined()
  body?: unknown;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'Token names, values without control characters; a Content-Type replaces the default application/json; Idempotency-Key is set by the service',
  })
  @IsOptional()
  @IsObject()
  headers?: Record<string, string>;
}

/**
 * An HTTP call to an allow-listed URL prefix, sending `Idempotency-Key: <taskKey>` so a call
 * re-sent after a crash is recognisable. Network errors and 5xx are transient; 3xx (redirects are
 * never followed: the target could be outside the allowlist) and 4xx permanent.
 */
export class HttpConnector implements Connector<HttpArgs> {
  readonly name = 'http';

  constructor(private readonly allowlist: readonly string[]) {}

  parseArgs(args: unknown, path: string): HttpArgs {
    const parsed = validateContract(HttpArgs, args, path);
    const seen = new Map<string, string>();
    for (const [key, value] of Object.entries(parsed.headers ?? {})) {
      const at = `${path}.headers.${key}`;
      const lower = key.toLowerCase();
      if (typeof value !== 'string') throw new ValidationFailed([{ path: at, message: 'header values must be strings' }]);
      if (!HEADER_NAME.test(key))
        throw new ValidationFailed([{ path: at, message: "header names must be RFC 7230 tokens (letters, digits and !#$%&'*+-.^_`|~)" }]);
      if (!HEADER_VALUE.test(value))
        throw new ValidationFailed([{ path: at, message: 'header values must not contain CR, LF, NUL, other control characters or characters above U+00FF' }]);
      if (lower === 'idempotency-key') throw new ValidationFailed([{ path: at, message: 'Idempotency-Key is set by the service (the task key)' }]);
      if (CREDENTIAL_HEADERS.has(lower) || CREDENTIAL_PATTERN.test(lower))
        throw new ValidationFailed([
          {
            path: at,
            message: `${key} looks like a credential: intents are stored and readable by every client, so credentials are refused. Allowlist a gateway prefix that adds the credential itself`,
          },
        ]);
      if (CLIENT_HEADERS.has(lower)) throw new ValidationFailed([{ path: at, message: `${key} is managed by the HTTP client and cannot be set` }]);
      const twin = seen.get(lower);
      if (twin !== undefined) throw new ValidationFailed([{ path: at, message: `header ${key} is given twice (as ${twin}; names are case-insensitive)` }]);
      seen.set(lower, key);
    }
    const verdict = checkAllowlist(parsed.url, this.allowlist);
    if (!verdict.allowed) {
      const message =
        verdict.reason === 'credentials'
          ? 'url must not carry a username or password'
          : verdict.reason === 'encoded-separator'
            ? 'url path must not contain an encoded / or \\ (%2F, %5C)'
            : 'url is not under an allowed prefix (the service operator sets HTTP_CONNECTOR_ALLOWLIST)';
      throw new ValidationFailed([{ path: `${path}.url`, message }]);
    }
    return parsed;
  }

  /** The user's headers, then Content-Type (unless the user gave one: it replaces, never merges) and the task key. */
  private headers(args: HttpArgs, taskKey: string): Record<string, string> {
    const user = args.headers ?? {};
    const hasContentType = Object.keys(user).some((name) => name.toLowerCase() === 'content-type');
    return { ...user, ...(hasContentType ? {} : { 'content-type': 'application/json' }), 'idempotency-key': taskKey };
  }

  async execute(args: HttpArgs, context: TaskContext): Promise<{ status: number; body: unknown }> {
    // The allowlist may have changed since the intent was accepted: check again at the effect.
    if (!checkAllowlist(args.url, this.allowlist).allowed) throw new PermanentTaskError(`url ${args.url} is no longer under an allowed prefix`);
    let response: Response;
    try {
      response = await fetch(args.url, {
        method: args.method,
        headers: this.headers(args, context.taskKey),
        ...(args.body !== undefined && args.method !== 'GET' ? { body: JSON.stringify(args.body) } : {}),
        redirect: 'manual',
        signal: AbortSignal.any([context.signal, AbortSignal.timeout(context.timeoutMs)]),
      });
    } catch (error) {
      throw new TransientTaskError(`${args.method} ${args.url} failed: ${(error as Error).message}`);
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => undefined);
      const location = response.headers.get('location');
      throw new PermanentTaskError(
        `${args.method} ${args.url} answered ${response.status} redirecting to ${location === null ? '(no Location)' : location.slice(0, 500)}: redirects are not followed`,
      );
    }
    const text = await response.text().catch(() => '');
    if (response.status >= 500) throw new TransientTaskError(`${args.method} ${args.url} answered ${response.status}`);
    if (response.status >= 400) throw new PermanentTaskError(`${args.method} ${args.url} answered ${response.status}: ${text.slice(0, 200)}`);
    return { status: response.status, ...keptBody(text) };
  }
}

/** The response body as stored: parsed JSON when it fits MAX_HTTP_RESPONSE_BYTES, else its first characters and its size. */
export function keptBody(text: string): { body: unknown } | { body: string; truncated: true; bytes: number } {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_HTTP_RESPONSE_BYTES) {
    // Cut on characters, then trimmed to the byte budget (a multi-byte character is never split).
    let kept = text.slice(0, MAX_HTTP_RESPONSE_BYTES);
    while (Buffer.byteLength(kept) > MAX_HTTP_RESPONSE_BYTES) kept = kept.slice(0, -1);
    return { body: kept.replace(/\p{Cs}/gu, ''), truncated: true, bytes };
  }
  try {
    return { body: text ? (JSON.parse(text) as unknown) : null };
  } catch {
    return { body: text };
  }
}
