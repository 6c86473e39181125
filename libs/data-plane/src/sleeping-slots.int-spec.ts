import { DbosService } from '#dbos';
import { startRun } from '../../../test/support/runs.js';
import { allSucceeded, intentsQueueCount, sleepers, workflowStatus } from '../../../test/support/sleepers.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

const OPERATOR = 'sleeping-operator-token-0';
const op = { authorization: `Bearer ${OPERATOR}` };

/**
 * A sleeping run holds no execution slot, also when it sleeps in the process (resumed, forked or
 * recovered before its deadline): while asleep it gives back its run slot (ExecutionSlots) and does
 * not count against the intents queue's workerConcurrency, so RUN_CONCURRENCY sleepers do not hold
 * back the process's other runs until their deadline (up to 24 h; before this, an immediate run
 * waited 39 s behind two 40 s sleepers). Through the queue, and woken sleepers waiting for a slot:
 * sleeping-slots-queue.int-spec.ts.
 */
describe('runs sleeping in the process, direct start (RUN_CONCURRENCY 2)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR}`, RUN_CONCURRENCY: '2' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('hold no slot: with RUN_CONCURRENCY of them asleep, an immediate run still succeeds at once', async () => {
    const { ids } = await sleepers(t, op, (i) => [{ connector: 'echo', args: { value: i } }], 2, 10_000);
    const started = Date.now();
    const now = await startRun(t, [{ connector: 'echo', args: { value: 'now' } }]);
    try {
      await waitFor('the immediate run to succeed', async () => ((await workflowStatus(t, now)) === 'SUCCESS' ? true : undefined), 3000, 20);
    } finally {
      console.log(
        `direct start: immediate run ${(await workflowStatus(t, now)) ?? '?'} after ${Date.now() - started} ms with RUN_CONCURRENCY (2) runs asleep in the process`,
      );
    }
    // Asleep, they count nowhere.
    expect(t.app.get(DbosService).slots.inUse).toBe(0);
    expect(intentsQueueCount()).toBe(0);
    await allSucceeded(t, ids);
    expect(t.app.get(DbosService).slots.inUse).toBe(0);
  });
});
