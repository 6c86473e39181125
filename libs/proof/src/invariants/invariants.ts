import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from '#common';
import { sameDatabase } from '#db';

/**
 * The SQL oracle (`ops:verify`): db/invariants/*.sql, one invariant per file, each a SELECT of the
 * violating `id`s with a `detail`. The SQL is the proof and lives where auditors read it; this file
 * only runs it and reports.
 */
export interface InvariantViolation {
  id: string;
  detail: string;
}

export interface InvariantResult {
  name: string;
  description: string;
  violations: InvariantViolation[];
}

export interface Invariant {
  /** The file name without .sql, e.g. 03_run_status_matches_dbos. */
  readonly name: string;
  /** The first line of the file's header comment. */
  readonly description: string;
  readonly sql: string;
}

/** The oracle cannot run here: its exit code is 2, not the 1 of a violated invariant. */
export class OracleSetupError extends Error {
  override readonly name = 'OracleSetupError';
  readonly exitCode = 2;
}

export function invariantsDir(): string {
  return join(projectRoot(), 'db', 'invariants');
}

/** Reads the invariants in name order; a file without a header comment is refused (say what you prove). */
export function loadInvariants(dir = invariantsDir()): Invariant[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8');
      const header = /^\s*--\s?(.*\S)/.exec(sql);
      if (!header?.[1]) throw new Error(`db/invariants/${file} must start with a comment saying what it proves`);
      return { name: file.slice(0, -'.sql'.length), description: header[1].trim(), sql };
    });
}

/**
 * Runs every invariant in one read-only REPEATABLE READ transaction (one snapshot for all of them) on
 * one connection that must see both the app and the dbos schemas.
 */
export async function verifyInvariants(databaseUrl: string, dir = invariantsDir()): Promise<InvariantResult[]> {
  const invariants = loadInvariants(dir);
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'durable-ops-oracle' });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query("SET LOCAL statement_timeout = '120s'");
    const schemas = await client.query<{ app: boolean; dbos: boolean; db: string }>(
      "SELECT to_regclass('app.runs') IS NOT NULL AS app, to_regclass('dbos.workflow_status') IS NOT NULL AS dbos, current_database() AS db",
    );
    const found = schemas.rows[0];
    const missing = [found?.app ? undefined : 'app', found?.dbos ? undefined : 'dbos'].filter(Boolean);
    if (missing.length > 0) {
      throw new OracleSetupError(
        `the SQL oracle needs the app and dbos schemas in one database; ${found?.db ?? 'this database'} has no ${missing.join(' or ')} schema (run db:migrate)`,
      );
    }
    const results: InvariantResult[] = [];
    for (const invariant of invariants) {
      let rows: Record<string, unknown>[];
      try {
        const result = await client.query<Record<string, unknown>>(invariant.sql);
        if (Array.isArray(result)) throw new Error('must be a single SELECT (it holds several statements)');
        const columns = result.fields.map((f) => f.name);
        if (!columns.includes('id') || !columns.includes('detail')) {
          throw new Error(`must return the columns id and detail (it returns ${columns.join(', ') || 'none'})`);
        }
        rows = result.rows;
      } catch (error) {
        throw new Error(`invariant ${invariant.name} failed to run: ${(error as Error).message}`, { cause: error });
      }
      results.push({
        name: invariant.name,
        description: invariant.description,
        violations: rows.map((row) => ({ id: text(row.id), detail: text(row.detail) })),
      });
    }
    await client.query('COMMIT');
    return results;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/** A column value as report text (an oracle file may select a number or a json value). */
function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const SHOWN_PER_INVARIANT = 20;

/** One line per invariant (✓ or ✗, name, description), then each violating id and why, indented. */
export function formatInvariantReport(results: readonly InvariantResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    const count = result.violations.length;
    lines.push(`${count === 0 ? '✓' : '✗'} ${result.name} — ${result.description}${count === 0 ? '' : ` (${count} violation${count === 1 ? '' : 's'})`}`);
    for (const violation of result.violations.slice(0, SHOWN_PER_INVARIANT)) lines.push(`    ${violation.id}  ${violation.detail}`);
    if (count > SHOWN_PER_INVARIANT) lines.push(`    … and ${count - SHOWN_PER_INVARIANT} more`);
  }
  const failed = results.filter((r) => r.violations.length > 0);
  lines.push(
    failed.length === 0
      ? `all ${results.length} invariants hold`
      : `${failed.length} of ${results.length} invariants violated: ${failed.map((r) => r.name).join(', ')}`,
  );
  return lines.join('\n');
}

/** Host, port, database and user: two URLs that agree on these name one database. */
/**
 * The one URL the oracle runs on. Its invariants join app.* with dbos.*, which Postgres can only do
 * inside one database, so split app and system databases are refused (OracleSetupError, exit 2).
 */
export function oracleDatabaseUrl(databases: { readonly appDatabaseUrl: string; readonly systemDatabaseUrl: string }): string {
  const { appDatabaseUrl, systemDatabaseUrl } = databases;
  if (!sameDatabase(appDatabaseUrl, systemDatabaseUrl)) {
    throw new OracleSetupError(
      'ops:verify needs the app and DBOS system schemas in one database (its invariants join app.* with dbos.*), but DBOS_SYSTEM_DATABASE_URL names a different database than DATABASE_URL',
    );
  }
  return appDatabaseUrl;
}

/**
 * `ops:verify` in one call: prints the report and returns the exit code: 0 all hold, 1 a violation,
 * 2 the oracle cannot run here (split databases, missing schema), with one line saying why.
 */
export async function runInvariantCheck(
  databases: { readonly appDatabaseUrl: string; readonly systemDatabaseUrl: string },
  print: (text: string) => void = (text) => console.log(text),
  printError: (text: string) => void = (text) => console.error(text),
): Promise<0 | 1 | 2> {
  try {
    const results = await verifyInvariants(oracleDatabaseUrl(databases));
    print(formatInvariantReport(results));
    return results.some((r) => r.violations.length > 0) ? 1 : 0;
  } catch (error) {
    if (error instanceof OracleSetupError) {
      printError(error.message);
      return 2;
    }
    throw error;
  }
}
