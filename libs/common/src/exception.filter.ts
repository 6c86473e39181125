import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';
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
};

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
    const response = host.switchToHttp().getResponse<Response>();
    const { status, body } = this.map(exception);
    if (response.headersSent) return;
    response.status(status).json(body);
  }

  map(exception: unknown): { status: number; body: Record<string, unknown> } {
    if (exception instanceof DomainError) {
      const status = STATUS[exception.kind];
      if (exception instanceof ValidationFailed) return { status, body: { error: 'validation', details: exception.details } };
      if (exception instanceof Conflict) {
        return {
          status,
          body: { error: 'conflict', message: exception.message, status: exception.status ?? null, ...(exception.hint ? { hint: exception.hint } : {}) },
        };
      }
      return { status, body: { error: exception.kind, message: exception.message } };
    }
    // Express wraps body-parser failures in an HttpException whose cause is the original error.
    const bodyError = exception instanceof HttpException && isBodyParserError(exception.cause) ? exception.cause : exception;
    if (isBodyParserError(bodyError)) {
      const message = BODY_PARSER_MESSAGES[bodyError.type] ?? 'the body could not be read';
      return { status: HttpStatus.BAD_REQUEST, body: { error: 'validation', details: [{ path: '', message }] } };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404) return { status, body: { error: 'not_found', message: 'no such route' } };
      if (status === 401) return { status, body: { error: 'unauthorized', message: exception.message } };
      if (status === 403) return { status, body: { error: 'forbidden', message: exception.message } };
      if (status >= 400 && status < 500)
        return { status: HttpStatus.BAD_REQUEST, body: { error: 'validation', details: [{ path: '', message: exception.message }] } };
    }
    const correlationId = randomUUID();
    const detail = exception instanceof Error ? (exception.stack ?? exception.message) : describeThrown(exception);
    this.logger.error(`internal error ${correlationId}: ${detail}`);
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, body: { error: 'internal', correlationId } };
  }
}
