import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsIn, IsObject, IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';
import { ValidationFailed, validateContract } from '#common';
import { PermanentTaskError, TransientTaskError, type Connector, type TaskContext } from './connector.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export class HttpArgs {
  @ApiProperty({ enum: METHODS })
  @IsIn(METHODS)
  method!: (typeof METHODS)[number];

  @ApiProperty({ description: 'Must start with one of the HTTP_CONNECTOR_ALLOWLIST prefixes' })
  @IsString()
  @MaxLength(2048)
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  url!: string;

  @ApiPropertyOptional({ description: 'Sent as JSON' })
  @IsOptional()
  @IsDefined()
  body?: unknown;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  headers?: Record<string, string>;
}

/**
 * An HTTP call to an allow-listed URL prefix, sending `Idempotency-Key: <taskKey>` so a call
 * re-sent after a crash is recognisable. Network errors and 5xx are transient; 4xx permanent.
 */
export class HttpConnector implements Connector<HttpArgs> {
  readonly name = 'http';

  constructor(private readonly allowlist: readonly string[]) {}

  parseArgs(args: unknown, path: string): HttpArgs {
    const parsed = validateContract(HttpArgs, args, path);
    for (const [key, value] of Object.entries(parsed.headers ?? {})) {
      if (typeof value !== 'string') throw new ValidationFailed([{ path: `${path}.headers.${key}`, message: 'header values must be strings' }]);
      if (key.toLowerCase() === 'idempotency-key')
        throw new ValidationFailed([{ path: `${path}.headers.${key}`, message: 'Idempotency-Key is set by the service (the task key)' }]);
    }
    if (!this.allowlist.some((prefix) => parsed.url.startsWith(prefix))) {
      throw new ValidationFailed([
        { path: `${path}.url`, message: `url is not under an allowed prefix (HTTP_CONNECTOR_ALLOWLIST: ${this.allowlist.join(', ') || 'empty'})` },
      ]);
    }
    return parsed;
  }

  async execute(args: HttpArgs, context: TaskContext): Promise<{ status: number; body: unknown }> {
    // The allowlist may have changed since the intent was accepted: check again at the effect.
    if (!this.allowlist.some((prefix) => args.url.startsWith(prefix))) throw new PermanentTaskError(`url ${args.url} is no longer under an allowed prefix`);
    let response: Response;
    try {
      response = await fetch(args.url, {
        method: args.method,
        headers: { ...(args.headers ?? {}), 'content-type': 'application/json', 'idempotency-key': context.taskKey },
        ...(args.body !== undefined && args.method !== 'GET' ? { body: JSON.stringify(args.body) } : {}),
        signal: AbortSignal.any([context.signal, AbortSignal.timeout(context.timeoutMs)]),
      });
    } catch (error) {
      throw new TransientTaskError(`${args.method} ${args.url} failed: ${(error as Error).message}`);
    }
    const text = await response.text().catch(() => '');
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // keep the text
    }
    if (response.status >= 500) throw new TransientTaskError(`${args.method} ${args.url} answered ${response.status}`);
    if (response.status >= 400) throw new PermanentTaskError(`${args.method} ${args.url} answered ${response.status}: ${text.slice(0, 200)}`);
    return { status: response.status, body };
  }
}
