import {
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnModuleInit,
  SetMetadata,
  createParamDecorator,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiToken, TokenRole } from './config.js';
import { Forbidden, Unauthorized } from './errors.js';
import { sha256 } from './hash.js';

export const API_TOKENS = Symbol('API_TOKENS');

export interface AuthPrincipal {
  readonly principal: string;
  /** `anonymous` only on an open data plane (no client token configured, never in production). */
  readonly role: TokenRole | 'anonymous';
}

/** Who a request on an open data plane is recorded as. */
export const ANONYMOUS: AuthPrincipal = { principal: 'anonymous', role: 'anonymous' };

/** A request as authentication sees it (Fastify's request object: what guards and decorators get). */
export interface AuthRequest {
  readonly headers: IncomingHttpHeaders;
  principal?: AuthPrincipal;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * The configured bearer tokens (API_TOKENS and OPS_API_TOKENS). Outside production (the config refuses
 * production without them): no viewer/operator token means a one-off operator token generated and
 * logged at boot, so the control plane is never open; no client token means an open data plane,
 * warned about loudly at boot.
 */
@Injectable()
export class TokenRegistry implements OnModuleInit {
  private readonly logger = new Logger('Auth');
  private readonly byDigest = new Map<string, AuthPrincipal>();
  private readonly generated: string | undefined;
  /** True when no client token is configured: the data plane answers anonymous requests. */
  readonly dataPlaneOpen: boolean;

  constructor(@Inject(API_TOKENS) tokens: readonly ApiToken[]) {
    for (const t of tokens) this.byDigest.set(sha256(t.token), { principal: t.principal, role: t.role });
    this.dataPlaneOpen = !tokens.some((t) => t.role === 'client');
    if (!tokens.some((t) => t.role !== 'client')) {
      this.generated = randomBytes(24).toString('base64url');
      this.byDigest.set(sha256(this.generated), { principal: 'dev-operator', role: 'operator' });
    }
  }

  onModuleInit(): void {
    if (this.generated) {
      this.logger.warn(`no viewer/operator token in API_TOKENS: generated a one-off operator token for this boot (principal dev-operator): ${this.generated}`);
    }
    if (this.dataPlaneOpen) {
      this.logger.warn(
        'DATA PLANE OPEN: no client token in API_TOKENS, so /api/intents and /api/runs answer anyone who can reach this port. Set API_TOKENS=name:client:<token> (production refuses to boot without one).',
      );
    }
  }

  /** Digest lookup, so the comparison never leaks the length of a matching prefix. */
  identify(token: string): AuthPrincipal | undefined {
    return this.byDigest.get(sha256(token));
  }

  /** The principal behind an Authorization header: 401 without a valid bearer token. */
  authenticate(authorization: string | undefined): AuthPrincipal {
    const match = typeof authorization === 'string' ? BEARER.exec(authorization) : null;
    if (!match?.[1]) throw new Unauthorized('a bearer token is required (Authorization: Bearer <token>)');
    const principal = this.identify(match[1]);
    if (!principal) throw new Unauthorized('the bearer token is not valid');
    return principal;
  }

  /**
   * Who makes a request to a route open to `roles`: anonymous when the route admits clients and the
   * data plane is open (a token, if sent, must still be valid); else an authenticated principal.
   */
  resolve(authorization: string | undefined, roles: readonly TokenRole[]): AuthPrincipal {
    if (authorization === undefined && this.dataPlaneOpen && roles.includes('client')) return ANONYMOUS;
    return this.authenticate(authorization);
  }
}

export const ROLES_KEY = 'durable-ops:roles';

/** The roles a route (or every route of a controller) admits; read by RolesGuard. */
export const Roles = (...roles: TokenRole[]): MethodDecorator & ClassDecorator => SetMetadata(ROLES_KEY, roles);

/** The roles declared on a handler (its own, else its controller's); undefined when none are. */
export function declaredRoles(reflector: Reflector, context: ExecutionContext): readonly TokenRole[] | undefined {
  return reflector.getAllAndOverride<TokenRole[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
}

/**
 * The authorization rule of both planes: 401 without a valid token (unless the data plane is open),
 * 403 when the token's role is not among the route's @Roles. A route without @Roles is refused: a
 * forgotten declaration fails closed.
 */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenRegistry,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const roles = declaredRoles(this.reflector, context) ?? [];
    const request = context.switchToHttp().getRequest<AuthRequest>();
    const who = (request.principal ??= this.tokens.resolve(request.headers.authorization, roles));
    if (who.role === 'anonymous') {
      if (roles.includes('client') && this.tokens.dataPlaneOpen) return true;
      throw new Unauthorized('a bearer token is required (Authorization: Bearer <token>)');
    }
    if (!roles.includes(who.role)) throw new Forbidden(`${who.principal} is a ${who.role}; this route needs the ${roles.join(' or ') || 'unknown'} role`);
    return true;
  }
}

/**
 * Authentication in front of a plane's routes, run as the request arrives (before the body is read):
 * a request without a valid token is a 401 (Unauthorized, thrown) whatever its body, and its body is
 * never read. The role check stays in RolesGuard.
 */
export function authenticateRequest(request: AuthRequest, tokens: TokenRegistry, roles: readonly TokenRole[]): void {
  request.principal = tokens.resolve(request.headers.authorization, roles);
}

/** The principal RolesGuard admitted (anonymous on an open data plane). */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): AuthPrincipal => {
  const principal = context.switchToHttp().getRequest<AuthRequest>().principal;
  if (!principal) throw new Unauthorized('not authenticated');
  return principal;
});

/** The token registry and RolesGuard for every module (global: both planes share one registry). */
@Module({})
export class AuthModule {
  static forRoot(tokens: readonly ApiToken[]): DynamicModule {
    return {
      module: AuthModule,
      global: true,
      providers: [{ provide: API_TOKENS, useValue: tokens }, TokenRegistry, RolesGuard],
      exports: [TokenRegistry, RolesGuard],
    };
  }
}
