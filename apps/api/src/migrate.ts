import { DBOS } from '@dbos-inc/dbos-sdk';
import { ConfigError, loadConfig } from '#common';
import { applySystemSql, migrate, resolveDatabases } from '#db';

/** `npm run db:migrate`: the app migrations, then the DBOS system schema. */
async function main(): Promise<void> {
  const config = loadConfig();
  const databases = await resolveDatabases(config);
  try {
    const result = await migrate(databases.appDatabaseUrl);
    console.log(result.applied.length ? `applied: ${result.applied.join(', ')}` : `app schema up to date (${result.skipped} migrations)`);
    await DBOS.migrate(databases.systemDatabaseUrl);
    await applySystemSql(databases.systemDatabaseUrl);
    console.log('DBOS system schema, indexes and views up to date');
  } finally {
    await databases.embedded?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
