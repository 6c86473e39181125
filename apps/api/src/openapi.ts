import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, projectRoot } from '#common';
import { AppModule } from './app.module.js';
import { buildOpenApi } from './configure.js';
import { httpAdapter } from './http-server.js';

/**
 * `npm run openapi`: writes the service's OpenAPI document to openapi.json, the checked-in contract
 * that a test compares with the running service. No database is touched (nothing is initialised).
 */
async function main(): Promise<void> {
  const unused = 'postgres://unused@127.0.0.1:1/unused';
  const config = loadConfig({ DATABASE_URL: unused, LOG_LEVEL: 'error' });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, { appDatabaseUrl: unused, systemDatabaseUrl: unused }),
    httpAdapter(config),
    {
      logger: ['error'],
      bodyParser: false,
    },
  );
  const file = join(projectRoot(), 'openapi.json');
  writeFileSync(file, `${JSON.stringify(buildOpenApi(app), null, 2)}\n`);
  console.log(`wrote ${file}`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
