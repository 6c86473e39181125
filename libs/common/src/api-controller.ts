import { Controller, UseFilters, UseGuards, applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiForbiddenResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Roles, RolesGuard } from './auth.js';
import type { TokenRole } from './config.js';
import { LatticeExceptionFilter } from './exception.filter.js';

export interface ApiControllerOptions {
  /** The controller's path, e.g. `api/runs`. */
  readonly path: string;
  /** Its Swagger tag. */
  readonly tag: string;
  /** The Swagger security scheme whose Authorize box fills its bearer token (`client` or `ops`). */
  readonly scheme: 'client' | 'ops';
  /** The roles every route admits unless the route declares its own @Roles. */
  readonly roles: readonly TokenRole[];
  /** When a 400 is answered on every route (path IDs, queries and bodies are all checked), as Swagger shows it. */
  readonly badRequest: string;
  /** When a 401 is answered, as Swagger shows it. */
  readonly unauthorized: string;
  /** When a 403 is answered for every route, as Swagger shows it (routes may add their own). */
  readonly forbidden?: string;
}

/**
 * A controller of either plane: RolesGuard with the plane's roles (a route without a role fails
 * closed), the 400/401/403/404/409 lattice of LatticeExceptionFilter, and the plane's Swagger tag and
 * bearer scheme. Every controller under /api is one of these; the policy test checks the metadata.
 */
export function ApiController(options: ApiControllerOptions): ClassDecorator {
  return applyDecorators(
    ApiTags(options.tag),
    ApiBearerAuth(options.scheme),
    ApiBadRequestResponse({ description: options.badRequest }),
    ApiUnauthorizedResponse({ description: options.unauthorized }),
    ...(options.forbidden ? [ApiForbiddenResponse({ description: options.forbidden })] : []),
    UseGuards(RolesGuard),
    Roles(...options.roles),
    UseFilters(LatticeExceptionFilter),
    Controller(options.path),
  );
}
