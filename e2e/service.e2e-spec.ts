import { createTestDatabase, type TestDatabase } from '../test/support/test-database.js';
import { waitFor } from '../test/support/wait.js';
import { freePort, startService, type ServiceProcess } from './support/service-process.js';

/**
 * The built service as a user runs it: a separate process, driven over HTTP, killed with -9 and
 * restarted. Proves the Nest lifecycle order (workflows registered before DBOS.launch) lets DBOS
 * recover a run that was in flight when the process died, and that its durable sleep keeps its
 * original deadline.
 */
describe('the built service as a separate process', () => {
  let database: TestDatabase;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    if (service && service.child.exitCode === null) service.child.kill('SIGKILL');
    await database?.drop();
  });

  it('serves the walkthrough, survives kill -9 mid-sleep, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const env = { DATABASE_URL: database.url, DBOS_EXECUTOR_ID: 'e2e-executor', APP_VERSION: 'e2e-1' };
    service = await startService('service-e2e', env, port);

    const health = await service.request('GET', '/healthz');
    expect(health.body).toMatchObject({ status: 'ok', appVersion: 'e2e-1', executorID: 'e2e-executor' });

    const intent = await service.request('POST', '/api/intents', {
      goal: 'sleep then echo',
      inputs: { tasks: [{ connector: 'echo', args: { value: 'after the crash' } }] },
      constraints: { delayMs: 20_000 },
    });
    expect(intent.status).toBe(201);
    const started = await service.request('POST', '/api/runs', { intentId: intent.body.intentId });
    expect(started.status).toBe(202);
    const runId = started.body.runId as string;

    const waiting = await waitFor('the run to reach its durable sleep', async () => {
      const res = await service!.request('GET', `/api/runs/${runId}`);
      return res.body.status === 'waiting' ? res.body : undefined;
    });
    const decision = (await service.request('GET', `/api/runs/${runId}/artifacts`)).body.artifacts.find((a: { kind: string }) => a.kind === 'decision');
    const deadline = Date.parse(decision.inline.decidedAt) + 20_000;
    expect(waiting.nextAction).toBe('WAIT');

    // Killed 3 s into its 20 s sleep.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(decision.inline.decidedAt) + 3000 - Date.now())));
    service.child.kill('SIGKILL');
    expect(await service.exited()).toBe('SIGKILL');

    service = await startService('service-e2e', env, port);
    const done = await waitFor(
      'the recovered run to succeed',
      async () => {
        const res = await service!.request('GET', `/api/runs/${runId}`);
        return res.body.dbosStatus === 'SUCCESS' ? res.body : undefined;
      },
      40_000,
    );
    const finishedAt = Date.now();
    expect(done.status).toBe('succeeded');
    // Woke at the original deadline, not 20 s after the restart.
    expect(finishedAt).toBeGreaterThanOrEqual(deadline - 50);
    expect(finishedAt - deadline).toBeLessThan(4000);

    const steps = await service.request('GET', `/api/runs/${runId}/steps`);
    expect(steps.body.steps.map((s: { name: string }) => s.name)).toEqual(['CompileST', 'ApplyPatchST', 'DecideST', 'DBOS.sleep', 'ExecuteST']);

    service.child.kill('SIGTERM');
    expect(await service.exited()).toBe(0);
  });
});
