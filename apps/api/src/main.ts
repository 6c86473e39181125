import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, loadConfig } from '#common';
import { resolveDatabases } from '#db';
import { AppModule } from './app.module.js';
import { configureApp, nestLogLevels } from './configure.js';
import { httpAdapter } from './http-server.js';
import { loadNestOtel } from './telemetry.module.js';
import { startTelemetry } from './tracing.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const levels = nestLogLevels(config.logLevel);
  // Before anything logs, Nest creates the metrics, or DBOS launches.
  const telemetry = await startTelemetry(config, levels);
  Logger.overrideLogger(telemetry.logger);
  const logger = new Logger('Boot');
  logger.log(telemetry.summary);
  const databases = await resolveDatabases(config);

  let closing: Promise<void> | undefined;
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, databases, { prometheus: telemetry.prometheus, nestOtel: await loadNestOtel() }),
    httpAdapter(config),
    {
      bodyParser: false,
      logger: telemetry.logger,
    },
  );
  // First hook: the request span is active for everything after it.
  if (telemetry.http) app.getHttpAdapter().getInstance().addHook('onRequest', telemetry.http);
  configureApp(app, config);

  // Graceful stop: the service (and DBOS) first, the embedded Postgres last.
  const shutdown = (signal: string): void => {
    closing ??= (async () => {
      logger.log(`${signal}: shutting down`);
      await app.close();
      await telemetry.shutdown();
      await databases.embedded?.stop();
    })().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    await app.close().catch(() => undefined);
    await telemetry.shutdown().catch(() => undefined);
    await databases.embedded?.stop();
    throw error;
  }
  logger.log(`Durable Ops ${config.appVersion} (${config.appRole}) on http://127.0.0.1:${config.port} — Swagger UI at /api/docs`);
}

main().catch((error: unknown) => {
  // One clear line for configuration errors; the stack for anything else.
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
