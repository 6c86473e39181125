import type { INestApplication, LogLevel as NestLogLevel } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { type AppConfig, type LogLevel, LatticeExceptionFilter, TokenRegistry, packageVersion, strictValidationPipe } from '#common';
import { configureHttp } from './http-server.js';
import { HttpMetrics } from './telemetry.module.js';

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
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description: 'A client token from API_TOKENS (the data plane; not needed while no client token is configured, outside production)',
      },
      'client',
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'A viewer (GETs) or operator (all) token from API_TOKENS / OPS_API_TOKENS' }, 'ops')
    .build();
  return strictSchemas(SwaggerModule.createDocument(app, config));
}

/**
 * Everything an app needs beyond its modules; shared by main.ts and the tests. The app is created with
 * `httpAdapter(config)` (http-server.ts) and `bodyParser: false`. Fastify sends no `X-Powered-By` and
 * no ETag: every answer is live state (runs, workflows, audits), nothing to revalidate.
 */
export function configureApp(app: NestFastifyApplication, config: Pick<AppConfig, 'bodyLimit'>): OpenAPIObject {
  // Request metrics first: every answer is measured, also the ones authentication or the body parser gives.
  const httpMetrics = app.get(HttpMetrics);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      httpMetrics.observe(request, reply);
      done();
    });
  // Authentication before the body is read: a bad token is a 401 whatever the body. The role rule is
  // each controller's RolesGuard + @Roles. The raw body is checked (nesting depth, UTF-8) before
  // JSON.parse and any recursive transform.
  configureHttp(app, config, app.get(TokenRegistry));
  app.useGlobalFilters(new LatticeExceptionFilter());
  app.useGlobalPipes(strictValidationPipe());
  const document = buildOpenApi(app);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json', yamlDocumentUrl: 'api/docs-yaml' });
  return document;
}
