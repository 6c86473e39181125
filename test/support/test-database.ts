import { createThrowawayDatabase, throwawayPool, type ThrowawayDatabase } from '../../tools/harness/index.js';

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

/** A pool for a test's own assertions on a database it will drop (see throwawayPool). */
export const testPool = (connectionString: string, max: number) => throwawayPool(connectionString, max, 'durable-ops-test');
