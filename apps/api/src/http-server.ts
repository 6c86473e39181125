import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import bodyParser from 'body-parser';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type AppConfig,
  bodyLimitBytes,
  LatticeExceptionFilter,
  type TokenRegistry,
  type TokenRole,
  authenticateRequest,
  verifyJsonBody,
  verifyQueryString,
} from '#common';
import { routeOf } from './tracing.js';

/**
 * The longest path parameter the router matches (Fastify's default is 100 characters, answered with a
 * 414): longer IDs reach the route, whose pipe refuses them as a 400 like any other bad ID.
 */
const MAX_PARAM_LENGTH = 16_384;

/**
 * The HTTP server under Nest: Fastify (a request cost about twice as much CPU on Express, and the
 * request is a third of a run's CPU: bench/README.md). Set to answer as the service always has: `/api/runs/` is
 * `/api/runs`, paths match whatever their case, any route parameter reaches its route, and Node's
 * own timeouts stay (5 s keep-alive, 300 s per request), where Fastify would set 72 s and none.
 * What the router refuses before any hook or route (a path that does not percent-decode) is answered
 * in the lattice like everything else.
 */
export function httpAdapter(config: Pick<AppConfig, 'bodyLimit'>): FastifyAdapter {
  const lattice = new LatticeExceptionFilter();
  return new FastifyAdapter({
    frameworkErrors: (error: Error, _request: FastifyRequest, reply: FastifyReply) => {
      const { status, body } = lattice.map(error);
      void reply.code(status).send(body);
    },
    routerOptions: { ignoreTrailingSlash: true, caseSensitive: false, maxParamLength: MAX_PARAM_LENGTH },
    keepAliveTimeout: 5_000,
    requestTimeout: 300_000,
    // body-parser enforces BODY_LIMIT on what it reads (jsonBodies); this is Fastify's own bound.
    bodyLimit: bodyLimitBytes(config.bodyLimit),
  });
}

/** The roles a plane's routes admit, by path prefix; undefined for paths outside the planes (/healthz, /metrics, /api/docs). */
function planeRoles(path: string): readonly TokenRole[] | undefined {
  const lower = path.toLowerCase();
  const under = (prefix: string): boolean => lower === prefix || lower.startsWith(`${prefix}/`);
  if (under('/api/ops')) return OPS_ROLES;
  if (under('/api/intents') || under('/api/runs')) return DATA_ROLES;
  return undefined;
}
const OPS_ROLES: readonly TokenRole[] = ['viewer', 'operator'];
const DATA_ROLES: readonly TokenRole[] = ['client'];

/**
 * As a request arrives, before its body is read: on the planes' paths, authentication (a 401 whatever
 * the body) and the query string's check (a 400). The route's template when one matched (routing
 * runs first), else the raw path, so an unknown path under a plane is a 401 before it is a 404.
 */
function planeGate(tokens: TokenRegistry): (request: FastifyRequest) => void {
  return (request) => {
    const roles = planeRoles(routeOf(request) ?? request.url.split('?')[0] ?? '');
    if (roles === undefined) return;
    authenticateRequest(request, tokens, roles);
    verifyQueryString(request.url);
  };
}

/**
 * Request bodies: JSON only, read by body-parser exactly as the service always has (charset and
 * content encodings, the size limit, strict JSON), with verifyJsonBody checking the raw bytes (UTF-8,
 * nesting depth) before JSON.parse. Any other content type is left unread (the body is undefined, which
 * validation then refuses). Every refusal is an error with body-parser's `type`, which the exception
 * filter maps to a 400.
 */
function jsonBodies(fastify: FastifyInstance, limit: string): void {
  const json = bodyParser.json({ limit, verify: verifyJsonBody });
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (request, _payload, done) => {
    const raw = request.raw as typeof request.raw & { body?: unknown };
    json(raw, undefined as never, (error?: unknown) => done((error as Error | undefined) ?? null, raw.body));
  });
}

/** The planes' gate and the body parser, on the app's Fastify instance (configureApp adds request metrics before them). */
export function configureHttp(app: NestFastifyApplication, config: Pick<AppConfig, 'bodyLimit'>, tokens: TokenRegistry): void {
  const fastify = app.getHttpAdapter().getInstance();
  const gate = planeGate(tokens);
  fastify.addHook('onRequest', (request, _reply, done) => {
    try {
      gate(request);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  });
  jsonBodies(fastify, config.bodyLimit);
}
