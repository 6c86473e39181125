import { jest } from '@jest/globals';
import {
  type ArgumentsHost,
  BadRequestException,
  ForbiddenException,
  HttpException,
  Logger,
  MethodNotAllowedException,
  NotFoundException,
  PayloadTooLargeException,
  UnauthorizedException,
} from '@nestjs/common';
import { Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed } from './errors.js';
import { LatticeExceptionFilter } from './exception.filter.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('LatticeExceptionFilter', () => {
  const filter = new LatticeExceptionFilter();
  let logged: jest.SpiedFunction<Logger['error']>;

  beforeEach(() => {
    logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => {
    logged.mockRestore();
  });

  describe('domain errors', () => {
    it('ValidationFailed → 400 with the details', () => {
      const details = [
        { path: 'inputs.tasks.0.x', message: 'property x should not exist' },
        { path: 'goal', message: 'goal must be longer than or equal to 1 characters' },
      ];
      expect(filter.map(new ValidationFailed(details))).toEqual({ status: 400, body: { error: 'validation', details } });
    });

    it('NotFound → 404 with the message', () => {
      expect(filter.map(new NotFound('run run_x not found'))).toEqual({ status: 404, body: { error: 'not_found', message: 'run run_x not found' } });
    });

    it('Conflict → 409 with the current status and a hint', () => {
      expect(filter.map(new Conflict('run is finished', 'succeeded', 'fork it instead'))).toEqual({
        status: 409,
        body: { error: 'conflict', message: 'run is finished', status: 'succeeded', hint: 'fork it instead' },
      });
    });

    it('Conflict without status or hint → status null, no hint key', () => {
      const { status, body } = filter.map(new Conflict('busy'));
      expect(status).toBe(409);
      expect(body).toEqual({ error: 'conflict', message: 'busy', status: null });
      expect(body).not.toHaveProperty('hint');
    });

    it('Unauthorized → 401, Forbidden → 403', () => {
      expect(filter.map(new Unauthorized('token missing'))).toEqual({ status: 401, body: { error: 'unauthorized', message: 'token missing' } });
      expect(filter.map(new Forbidden('role viewer cannot cancel'))).toEqual({
        status: 403,
        body: { error: 'forbidden', message: 'role viewer cannot cancel' },
      });
    });

    it('never logs an expected error', () => {
      filter.map(new NotFound('x'));
      filter.map(new ValidationFailed([]));
      expect(logged).not.toHaveBeenCalled();
    });
  });

  describe('unexpected errors', () => {
    it('a plain Error → 500 with only a correlation id; the stack goes to the log', () => {
      const error = new Error('connection string postgres://u:secret@db/app is broken');
      const { status, body } = filter.map(error);
      expect(status).toBe(500);
      expect(Object.keys(body).sort()).toEqual(['correlationId', 'error']);
      expect(body.error).toBe('internal');
      expect(body.correlationId).toMatch(UUID);
      expect(JSON.stringify(body)).not.toContain('secret');
      expect(JSON.stringify(body)).not.toContain('at ');

      expect(logged).toHaveBeenCalledTimes(1);
      const line = String(logged.mock.calls[0]?.[0]);
      expect(line).toContain(String(body.correlationId));
      expect(line).toContain(error.stack?.split('\n')[1]?.trim() ?? 'no stack');
    });

    it('gives each internal error its own correlation id', () => {
      const a = filter.map(new Error('a')).body.correlationId;
      const b = filter.map(new Error('b')).body.correlationId;
      expect(a).not.toBe(b);
    });

    it('a thrown non-Error value → 500 too', () => {
      expect(filter.map('oops')).toMatchObject({ status: 500, body: { error: 'internal' } });
      expect(filter.map({ weird: true })).toMatchObject({ status: 500, body: { error: 'internal' } });
      expect(String(logged.mock.calls[1]?.[0])).toContain('{"weird":true}');
    });

    it.each([
      ['a BigInt', () => 10n, '10'],
      ['an object holding a BigInt', () => ({ id: 10n }), '[object Object]'],
      [
        'a circular object',
        () => {
          const cycle: Record<string, unknown> = { name: 'loop' };
          cycle.self = cycle;
          return cycle;
        },
        '[object Object]',
      ],
      [
        'an object whose toJSON throws',
        () => ({
          toJSON() {
            throw new Error('no');
          },
        }),
        '[object Object]',
      ],
      ['an object without a prototype', () => Object.assign(Object.create(null) as object, { a: 1n }), '[object Object]'],
      ['a symbol', () => Symbol('odd'), 'Symbol(odd)'],
      ['undefined', () => undefined, 'undefined'],
    ])('a thrown value JSON cannot hold (%s) → 500, logged as text instead of crashing the filter', (_what, make, text) => {
      const { status, body } = filter.map(make());
      expect(status).toBe(500);
      expect(body).toMatchObject({ error: 'internal', correlationId: expect.stringMatching(UUID) as string });
      expect(logged).toHaveBeenCalledTimes(1);
      expect(String(logged.mock.calls[0]?.[0])).toContain(`: ${text}`);
    });

    it('catch() answers 500 for a BigInt instead of throwing', () => {
      const response = { sent: false, raw: { headersSent: false }, status: jest.fn(), send: jest.fn() };
      response.status.mockReturnValue(response);
      const argumentsHost = { switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
      expect(() => filter.catch(1n, argumentsHost)).not.toThrow();
      expect(response.status).toHaveBeenCalledWith(500);
    });

    it('an HttpException outside 4xx → 500', () => {
      expect(filter.map(new HttpException('bad gateway', 502)).status).toBe(500);
    });
  });

  describe("Nest's own exceptions", () => {
    it('NotFoundException (an unknown route) → 404', () => {
      expect(filter.map(new NotFoundException('Cannot GET /api/nope'))).toEqual({ status: 404, body: { error: 'not_found', message: 'no such route' } });
    });

    it('UnauthorizedException → 401, ForbiddenException → 403, with our words, not theirs', () => {
      expect(filter.map(new UnauthorizedException('no token'))).toEqual({
        status: 401,
        body: { error: 'unauthorized', message: 'a valid bearer token is required' },
      });
      expect(filter.map(new ForbiddenException('nope'))).toEqual({ status: 403, body: { error: 'forbidden', message: 'this token may not do that' } });
    });

    it('other 4xx → 400 validation, never echoing the library message', () => {
      expect(filter.map(new BadRequestException('bad <input>'))).toEqual({
        status: 400,
        body: { error: 'validation', details: [{ path: '', message: 'the request could not be read' }] },
      });
      expect(filter.map(new MethodNotAllowedException()).status).toBe(400);
    });

    it('a 413 (payload too large) → 400 validation', () => {
      const { status, body } = filter.map(new PayloadTooLargeException());
      expect(status).toBe(400);
      expect(body.error).toBe('validation');
      expect(body.details).toEqual([{ path: '', message: expect.any(String) as string }]);
    });
  });

  describe('body-parser errors', () => {
    const bodyParserError = (type: string, status = 400) => Object.assign(new Error('raw parser message'), { type, status, expose: true });

    it('bad JSON wrapped in an HttpException → 400 validation saying so', () => {
      const wrapped = new HttpException('Unexpected token } in JSON at position 9', 400, { cause: bodyParserError('entity.parse.failed') });
      const { status, body } = filter.map(wrapped);
      expect(status).toBe(400);
      expect(body).toEqual({ error: 'validation', details: [{ path: '', message: expect.stringContaining('not valid JSON') as string }] });
    });

    it('a too-large body (413 from the parser) → 400 naming the limit', () => {
      const wrapped = new HttpException('request entity too large', 413, { cause: bodyParserError('entity.too.large', 413) });
      expect(filter.map(wrapped)).toEqual({
        status: 400,
        body: { error: 'validation', details: [{ path: '', message: 'the body is larger than the limit' }] },
      });
    });

    it('an http-errors 4xx (e.g. a path that does not decode) → 400 without its message', () => {
      const error = Object.assign(new URIError("Failed to decode param '%E0'"), { status: 400, statusCode: 400 });
      expect(filter.map(error)).toEqual({ status: 400, body: { error: 'validation', details: [{ path: '', message: 'the request could not be read' }] } });
    });

    it("Fastify's own 4xx (statusCode only: a URL the router cannot decode, a body over its bound) → 400 without its message", () => {
      for (const [code, statusCode] of [
        ['FST_ERR_BAD_URL', 400],
        ['FST_ERR_CTP_BODY_TOO_LARGE', 413],
        ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415],
      ] as const) {
        const error = Object.assign(new Error(`'/api/runs/%ZZ' is not a valid url component`), { code, statusCode });
        expect(filter.map(error)).toEqual({ status: 400, body: { error: 'validation', details: [{ path: '', message: 'the request could not be read' }] } });
      }
    });

    it('the raw-body checks (too deep, not UTF-8, another charset) → 400 saying which', () => {
      expect(filter.map(bodyParserError('entity.too.deep', 403)).body.details).toEqual([{ path: '', message: 'the body is nested deeper than 64 levels' }]);
      expect(filter.map(bodyParserError('entity.ill.formed', 403)).body.details).toEqual([{ path: '', message: 'the body is not well-formed UTF-8' }]);
      expect(filter.map(bodyParserError('charset.not.utf8', 403)).body.details).toEqual([
        { path: '', message: 'the body must be UTF-8 (no charset, or charset=utf-8)' },
      ]);
    });

    it('a bare body-parser error → 400, unknown parser types get a generic message', () => {
      expect(filter.map(bodyParserError('charset.unsupported', 415)).body.details).toEqual([{ path: '', message: 'the body charset is not supported' }]);
      expect(filter.map(bodyParserError('stream.not.readable')).body.details).toEqual([{ path: '', message: 'the body could not be read' }]);
    });

    it('does not mistake a 5xx error with a type for a body-parser error', () => {
      expect(filter.map(bodyParserError('entity.parse.failed', 500)).status).toBe(500);
    });
  });

  describe('catch()', () => {
    /** A Fastify reply as the filter sees it. */
    function host(headersSent = false) {
      const response = { sent: headersSent, raw: { headersSent }, status: jest.fn(), send: jest.fn() };
      response.status.mockReturnValue(response);
      const argumentsHost = { switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
      return { response, argumentsHost };
    }

    it('writes the mapped status and body', () => {
      const { response, argumentsHost } = host();
      filter.catch(new NotFound('intent it_x not found'), argumentsHost);
      expect(response.status).toHaveBeenCalledWith(404);
      expect(response.send).toHaveBeenCalledWith({ error: 'not_found', message: 'intent it_x not found' });
    });

    it('writes nothing once the headers are sent, but still logs an internal error', () => {
      const { response, argumentsHost } = host(true);
      filter.catch(new Error('late failure'), argumentsHost);
      expect(response.status).not.toHaveBeenCalled();
      expect(response.send).not.toHaveBeenCalled();
      expect(logged).toHaveBeenCalledTimes(1);
    });
  });
});
