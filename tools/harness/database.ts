import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from '#common';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '#db';

/** The Postgres server the rounds run on: DATABASE_URL's server, or an embedded one under .data/pg-chaos. */
export interface ChaosServer {
  /** postgres://…/postgres on that server, for CREATE/DROP DATABASE. */
  readonly adminUrl: string;
  readonly description: string;
  stop(): Promise<void>;
}

export interface ThrowawayDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, application_name: 'durable-ops-chaos' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function openChaosServer(databaseUrl: string | undefined): Promise<ChaosServer> {
  if (databaseUrl) {
    const adminUrl = withDatabase(databaseUrl, 'postgres');
    const shown = new URL(adminUrl);
    return { adminUrl, description: `Postgres at ${shown.hostname}:${shown.port || '5432'} (DATABASE_URL)`, stop: () => Promise.resolve() };
  }
  const embedded: EmbeddedPostgres = await startEmbeddedPostgres({
    dataDir: join(projectRoot(), '.data', 'pg-chaos'),
    database: 'postgres',
    fast: true,
  });
  return { adminUrl: embedded.adminUrl, description: `embedded Postgres on port ${embedded.port} (.data/pg-chaos)`, stop: () => embedded.stop() };
}

/** A fresh, empty database for one round; the service migrates it at boot. */
export async function createThrowawayDatabase(server: ChaosServer): Promise<ThrowawayDatabase> {
  const name = `durable_ops_chaos_${randomBytes(6).toString('hex')}`;
  await admin(server.adminUrl, `CREATE DATABASE ${name}`);
  return { name, url: withDatabase(server.adminUrl, name), drop: () => admin(server.adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
