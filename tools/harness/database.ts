import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from '#common';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '#db';

/** The Postgres server a harness runs on: DATABASE_URL's server, or an embedded one under .data/<dataDir>. */
export interface PostgresServer {
  /** postgres://…/postgres on that server, for CREATE/DROP DATABASE. */
  readonly adminUrl: string;
  readonly description: string;
  /** True when the harness started the server itself (no DATABASE_URL). */
  readonly embedded: boolean;
  stop(): Promise<void>;
}

export interface ThrowawayDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** `url` with its database replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** One statement on a short-lived connection (CREATE/DROP DATABASE cannot run in a pool's transaction). */
export async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, application_name: 'durable-ops-harness' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * DATABASE_URL's server when given, otherwise an embedded Postgres in `.data/<dataDir>` (stopped by
 * `stop()`); `fast` (the default) trades its durability for speed, which a benchmark does not want.
 */
export async function openPostgresServer(
  databaseUrl: string | undefined,
  dataDir: string,
  options: { fast?: boolean; log?: (line: string) => void } = {},
): Promise<PostgresServer> {
  if (databaseUrl) {
    const adminUrl = withDatabase(databaseUrl, 'postgres');
    const shown = new URL(adminUrl);
    return { adminUrl, description: `Postgres at ${shown.hostname}:${shown.port || '5432'} (DATABASE_URL)`, embedded: false, stop: () => Promise.resolve() };
  }
  const embedded: EmbeddedPostgres = await startEmbeddedPostgres({
    dataDir: join(projectRoot(), '.data', dataDir),
    database: 'postgres',
    fast: options.fast ?? true,
    ...(options.log ? { log: options.log } : {}),
  });
  return {
    adminUrl: embedded.adminUrl,
    description: `embedded Postgres on port ${embedded.port} (.data/${dataDir})`,
    embedded: true,
    stop: () => embedded.stop(),
  };
}

/**
 * A fresh database named `<prefix>_<random>` on the server of `adminUrl`: empty (the service migrates
 * it at boot) or cloned from `template`. `drop()` removes it, closing whatever is still connected.
 */
export async function createThrowawayDatabase(adminUrl: string, prefix: string, template?: string): Promise<ThrowawayDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  return { name, url: withDatabase(adminUrl, name), drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * A pg pool on a database that will be dropped. `pool.end()` resolves before its connections have
 * closed, so the `DROP DATABASE … WITH (FORCE)` that follows can terminate one of them (57P01):
 * without an `error` listener the pool re-emits that as an unhandled error and fails whatever runs
 * then. Any other error on an idle connection is still thrown.
 */
export function throwawayPool(connectionString: string, max: number, name: string): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: name });
  pool.on('error', (error: Error & { code?: string }) => {
    if (error.code !== '57P01') throw error;
  });
  return pool;
}
