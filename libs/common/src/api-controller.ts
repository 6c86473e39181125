import { Controller, applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiForbiddenResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';

export interface ApiControllerOptions {
  /** The controller's path, e.g. `api/runs`. */
  readonly path: string;
  /** Its Swagger tag. */
  readonly tag: string;
  /** The Swagger security scheme whose Authorize box fills its bearer token (`client` or `ops`). */
  readonly scheme: 'client' | 'ops';
  /** When a 400 is answered on every route (path IDs, queries and bodies are all checked), as Swagger shows it. */
  readonly badRequest: string;
  /** When a 401 is answered, as Swagger shows it. */
  readonly unauthorized: string;
  /** When a 403 is answered for every route, as Swagger shows it (routes may add their own). */
  readonly forbidden?: string;
}

/**
 * A controller of either plane, as Swagger shows it: its tag, bearer scheme and 401/403 answers.
 * Who may call it and how errors answer are written on the controller itself, where a reader looks:
 * `@UseGuards(RolesGuard)` with `@Roles(...)` (a route without a role fails closed) and
 * `@UseFilters(LatticeExceptionFilter)`. Every controller under /api is one of these; the policy
 * test checks each one's guard, roles and filter, in its metadata and in its source.
 */
export function ApiController(options: ApiControllerOptions): ClassDecorator {
  return applyDecorators(
    ApiTags(options.tag),
    ApiBearerAuth(options.scheme),
    ApiBadRequestResponse({ description: options.badRequest }),
    ApiUnauthorizedResponse({ description: options.unauthorized }),
    ...(options.forbidden ? [ApiForbiddenResponse({ description: options.forbidden })] : []),
    Controller(options.path),
  );
}
