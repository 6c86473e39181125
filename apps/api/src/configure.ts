import type { INestApplication, LogLevel as NestLogLevel } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { opsAuthMiddleware, OpsTokens } from '#control-plane';
import { type AppConfig, type LogLevel, LatticeExceptionFilter, packageVersion, strictValidationPipe } from '#common';

export function nestLogLevels(level: LogLevel): NestLogLevel[] {
  const order: NestLogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
  const cut = { error: 2, warn: 3, info: 4, debug: 6 }[level];
  return order.slice(0, cut);
}

/** Marks every contract schema strict, as the validation pipe enforces it (forbidNonWhitelisted). */
function strictSchemas(document: OpenAPIObject): OpenAPIObject {
  for (const schema of Object.values(document.components?.schemas ?? {})) {
    if ('properties' in schema && schema.additionalProperties === undefined) schema.additionalProperties = false;
  }
  return document;
}

export function buildOpenApi(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Durable Ops')
    .setDescription(
      'Durable product intents on DBOS + Postgres. Data plane: /api/intents, /api/runs. Control plane: /api/ops/wf (bearer token). Proof: /healthz.',
    )
    .setVersion(packageVersion())
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An OPS_API_TOKENS token (viewer: GETs; operator: all)' })
    .build();
  return strictSchemas(SwaggerModule.createDocument(app, config));
}

/** Everything an app needs beyond its modules; shared by main.ts and the tests. */
export function configureApp(app: NestExpressApplication, config: Pick<AppConfig, 'bodyLimit'>): OpenAPIObject {
  // Auth before the body parser: under /api/ops a bad token is a 401 whatever the body.
  app.use('/api/ops', opsAuthMiddleware(app.get(OpsTokens)));
  app.useBodyParser('json', { limit: config.bodyLimit });
  app.useGlobalFilters(new LatticeExceptionFilter());
  app.useGlobalPipes(strictValidationPipe());
  app.disable('x-powered-by');
  // Every answer is live state (runs, workflows, audits): no ETag to hash, nothing to revalidate.
  app.set('etag', false);
  const document = buildOpenApi(app);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json', yamlDocumentUrl: 'api/docs-yaml' });
  return document;
}
