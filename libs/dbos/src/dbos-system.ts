import type { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';

/**
 * DBOS's own system-database object of the launched executor, whose methods workflow-start.ts,
 * queue-claim.ts and workflow-outcome.ts replace on the instance (not the Kysely `SystemDatabase` of
 * system-database.ts).
 */
export type DbosSystemDatabase = DBOSExecutor['systemDatabase'];

/**
 * DBOS's own methods of `system`: still on its prototype once a replacement is installed on the
 * instance. A replacement falls back to them for what it does not cover; the tests compare with them.
 */
export function dbosMethods(system: DbosSystemDatabase): DbosSystemDatabase {
  return Object.getPrototypeOf(system) as DbosSystemDatabase;
}

/** A DBOS system table, schema-qualified and quoted as DBOS names it. */
export function systemTable(schema: string, name: string): string {
  return `"${schema.replaceAll('"', '""')}".${name}`;
}

/** The server's clock in epoch milliseconds, as DBOS stamps its columns. */
export const NOW_MS = `(EXTRACT(EPOCH FROM now()) * 1000)::bigint`;
