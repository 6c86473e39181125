import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';
import { type Connector, ConnectorRegistry, type TaskContext, TransientTaskError } from './index.js';

/**
 * A downstream system the test owns: it counts every call it receives and applies each task's
 * effect once per idempotency key (as a well-behaved API would), failing the first call of each
 * key with a transient error, as a flaky network would.
 */
class FlakyDownstream implements Connector<{ amount: number }> {
  readonly name = 'ledger';
  readonly calls: { taskKey: string; attempt: number }[] = [];
  readonly applied = new Map<string, number>();

  parseArgs(args: unknown): { amount: number } {
    return { amount: Number((args as { amount?: unknown }).amount) };
  }

  execute(args: { amount: number }, context: TaskContext): Promise<unknown> {
    this.calls.push({ taskKey: context.taskKey, attempt: context.attempt });
    if (this.calls.filter((c) => c.taskKey === context.taskKey).length === 1) return Promise.reject(new TransientTaskError('connection reset'));
    this.applied.set(context.taskKey, (this.applied.get(context.taskKey) ?? 0) + args.amount);
    return Promise.resolve({ booked: args.amount });
  }
}

describe('a connector swapped in with overrideProvider (@nestjs/testing)', () => {
  const ledger = new FlakyDownstream();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({}, { override: (builder) => builder.overrideProvider(ConnectorRegistry).useValue(new ConnectorRegistry([ledger])) });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('retries a transient failure and books each task once, counted at the downstream', async () => {
    const intent = await t.request('POST', '/api/intents', {
      goal: 'book two amounts',
      inputs: {
        tasks: [
          { connector: 'ledger', args: { amount: 5 } },
          { connector: 'ledger', args: { amount: 7 } },
        ],
      },
      constraints: {},
    });
    expect(intent.status).toBe(201);
    // Only the swapped-in registry is there: the built-in echo connector is unknown now.
    const echo = await t.request('POST', '/api/intents', { goal: 'echo', inputs: { tasks: [{ connector: 'echo', args: { value: 1 } }] }, constraints: {} });
    expect(echo.status).toBe(400);

    const run = await t.request('POST', '/api/runs', { intentId: intent.body.intentId });
    expect(run.status).toBe(202);
    const view = await waitFor(
      `run ${run.body.runId} to settle`,
      async () => {
        const res = await t.request('GET', `/api/runs/${run.body.runId}`);
        return ['SUCCESS', 'ERROR', 'CANCELLED'].includes(res.body?.dbosStatus) ? res.body : undefined;
      },
      30_000,
    );
    expect(view).toMatchObject({ dbosStatus: 'SUCCESS', status: 'succeeded' });
    expect([...ledger.applied.values()].sort()).toEqual([5, 7]);
    const keys = [...ledger.applied.keys()];
    for (const key of keys) expect(ledger.calls.filter((c) => c.taskKey === key).length).toBeGreaterThanOrEqual(2);
  });
});
