import pg from 'pg';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../tools/harness/index.js';

/** Set by test/support/global-setup.mjs. */
const TEST_ADMIN_URL = 'DURABLE_OPS_TEST_ADMIN_URL';
const TEST_TEMPLATE = 'DURABLE_OPS_TEST_TEMPLATE';

export type TestDatabase = ThrowawayDatabase;

/** A fresh database for one test file, cloned from the migrated template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env[TEST_ADMIN_URL];
  const template = process.env[TEST_TEMPLATE];
  if (!adminUrl || !template) throw new Error('no test server: run these tests through jest (globalSetup starts it)');
  return createThrowawayDatabase(adminUrl, 'durable_ops_t', template);
}

/**
 * A pg pool for a test's own assertions. `pool.end()` resolves before its connections have closed,
 * so the `DROP DATABASE … WITH (FORCE)` that follows can terminate one of them (57P01): without an
 * `error` listener the pool re-emits that as an unhandled error and fails whichever test is running.
 * Any other error on an idle connection is still thrown.
 */
export function testPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on('error', (error: Error & { code?: string }) => {
    if (error.code !== '57P01') throw error;
  });
  return pool;
}
