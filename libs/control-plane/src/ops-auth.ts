import { type CanActivate, type ExecutionContext, createParamDecorator, Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomBytes } from 'node:crypto';
import { Forbidden, type OpsRole, type OpsToken, Unauthorized, sha256 } from '#common';

export const OPS_TOKENS = Symbol('OPS_TOKENS');

export interface OpsPrincipal {
  readonly principal: string;
  readonly role: OpsRole;
}

type OpsRequest = Request & { opsPrincipal?: OpsPrincipal };

/**
 * Bearer tokens from OPS_API_TOKENS. With none configured (never in production: the config refuses
 * to boot), a one-off operator token is generated and logged, so the plane is never open.
 */
@Injectable()
export class OpsTokens implements OnModuleInit {
  private readonly logger = new Logger('OpsAuth');
  private readonly byDigest = new Map<string, OpsPrincipal>();
  private generated: string | undefined;

  constructor(@Inject(OPS_TOKENS) tokens: readonly OpsToken[]) {
    const effective =
      tokens.length > 0 ? tokens : [{ principal: 'dev-operator', role: 'operator' as const, token: (this.generated = randomBytes(24).toString('base64url')) }];
    for (const t of effective) this.byDigest.set(sha256(t.token), { principal: t.principal, role: t.role });
  }

  onModuleInit(): void {
    if (this.generated) {
      this.logger.warn(`no OPS_API_TOKENS: generated a one-off operator token for this boot (principal dev-operator): ${this.generated}`);
    }
  }

  /** Digest lookup, so the comparison never leaks the length of a matching prefix. */
  identify(token: string): OpsPrincipal | undefined {
    return this.byDigest.get(sha256(token));
  }

  /** 401 without a valid bearer token; 403 when a viewer tries anything but a read. */
  authenticate(authorization: string | undefined, method: string): OpsPrincipal {
    const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
    if (!match?.[1]) throw new Unauthorized('a bearer token is required (Authorization: Bearer <token>)');
    const principal = this.identify(match[1]);
    if (!principal) throw new Unauthorized('the bearer token is not valid');
    if (method !== 'GET' && method !== 'HEAD' && principal.role !== 'operator') {
      throw new Forbidden(`${principal.principal} is a ${principal.role}; control actions need the operator role`);
    }
    return principal;
  }
}

/**
 * Auth in front of everything under /api/ops, mounted before the body parser: a request without a
 * valid token is a 401 whatever its body or path, and learns nothing else.
 */
export function opsAuthMiddleware(tokens: OpsTokens): (request: Request, response: Response, next: NextFunction) => void {
  return (request, _response, next) => {
    try {
      (request as OpsRequest).opsPrincipal = tokens.authenticate(request.headers.authorization, request.method);
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** The routes' own check, in case a route is ever served without the middleware in front. */
@Injectable()
export class OpsAuthGuard implements CanActivate {
  constructor(private readonly tokens: OpsTokens) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<OpsRequest>();
    request.opsPrincipal ??= this.tokens.authenticate(request.headers.authorization, request.method);
    return true;
  }
}

export const Principal = createParamDecorator((_: unknown, context: ExecutionContext): OpsPrincipal => {
  const principal = context.switchToHttp().getRequest<OpsRequest>().opsPrincipal;
  if (!principal) throw new Unauthorized('not authenticated');
  return principal;
});
