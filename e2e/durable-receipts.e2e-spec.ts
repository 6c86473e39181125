import { EffectCounter } from '../test/support/effect-counter.js';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.js';
import { waitFor } from '../test/support/wait.js';
import { freePort, startService, type ServiceProcess } from '../tools/harness/index.js';

const TASKS = 8;

/**
 * Each task outcome is durable as soon as it settles: the built service is killed with -9 while the
 * 4th of 8 http effects is in flight and restarted under the same executor ID. The recovered
 * ExecuteST replays the three receipts that succeeded and re-sends only the effect that was in
 * flight (same Idempotency-Key), counted at the effect server.
 */
describe('kill -9 mid-ExecuteST re-sends only the effect in flight', () => {
  let database: TestDatabase;
  let service: ServiceProcess | undefined;
  const effects = new EffectCounter();

  beforeAll(async () => {
    database = await createTestDatabase();
    await effects.start();
  });
  afterAll(async () => {
    if (service && service.child.exitCode === null) service.child.kill('SIGKILL');
    await effects.close();
    await database?.drop();
  });

  it('sends every effect once, except the one in flight (at most twice)', async () => {
    const port = await freePort();
    const env = {
      DATABASE_URL: database.url,
      DBOS_EXECUTOR_ID: 'e2e-receipts',
      APP_VERSION: 'e2e-receipts-1',
      HTTP_CONNECTOR_ALLOWLIST: `${effects.prefix}/`,
    };
    service = await startService('durable-receipts-e2e', env, port);

    // The 4th effect is held open: the service dies while waiting for its answer.
    effects.hold = (_key, seen) => seen === 1 && effects.total === 4;
    const tasks = Array.from({ length: TASKS }, (_, i) => ({ connector: 'http', args: { method: 'POST', url: effects.url(`task-${i}`), body: { i } } }));
    const intent = await service.request('POST', '/api/intents', { goal: 'eight effects', inputs: { tasks }, constraints: {} });
    expect(intent.status).toBe(201);
    const started = await service.request('POST', '/api/runs', { intentId: intent.body.intentId });
    expect(started.status).toBe(202);
    const runId = started.body.runId as string;

    const inFlight = await effects.nextHeld();
    service.child.kill('SIGKILL');
    expect(await service.exited()).toBe('SIGKILL');
    effects.hold = undefined;
    effects.release();
    expect(effects.total).toBe(4);

    service = await startService('durable-receipts-e2e', env, port);
    await waitFor(
      'the recovered run to succeed',
      async () => {
        const res = await service!.request('GET', `/api/runs/${runId}`);
        return res.body.dbosStatus === 'SUCCESS' ? true : undefined;
      },
      60_000,
    );

    const keys = [...effects.counts.keys()];
    expect(keys).toHaveLength(TASKS);
    const resent = keys.filter((key) => effects.count(key) > 1);
    expect(resent.filter((key) => key !== inFlight)).toEqual([]);
    expect(effects.count(inFlight)).toBeLessThanOrEqual(2);
    expect(effects.total).toBeLessThanOrEqual(TASKS + 1);

    const run = await service.request('GET', `/api/runs/${runId}`);
    expect(run.body.status).toBe('succeeded');
    service.child.kill('SIGTERM');
    expect(await service.exited()).toBe(0);
  });
});
