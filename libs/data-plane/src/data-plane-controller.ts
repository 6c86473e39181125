import { ApiController } from '#common';

/**
 * A data-plane controller's Swagger face (the `client` scheme). The controller itself carries
 * `@UseGuards(RolesGuard)`, `@Roles('client')` and `@UseFilters(LatticeExceptionFilter)`: `client`
 * tokens only, open to anonymous requests only while no client token is configured (outside
 * production, with a boot warning).
 */
export const DataPlaneController = (path: string, tag: string): ClassDecorator =>
  ApiController({
    path,
    tag,
    scheme: 'client',
    badRequest: 'validation failed (details: a path ID, a query parameter or the body); nothing was written',
    unauthorized: 'no or invalid bearer token (once a client token is configured)',
    forbidden: 'a viewer or operator token: the data plane takes client tokens',
  });
