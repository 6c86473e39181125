import { Logger } from '@nestjs/common';
import { join, relative } from 'node:path';
import { type AppConfig, projectRoot } from '#common';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.js';

export interface ResolvedDatabases {
  readonly appDatabaseUrl: string;
  readonly systemDatabaseUrl: string;
}

export interface Databases extends ResolvedDatabases {
  readonly embedded: EmbeddedPostgres | undefined;
}

/** Same server, port, database and user: what Postgres considers one database for a transaction. */
export function sameDatabase(a: string, b: string): boolean {
  if (a === b) return true;
  const identity = (url: string): string => {
    const parsed = new URL(url);
    return [parsed.hostname.toLowerCase(), parsed.port || '5432', decodeURIComponent(parsed.pathname.slice(1)), decodeURIComponent(parsed.username)].join('\n');
  };
  return identity(a) === identity(b);
}

/** DATABASE_URL when set; otherwise the embedded Postgres under .data/pg. System DB defaults to the app DB. */
export async function resolveDatabases(config: Pick<AppConfig, 'databaseUrl' | 'systemDatabaseUrl' | 'embeddedPgPort'>): Promise<Databases> {
  if (config.databaseUrl) {
    return { appDatabaseUrl: config.databaseUrl, systemDatabaseUrl: config.systemDatabaseUrl ?? config.databaseUrl, embedded: undefined };
  }
  const logger = new Logger('Postgres');
  const embedded = await startEmbeddedPostgres({
    dataDir: join(projectRoot(), '.data', 'pg'),
    port: config.embeddedPgPort,
    database: 'durable_ops',
    log: (line) => logger.log(line),
  });
  const data = relative(projectRoot(), embedded.dataDir);
  logger.log(`no DATABASE_URL: embedded Postgres at ${embedded.url} (data in ${data.startsWith('..') ? embedded.dataDir : data})`);
  return { appDatabaseUrl: embedded.url, systemDatabaseUrl: embedded.url, embedded };
}
