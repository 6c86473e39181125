// Jest loads globalSetup with Node's own loader (no TypeScript), so this file is plain ESM and uses
// the compiled libs in dist/ (`npm run build` runs before the suites that need it).
import { DBOS } from '@dbos-inc/dbos-sdk';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from '../../dist/libs/common/src/index.js';
import { applySystemSql, migrate, startEmbeddedPostgres } from '../../dist/libs/db/src/index.js';

export const TEST_ADMIN_URL = 'DURABLE_OPS_TEST_ADMIN_URL';
export const TEST_TEMPLATE = 'DURABLE_OPS_TEST_TEMPLATE';

function withDatabase(url, database) {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin(adminUrl, sql) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * One Postgres server for the whole run: DATABASE_URL's server when set, else an embedded one.
 * A template database is migrated once (app + DBOS schemas); each test file clones it.
 */
export default async function globalSetup() {
  const given = process.env.DATABASE_URL?.trim();
  // A folder per run, so two test runs on one machine never share (or stop) each other's server.
  const embedded = given
    ? undefined
    : await startEmbeddedPostgres({ dataDir: join(projectRoot(), '.data', 'pg-test', String(process.pid)), database: 'postgres', fast: true });
  const adminUrl = given ? withDatabase(given, 'postgres') : embedded.adminUrl;
  const template = `durable_ops_tpl_${process.pid}_${Date.now().toString(36)}`;
  await admin(adminUrl, `CREATE DATABASE ${template}`);
  const url = withDatabase(adminUrl, template);
  await migrate(url);
  await DBOS.migrate(url);
  await applySystemSql(url);
  process.env[TEST_ADMIN_URL] = adminUrl;
  process.env[TEST_TEMPLATE] = template;
  globalThis.__durableOpsTestServer = { adminUrl, template, embedded };
}

export async function globalTeardown() {
  const server = globalThis.__durableOpsTestServer;
  if (!server) return;
  await admin(server.adminUrl, `DROP DATABASE IF EXISTS ${server.template} WITH (FORCE)`).catch(() => undefined);
  if (server.embedded) {
    await server.embedded.stop();
    rmSync(server.embedded.dataDir, { recursive: true, force: true });
  }
}
