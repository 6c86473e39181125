import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { ConfigError, loadConfig } from '#common';
import { applySystemSql, migrate, resolveDatabases } from '#db';

/**
 * `npm run db:sys:reset` (`db-reset.js sys`) and `npm run db:reset` (`db-reset.js app`): drop a schema
 * with everything in it and migrate it back, empty.
 *
 * - sys: DROP SCHEMA dbos CASCADE — every workflow, step and queue, and, by cascade, the app.v_ops_*
 *   views over them — then DBOS's migrations and db/system/*.sql (indexes and views) again.
 * - app: DROP SCHEMA app CASCADE — intents, runs, marks, artifacts, receipts, settings (and the views
 *   when app and dbos share a database) — then the app migrations and db/system/*.sql again.
 *
 * docs/architecture.md ("Databases") orders them sys first, then app, so no run row outlives its workflow. Each ends by
 * re-applying db/system/*.sql, which recreates the views wherever they were dropped, so either order
 * leaves the views in place.
 */
const USAGE = 'usage: node dist/apps/api/src/db-reset.js app|sys [--yes-really]';
const OVERRIDE = '--yes-really';

type Target = 'app' | 'sys';

/** A bad invocation or a refusal: one line, exit code 2. */
class UsageError extends Error {}

/** A URL fit for a log line: no password. */
function shown(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

async function dropSchema(url: string, schema: 'app' | 'dbos'): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'durable-ops-db-reset' });
  await client.connect();
  try {
    // A running service holds locks on these tables: give up with a clear message rather than hang.
    await client.query("SET lock_timeout = '10s'");
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '55P03') throw new Error(`could not lock the ${schema} schema within 10 s: stop the service (and workers) first`, { cause: error });
    throw error;
  } finally {
    await client.end();
  }
}

async function main(args: readonly string[]): Promise<string> {
  const target = args.find((arg) => !arg.startsWith('-'));
  const unknown = args.filter((arg) => arg.startsWith('-') && arg !== OVERRIDE);
  if ((target !== 'app' && target !== 'sys') || unknown.length > 0 || args.filter((arg) => !arg.startsWith('-')).length !== 1) {
    throw new UsageError(USAGE);
  }
  if (process.env.NODE_ENV === 'production' && !args.includes(OVERRIDE)) {
    throw new UsageError(`refusing to reset the ${target === 'sys' ? 'dbos' : 'app'} schema with NODE_ENV=production (pass ${OVERRIDE} if you mean it)`);
  }
  const databases = await resolveDatabases(loadConfig());
  try {
    return await reset(target, databases);
  } finally {
    await databases.embedded?.stop();
  }
}

async function reset(target: Target, databases: { appDatabaseUrl: string; systemDatabaseUrl: string }): Promise<string> {
  const { appDatabaseUrl, systemDatabaseUrl } = databases;
  switch (target) {
    case 'sys':
      await dropSchema(systemDatabaseUrl, 'dbos');
      await DBOS.migrate(systemDatabaseUrl);
      await applySystemSql(systemDatabaseUrl);
      return `db:sys:reset: dropped and re-migrated the dbos schema (all workflows gone; app.v_ops_* views recreated) in ${shown(systemDatabaseUrl)}`;
    case 'app': {
      await dropSchema(appDatabaseUrl, 'app');
      const migrated = await migrate(appDatabaseUrl);
      // Idempotent; here so that an app reset on a database DBOS never migrated still ends with the views.
      await DBOS.migrate(systemDatabaseUrl);
      await applySystemSql(systemDatabaseUrl);
      return `db:reset: dropped and re-migrated the app schema (${migrated.applied.length} migrations; app.v_ops_* views recreated) in ${shown(appDatabaseUrl)}`;
    }
  }
}

main(process.argv.slice(2)).then(
  (line) => console.log(line),
  (error: unknown) => {
    console.error(error instanceof ConfigError || error instanceof UsageError ? error.message : error);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
