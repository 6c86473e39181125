import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import { MAX_JSON_DEPTH } from './body-guard.js';
import { Conflict, DomainError, type ErrorKind, ValidationFailed } from './errors.js';

const STATUS = {
  validation: HttpStatus.BAD_REQUEST,
  not_found: HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  unauthorized: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
} as const satisfies Record<ErrorKind, HttpStatus>;

/** Errors raised by the body parser before any handler runs (bad JSON, too large, bad charset). */
interface BodyParserError {
  type: string;
  status: number;
  message: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { type?: unknown }).type === 'string' &&
    typeof (error as { status?: unknown }).status === 'number' &&
    (error as { status: number }).status >= 400 &&
    (error as { status: number }).status < 500
  );
}

const BODY_PARSER_MESSAGES: Record<string, string> = {
  'entity.parse.failed': 'the body is not valid JSON',
  'entity.too.large': 'the body is larger than the limit',
  'encoding.unsupported': 'the body encoding is not supported',
  'charset.unsupported': 'the body charset is not supported',
  'request.aborted': 'the request was aborted',
  'entity.too.deep': `the body is nested deeper than ${MAX_JSON_DEPTH} levels`,
  'entity.ill.formed': 'the body is not well-formed UTF-8',
  'charset.not.utf8': 'the body must be UTF-8 (no charset, or charset=utf-8)',
};

/**
 * A library's own 4xx (an http-errors `status`, or Fastify's `statusCode`: a path that does not
 * percent-decode, a body the parser refused): its message is the library's, never passed on.
 */
function clientErrorStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : statusCode;
  return typeof code === 'number' && code >= 400 && code < 500 ? code : undefined;
}

/** Longest path or message an error body carries. */
const MAX_MESSAGE = 300;

/**
 * A message as an error body carries it: control, format, separator and lone-surrogate characters
 * escaped as \uXXXX (a path may hold a key the client sent), cut at MAX_MESSAGE characters.
 */
export function bounded(text: string): string {
  const escaped = text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > MAX_MESSAGE ? `${escaped.slice(0, MAX_MESSAGE)}…` : escaped;
}

/** A thrown non-Error for the log: JSON when it has a JSON form, else String() (BigInt, cycles, symbols…). */
function describeThrown(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // BigInt, a cycle, or a throwing toJSON: fall back below
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * The one error lattice of the service: 400 validation, 401, 403, 404, 409, and 500 for anything
 * unexpected (with a correlation id that is logged with the stack; the body never carries a stack).
 */
@Catch()
export class LatticeExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Lattice');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, body } = this.map(exception);
    if (reply.sent || reply.raw.headersSent) return;
    reply.status(status).send(body);
  }

  map(exception: unknown): { status: number; body: Record<string, unknown> } {
    if (exception instanceof DomainError) {
      const status = STATUS[exception.kind];
      if (exception instanceof ValidationFailed)
        return { status, body: { error: 'validation', details: exception.details.map((d) => ({ path: bounded(d.path), message: bounded(d.message) })) } };
      if (exception instanceof Conflict) {
        return {
          status,
          body: {
            error: 'conflict',
            message: bounded(exception.message),
            status: exception.status ?? null,
            ...(exception.hint ? { hint: exception.hint } : {}),
          },
        };
      }
      return { status, body: { error: exception.kind, message: bounded(exception.message) } };
    }
    // Nest may wrap body-parser failures in an HttpException whose cause is the original error.
    const bodyError = exception instanceof HttpException && isBodyParserError(exception.cause) ? exception.cause : exception;
    if (isBodyParserError(bodyError)) {
      const message = BODY_PARSER_MESSAGES[bodyError.type] ?? 'the body could not be read';
      return { status: HttpStatus.BAD_REQUEST, body: { error: 'validation', details: [{ path: '', message }] } };
    }
    // Framework and library messages are never passed on: they may quote input or configuration.
    const status = exception instanceof HttpException ? exception.getStatus() : clientErrorStatus(exception);
    if (status !== undefined) {
      if (status === 404) return { status, body: { error: 'not_found', message: 'no such route' } };
      if (status === 401) return { status, body: { error: 'unauthorized', message: 'a valid bearer token is required' } };
      if (status === 403) return { status, body: { error: 'forbidden', message: 'this token may not do that' } };
      if (status >= 400 && status < 500)
        return { status: HttpStatus.BAD_REQUEST, body: { error: 'validation', details: [{ path: '', message: 'the request could not be read' }] } };
    }
    const correlationId = randomUUID();
    const detail = exception instanceof Error ? (exception.stack ?? exception.message) : describeThrown(exception);
    this.logger.error(`internal error ${correlationId}: ${detail}`);
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, body: { error: 'internal', correlationId } };
  }
}
