import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

const OPERATOR = 'pool-operator-token-00000';

/**
 * A server that drops the service's connections (restart, failover, an operator's
 * pg_terminate_backend) must cost a reconnect, not the process: pg re-emits an idle connection's
 * error on its pool, and a pool without an error listener takes the process down with it.
 */
describe('connections the server drops', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR}` });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('are replaced: the app and ops pools keep serving after their backends are terminated', async () => {
    // Both pools hold an idle connection: one app read, one control-plane read.
    expect((await t.request('GET', '/api/runs')).status).toBe(200);
    expect((await t.request('GET', '/api/ops/wf', undefined, { authorization: `Bearer ${OPERATOR}` })).status).toBe(200);

    const killed = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM (
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name IN ('durable-ops', 'durable-ops-ops')
      ) AS t`.execute(t.db);
    expect(killed.rows[0]!.n).toBeGreaterThanOrEqual(2);
    await waitFor('the terminated backends to go', async () => {
      const left = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name IN ('durable-ops', 'durable-ops-ops')`.execute(t.db);
      return left.rows[0]!.n === 0 ? true : undefined;
    });

    expect((await t.request('GET', '/api/runs')).status).toBe(200);
    expect((await t.request('GET', '/api/ops/wf', undefined, { authorization: `Bearer ${OPERATOR}` })).status).toBe(200);
    const intent = await t.request('POST', '/api/intents', {
      goal: 'after',
      inputs: { tasks: [{ connector: 'echo', args: { value: 'x' } }] },
      constraints: {},
    });
    expect(intent.status).toBe(201);
  });
});
