import { createTestDatabase, type TestDatabase } from '../test/support/test-database.js';
import { waitFor } from '../test/support/wait.js';
import { freePort, startService, type ServiceProcess } from '../tools/harness/index.js';

/**
 * The built service as a user runs it: a separate process, driven over HTTP, killed with -9 and
 * restarted. Proves the Nest lifecycle order (workflows registered before DBOS.launch) lets DBOS
 * recover a run that was in flight when the process died, and that a delayed run (DELAYED on the
 * queue, holding no slot) keeps its original deadline.
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

    const waiting = (await service.request('GET', `/api/runs/${runId}`)).body;
    expect(waiting).toMatchObject({ status: 'waiting', nextAction: 'WAIT', dbosStatus: 'DELAYED' });
    // The delay counts from the run's creation.
    const deadline = Date.parse(waiting.createdAt) + 20_000;

    // Killed 3 s into its 20 s wait.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(waiting.createdAt) + 3000 - Date.now())));
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
    // The wait was spent DELAYED on the queue: the run started once it was due, and did not sleep again.
    expect(steps.body.steps.map((s: { name: string }) => s.name)).toEqual(['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST']);
    expect(Date.parse(steps.body.steps[0].startedAt)).toBeGreaterThanOrEqual(deadline);

    service.child.kill('SIGTERM');
    expect(await service.exited()).toBe(0);
  });
});
