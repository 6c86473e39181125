import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot, sha256 } from '#common';

/** Any constant shared by every process that migrates this database. */
const MIGRATION_LOCK_KEY = 720_401_337;

export interface MigrationResult {
  readonly applied: string[];
  readonly skipped: number;
}

export function migrationsDir(): string {
  return join(projectRoot(), 'db', 'migrations');
}

export function systemSqlDir(): string {
  return join(projectRoot(), 'db', 'system');
}

/**
 * The statements of a db/system file: split on a `;` that ends a line outside a dollar-quoted body
 * (`$body$ … $body$`, so a PL/pgSQL function keeps its own), with whole-line `--` comments dropped.
 */
export function splitSqlStatements(text: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  let quote: string | undefined;
  for (const line of text.split('\n')) {
    for (const tag of line.match(/\$[A-Za-z_]*\$/g) ?? []) {
      if (quote === undefined) quote = tag;
      else if (tag === quote) quote = undefined;
    }
    if (quote === undefined && /^\s*--/.test(line)) continue;
    current.push(line);
    if (quote === undefined && /;\s*$/.test(line)) {
      statements.push(current.join('\n').replace(/;\s*$/, '').trim());
      current = [];
    }
  }
  statements.push(current.join('\n').trim());
  return statements.filter((statement) => statement.length > 0);
}

/**
 * Applies db/system/*.sql — indexes and views over the DBOS system schema — statement by statement
 * (so CREATE INDEX CONCURRENTLY works), under the migration lock. The files are idempotent and run at
 * every boot after DBOS has migrated its schema, so they come back after db:sys:reset.
 */
export async function applySystemSql(systemDatabaseUrl: string, dir = systemSqlDir()): Promise<string[]> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const client = new pg.Client({ connectionString: systemDatabaseUrl, application_name: 'durable-ops-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    for (const file of files) {
      for (const statement of splitSqlStatements(readFileSync(join(dir, file), 'utf8'))) {
        try {
          await client.query(statement);
        } catch (error) {
          throw new Error(`${file} failed: ${(error as Error).message}`, { cause: error });
        }
      }
    }
    return files;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

/**
 * Applies db/migrations/*.sql in name order, each in its own transaction, under a session-level
 * advisory lock so concurrent boots serialize. An applied migration whose file changed is an error:
 * migrations are frozen once they land.
 */
export async function migrate(databaseUrl: string, dir = migrationsDir()): Promise<MigrationResult> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'durable-ops-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      `CREATE SCHEMA IF NOT EXISTS app;
       CREATE TABLE IF NOT EXISTS app.schema_migrations (
         name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Map(
      (await client.query<{ name: string; checksum: string }>('SELECT name, checksum FROM app.schema_migrations')).rows.map((r) => [r.name, r.checksum]),
    );
    const applied: string[] = [];
    for (const file of files) {
      const sql = readFileSync(join(dir, file), 'utf8');
      const checksum = sha256(sql);
      const previous = done.get(file);
      if (previous !== undefined) {
        if (previous !== checksum) throw new Error(`migration ${file} changed after it was applied (frozen migrations must not be edited; add a new one)`);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO app.schema_migrations (name, checksum) VALUES ($1, $2)', [file, checksum]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push(file);
    }
    return { applied, skipped: files.length - applied.length };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}
