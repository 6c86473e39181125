import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { sql } from 'kysely';
import { EffectCounter } from './effect-counter.js';
import { startRun } from './runs.js';
import { startTestApp, type TestApp } from './test-app.js';
import { waitFor } from './wait.js';

/** Executions in this process that DBOS counts against the intents queue's workerConcurrency. */
export const intentsQueueCount = (): number => DBOSExecutor.globalInstance?.systemDatabase.countRunningWorkflowsForQueue('intents') ?? -1;

/** The workflow's status in dbos.workflow_status. */
export const workflowStatus = async (t: TestApp, id: string): Promise<string | undefined> =>
  (await sql<{ status: string }>`SELECT status FROM dbos.workflow_status WHERE workflow_uuid = ${id}`.execute(t.db)).rows[0]?.status;

/** The queue each workflow of `ids` is on (dbos.workflow_status.queue_name). */
export const queuesOf = async (t: TestApp, ids: readonly string[]): Promise<(string | null)[]> =>
  Promise.all(
    ids.map(
      async (id) =>
        (await sql<{ queue_name: string | null }>`SELECT queue_name FROM dbos.workflow_status WHERE workflow_uuid = ${id}`.execute(t.db)).rows[0]?.queue_name ??
        null,
    ),
  );

/** Waits until every workflow of `ids` is SUCCESS. */
export const allSucceeded = (t: TestApp, ids: readonly string[], timeoutMs = 20_000): Promise<true> =>
  waitFor(
    `${ids.length} run(s) to succeed`,
    async () => ((await Promise.all(ids.map((id) => workflowStatus(t, id)))).every((s) => s === 'SUCCESS') ? true : undefined),
    timeoutMs,
  );

/**
 * Runs asleep in this process. A delayed run waits DELAYED on the queue, holding nothing; resumed (or
 * forked, or recovered) before its deadline, it runs its first steps and sleeps the rest of its delay
 * in DBOS.sleep, in this process: PENDING, dequeued from the intents queue (resume of a DELAYED run
 * keeps its queue; resume after a cancel would not: DBOS's cancel clears the queue name).
 * Returns once `count` of them sleep, with the instant their deadline passes. `operator` are the
 * headers of an operator's token.
 */
export async function sleepers(
  t: TestApp,
  operator: Record<string, string>,
  tasks: (i: number) => unknown[],
  count: number,
  delayMs: number,
): Promise<{ ids: string[]; deadline: number }> {
  const why = { actor: 'alice', reason: 'a run sleeping in the process' };
  const ids: string[] = [];
  const created = Date.now();
  for (let i = 0; i < count; i++) ids.push(await startRun(t, tasks(i), { delayMs }));
  // Resume of a DELAYED run ends its wait on the queue: ENQUEUED on its own queue (intents), in its place.
  for (const id of ids) {
    await waitFor(`${id} to be DELAYED`, async () => ((await workflowStatus(t, id)) === 'DELAYED' ? true : undefined));
    const res = await t.request('POST', `/api/ops/wf/${id}/resume`, why, operator);
    if (res.status !== 202) throw new Error(`resume of ${id} answered ${res.status}: ${res.text}`);
  }
  for (const id of ids)
    await waitFor(`${id} to sleep in the process`, async () => {
      const steps = (await t.request('GET', `/api/runs/${id}/steps`)).body.steps as { name: string }[];
      return (await workflowStatus(t, id)) === 'PENDING' && steps.some((s) => s.name === 'DBOS.sleep') ? true : undefined;
    });
  return { ids, deadline: created + delayMs };
}

/** The operator token of sleepingRunsApp, and the headers that carry it. */
export const SLEEPERS_OPERATOR = 'sleeping-operator-token-0';
export const sleepersOperator = { authorization: `Bearer ${SLEEPERS_OPERATOR}` };

/**
 * The app of a sleeping-runs spec: RUN_CONCURRENCY 2, an operator (sleepersOperator) and a loopback
 * effect counter its `http` tasks reach, plus `env`. Registers the spec's beforeAll/afterAll: the
 * app is `t` once they ran; held effects are let go before the app closes.
 */
export function sleepingRunsApp(env: Record<string, string>): { readonly t: TestApp; effects: EffectCounter; http: (path: string) => unknown } {
  let app: TestApp | undefined;
  const effects = new EffectCounter();
  beforeAll(async () => {
    await effects.start();
    app = await startTestApp({
      OPS_API_TOKENS: `alice:operator:${SLEEPERS_OPERATOR}`,
      RUN_CONCURRENCY: '2',
      HTTP_CONNECTOR_ALLOWLIST: `${effects.prefix}/`,
      ...env,
    });
  });
  afterAll(async () => {
    effects.hold = undefined;
    effects.release();
    await app?.close();
    await effects.close();
  });
  return {
    get t(): TestApp {
      if (!app) throw new Error('the sleeping-runs app is not started (outside its describe)');
      return app;
    },
    effects,
    http: (path: string) => ({ connector: 'http', args: { method: 'POST', url: effects.url(path), body: { path } } }),
  };
}

/**
 * Two runs asleep in the process (their deadline 8 s out) and two other runs that then take both
 * slots and hold them past that deadline: each blocker's effect is held open at the effect counter
 * until `effects.release()`. Returns once both blockers hold theirs (the caller checks that this is
 * before the sleepers' deadline).
 */
export async function sleepersBehindBlockers(
  app: ReturnType<typeof sleepingRunsApp>,
): Promise<{ before: number; ids: string[]; blockers: string[]; deadline: number }> {
  const { t, effects, http } = app;
  const before = effects.total;
  const { ids, deadline } = await sleepers(t, sleepersOperator, (i) => [http(`woken-${i}`)], 2, 8000);
  effects.hold = () => true;
  const blockers = [await startRun(t, [http('blocker-0')]), await startRun(t, [http('blocker-1')])];
  await waitFor('both blockers to hold their effect open', () => Promise.resolve(effects.total - before === 2 ? true : undefined), 5000);
  return { before, ids, blockers, deadline };
}
