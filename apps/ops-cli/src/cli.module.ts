import { ConsoleLogger, type DynamicModule, type INestApplicationContext, type LogLevel, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { hostname, userInfo } from 'node:os';
import pg from 'pg';
import { type AppConfig, ConfigError } from '#common';
import { ControlPlaneModule, type OpsPrincipal } from '#control-plane';
import { DatabaseModule, type Databases, resolveDatabases } from '#db';
import { DbosModule } from '#dbos';

export interface CliOptions {
  readonly config: AppConfig;
  readonly appDatabaseUrl: string;
  readonly systemDatabaseUrl: string;
  readonly executorId: string;
  readonly dbosLogLevel: string;
}

/**
 * The CLI's Nest graph: the database, DBOS (a process that never dequeues work: `listenQueues: []`)
 * and the control plane without its routes. Commands call OpsService, the code behind the HTTP routes.
 */
@Module({})
export class CliModule {
  static forRoot(options: CliOptions): DynamicModule {
    return {
      module: CliModule,
      imports: [
        DatabaseModule.forRoot({ url: options.appDatabaseUrl, poolSize: 4, preparedStatements: options.config.preparedStatements }),
        DbosModule.forRoot({
          systemDatabaseUrl: options.systemDatabaseUrl,
          appVersion: options.config.appVersion,
          executorId: options.executorId,
          logLevel: options.dbosLogLevel,
          listenQueues: [],
          role: 'cli',
          preparedStatements: options.config.preparedStatements,
        }),
        ControlPlaneModule.forRoot({ serveHttp: false }),
      ],
    };
  }
}

/**
 * Nest's console logger on stderr only, so stdout carries nothing but the command's output (IDs piped
 * into the next command). The CLI loads no token registry (it serves no routes; it acts on the database).
 */
export class StderrLogger extends ConsoleLogger {
  protected override printMessages(
    messages: unknown[],
    context = '',
    logLevel: LogLevel = 'log',
    _stream?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    super.printMessages(messages, context, logLevel, 'stderr', errorStack, params);
  }
}

/** Stable per machine, so a later CLI run recovers an action a killed one left half-done. */
export function cliExecutorId(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.DBOS_EXECUTOR_ID?.trim();
  return given ? given : `ops-cli@${hostname()}`;
}

/** The audit principal of every CLI action: `cli:<OS user>`. */
export function cliPrincipal(): OpsPrincipal {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): fall back to the environment, then the numeric uid.
    user = process.env.USER ?? process.env.LOGNAME ?? `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return { principal: `cli:${user}`, role: 'operator' };
}

/**
 * DBOS recovers, at launch, every PENDING workflow of its executor ID. A CLI started with a running
 * service's DBOS_EXECUTOR_ID (say `docker compose exec worker node …/main.js`) would re-enqueue that
 * service's in-flight runs under its feet. Refuse an executor ID that owns PENDING work other than the
 * CLI's own control actions.
 */
export async function assertExecutorIdIsFree(systemDatabaseUrl: string, executorId: string): Promise<void> {
  const client = new pg.Client({ connectionString: systemDatabaseUrl, application_name: 'durable-ops-cli' });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; n: string }>(
      `SELECT name, count(*) AS n FROM dbos.workflow_status
        WHERE executor_id = $1 AND status = 'PENDING' AND name <> 'OpsActionWorkflow'
        GROUP BY name ORDER BY name`,
      [executorId],
    );
    if (rows.length > 0) {
      const owned = rows.map((r) => `${r.n} ${r.name}`).join(', ');
      throw new ConfigError(
        'DBOS_EXECUTOR_ID',
        `is "${executorId}", which owns PENDING workflows (${owned}): a service's executor ID. The CLI would re-enqueue that service's in-flight work at launch; unset it (the CLI then uses ops-cli@${hostname()}) or give the CLI its own`,
      );
    }
  } catch (error) {
    // A fresh database without the dbos schema yet: nobody owns anything.
    if ((error as { code?: string }).code !== '42P01') throw error;
  } finally {
    await client.end();
  }
}

/** The CLI's Nest log levels: quieter than the service's (nestLogLevels in apps/api): warnings and errors unless LOG_LEVEL=debug. */
export function cliLogLevels(config: AppConfig): LogLevel[] {
  return config.logLevel === 'debug' ? ['fatal', 'error', 'warn', 'log', 'debug'] : ['fatal', 'error', 'warn'];
}

/** DBOS logs through Nest (dbos-logger.ts), so to stderr; warnings and errors unless LOG_LEVEL=debug asks for more. */
export function dbosLogLevel(config: AppConfig): string {
  return config.logLevel === 'debug' ? 'debug' : 'warn';
}

export interface CliContext {
  readonly app: INestApplicationContext;
  readonly databases: Databases;
  close(): Promise<void>;
}

/** Resolves the databases (DATABASE_URL, or the embedded Postgres the service runs), boots the context, launches DBOS. */
export async function bootCli(config: AppConfig): Promise<CliContext> {
  const logger = new StderrLogger({ logLevels: cliLogLevels(config) });
  Logger.overrideLogger(logger);
  const databases = await resolveDatabases(config);
  const executorId = cliExecutorId();
  let app: INestApplicationContext;
  try {
    if (process.env.DBOS_EXECUTOR_ID?.trim()) await assertExecutorIdIsFree(databases.systemDatabaseUrl, executorId);
    app = await NestFactory.createApplicationContext(
      CliModule.forRoot({
        config,
        appDatabaseUrl: databases.appDatabaseUrl,
        systemDatabaseUrl: databases.systemDatabaseUrl,
        executorId,
        dbosLogLevel: dbosLogLevel(config),
      }),
      { logger, abortOnError: false },
    );
    await app.init();
  } catch (error) {
    await databases.embedded?.stop();
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    app,
    databases,
    close: () =>
      (closed ??= (async () => {
        try {
          await app.close();
        } finally {
          await databases.embedded?.stop();
        }
      })()),
  };
}
