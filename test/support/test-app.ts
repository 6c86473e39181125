import 'reflect-metadata';
import { ConsoleLogger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Kysely, PostgresDialect } from 'kysely';
import { loadConfig } from '#common';
import type { DB } from '#db';
import { AppModule } from '../../apps/api/src/app.module.js';
import { configureApp } from '../../apps/api/src/configure.js';
import { httpAdapter } from '../../apps/api/src/http-server.js';
import { createTestDatabase, testPool, type TestDatabase } from './test-database.js';

export interface TestApp {
  readonly app: NestFastifyApplication;
  readonly baseUrl: string;
  readonly database: TestDatabase;
  /** The DBOS system database: `database` unless split. */
  readonly systemDatabaseUrl: string;
  /** A separate connection for assertions (what an auditor would query). */
  readonly db: Kysely<DB>;
  readonly document: OpenAPIObject;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string }>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Put the DBOS system schema in a second database (DBOS_SYSTEM_DATABASE_URL ≠ DATABASE_URL). */
  readonly splitSystemDatabase?: boolean;
  /**
   * Swaps providers before the module is compiled, e.g.
   * `(b) => b.overrideProvider(ConnectorRegistry).useValue(registry)` for a connector, the clock or a repository.
   */
  readonly override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
}

/**
 * The real service (all modules, real DBOS) on its own database, listening on a loopback port. The
 * module is built by @nestjs/testing (Test.createTestingModule), so a test can override providers.
 */
export async function startTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const system = options.splitSystemDatabase ? await createTestDatabase() : undefined;
  const systemDatabaseUrl = system?.url ?? database.url;
  const config = loadConfig({
    LOG_LEVEL: 'error',
    DBOS_EXECUTOR_ID: `test-${database.name}`,
    ...env,
    DATABASE_URL: database.url,
    ...(system ? { DBOS_SYSTEM_DATABASE_URL: system.url } : {}),
  });
  const builder = Test.createTestingModule({ imports: [AppModule.forRoot(config, { appDatabaseUrl: database.url, systemDatabaseUrl })] }).setLogger(
    new ConsoleLogger({ logLevels: ['fatal', 'error'] }),
  );
  const moduleRef = await (options.override?.(builder) ?? builder).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(httpAdapter(config), { bodyParser: false, logger: ['fatal', 'error'] });
  const document = configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: testPool(database.url, 3) }) });
  return {
    app,
    baseUrl,
    database,
    systemDatabaseUrl,
    db,
    document,
    async request(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
      const response = await fetch(baseUrl + path, init);
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: response.status, body: parsed, text };
    },
    async close() {
      await app.close();
      await db.destroy();
      await database.drop();
      await system?.drop();
    },
  };
}
