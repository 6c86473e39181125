import { hostname } from 'node:os';
import { oracleViolations, Proofs, runOracle, type ExpectedRun } from '../tools/chaos/checks.js';
import { EffectServer } from '../tools/chaos/effect-server.js';
import { Prng } from '../tools/chaos/prng.js';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.js';
import { waitFor } from '../test/support/wait.js';
import { startService, type ServiceProcess } from '../tools/harness/index.js';

const TOKEN = 'takeover-operator-token-0123456789';
/** Sweeps every 2 s, so a takeover is quick to observe (the default is every 10 s). */
const SWEEP = '*/2 * * * * *';
const TAKEOVER_BOUND_MS = 60_000;

/**
 * No stranded runs: a process killed with -9 whose executor ID never comes back (a replacement under
 * another port and executor ID, or a worker gone for good) has its PENDING runs taken over by a live
 * process, exactly once. Effects are counted at a loopback server; every run has one http task, so a
 * run re-sends at most the one effect it had in flight at the kill.
 */
describe('takeover of a gone executor’s runs', () => {
  let database: TestDatabase;
  let effects: EffectServer;
  let proofs: Proofs;
  const processes: ServiceProcess[] = [];

  beforeEach(async () => {
    database = await createTestDatabase();
    proofs = new Proofs(database.url);
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited();
    }
    await proofs?.close();
    await effects?.close();
    await database?.drop();
  });

  /** Slow effects, so a kill lands while runs are mid-ExecuteST. */
  async function effectServer(minLatencyMs: number, maxLatencyMs: number): Promise<void> {
    effects = await new EffectServer({ rng: new Prng('takeover'), minLatencyMs, maxLatencyMs, faultRate: 0 }).start();
  }

  const common = (): Record<string, string> => ({
    DATABASE_URL: database.url,
    APP_VERSION: 'takeover-1',
    HTTP_CONNECTOR_ALLOWLIST: effects.prefix,
    OPS_API_TOKENS: `ops:operator:${TOKEN}`,
    EXECUTOR_SWEEP_SCHEDULE: SWEEP,
  });

  async function start(name: string, env: Record<string, string>): Promise<ServiceProcess> {
    const service = await startService(name, { ...common(), ...env });
    processes.push(service);
    return service;
  }

  async function startRuns(api: ServiceProcess, tag: string, n: number, constraints: Record<string, unknown> = {}): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const tasks = [{ connector: 'http', args: { method: 'POST', url: effects.url(`${tag}/r${i}`), body: { tag, i } } }];
      const intent = await api.request('POST', '/api/intents', { goal: `${tag} ${i}`, inputs: { tasks }, constraints: { maxAttempts: 5, ...constraints } });
      expect(intent.status).toBe(201);
      const run = await api.request('POST', '/api/runs', { intentId: intent.body.intentId });
      expect(run.status).toBe(202);
      ids.push(run.body.runId as string);
    }
    return ids;
  }

  async function workflows(ids: readonly string[]): Promise<Map<string, { status: string; executor: string; attempts: number }>> {
    const rows = await proofs.rows<{ workflow_uuid: string; status: string; executor_id: string; recovery_attempts: string }>(
      `SELECT workflow_uuid, status, executor_id, recovery_attempts FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.workflow_uuid, { status: r.status, executor: r.executor_id, attempts: Number(r.recovery_attempts) }]));
  }

  /** Kills `victim` with -9 once one of its runs has an effect in flight; returns its PENDING runs and their attempts then. */
  async function killMidRun(victim: ServiceProcess, executorId: string, ids: readonly string[]): Promise<Map<string, number>> {
    await waitFor(
      `a run of ${executorId} to be mid-ExecuteST`,
      async () => {
        if (effects.inFlightKeys.size === 0) return undefined;
        const now = await workflows(ids);
        return [...now.values()].some((w) => w.status === 'PENDING' && w.executor === executorId) ? true : undefined;
      },
      30_000,
      20,
    );
    victim.child.kill('SIGKILL');
    expect(await victim.exited()).toBe('SIGKILL');
    effects.crashed();
    const stranded = new Map(
      [...(await workflows(ids))].filter(([, w]) => w.status === 'PENDING' && w.executor === executorId).map(([id, w]) => [id, w.attempts]),
    );
    expect(stranded.size).toBeGreaterThan(0);
    return stranded;
  }

  /** Exactly once at the server: a run SUCCESS before the kill sent its effect once; any other at most twice (the in-flight one again). */
  function effectCounts(ids: readonly string[], tag: string, doneBeforeKill: ReadonlySet<string>): string[] {
    const problems: string[] = [];
    ids.forEach((id, i) => {
      const record = [...effects.keys.values()].find((r) => r.path.endsWith(`/${tag}/r${i}`));
      const limit = doneBeforeKill.has(id) ? 1 : 2;
      if (!record) problems.push(`${id}: no effect`);
      else if (record.requests > limit) problems.push(`${id}: ${record.requests} requests (at most ${limit})`);
    });
    return problems;
  }

  async function verdict(ids: readonly string[]): Promise<void> {
    const expected: ExpectedRun[] = ids.map((runId) => ({ runId }));
    const violations = [
      ...(await proofs.runsSucceeded(expected)),
      ...(await proofs.marks(expected)),
      ...(await proofs.effects(expected, effects, { allKeysKnown: true })),
      ...(await proofs.noFailedWorkflows()),
    ];
    expect(violations).toEqual([]);
    // The oracle must run and find nothing: not built, unable to judge or a violation all fail here.
    expect(oracleViolations(await runOracle(database.url))).toEqual([]);
  }

  it('a process killed with -9 and replaced under another port and executor ID: two replacements race, its runs finish once', async () => {
    await effectServer(1500, 2500);
    // No DBOS_EXECUTOR_ID: the default <hostname>:<PORT>, as a replica on a real platform would have.
    const node = await start('takeover-node-a', { APP_ROLE: 'all' });
    const nodeA = `${hostname()}:${node.port}`;
    const busy = await startRuns(node, 'busy', 6);
    const sleeping = await startRuns(node, 'sleepy', 3, { delayMs: 6000 });
    const ids = [...busy, ...sleeping];
    // A delayed run waits DELAYED on the queue, held by no process, until its deadline.
    await waitFor('the delayed runs to wait on the queue', async () => {
      const now = await workflows(sleeping);
      return [...now.values()].every((w) => w.status === 'DELAYED') ? true : undefined;
    });
    const stranded = await killMidRun(node, nodeA, ids);
    const doneBeforeKill = new Set([...(await workflows(ids))].filter(([, w]) => w.status === 'SUCCESS').map(([id]) => id));

    // Two replacements, each under its own new executor ID and port, boot at the same moment: both sweep.
    // One has the default ID (its new port makes it another executor), the other an explicit one.
    const killedAt = Date.now();
    const [nodeB] = await Promise.all([
      start('takeover-node-b', { APP_ROLE: 'all' }),
      start('takeover-node-c', { APP_ROLE: 'all', DBOS_EXECUTOR_ID: 'node-c' }),
    ]);
    const survivors: [string, string] = [`${hostname()}:${nodeB.port}`, 'node-c'];
    expect(survivors).not.toContain(nodeA);
    await proofs.awaitSuccess('every run to succeed after the takeover', ids, TAKEOVER_BOUND_MS);
    const tookMs = Date.now() - killedAt;

    // Each stranded run was put back on its queue once and claimed once: one more attempt, on a survivor.
    const after = await workflows([...stranded.keys()]);
    for (const [id, attempts] of stranded) {
      expect({ id, executor: survivors.includes(after.get(id)!.executor), attempts: after.get(id)!.attempts }).toEqual({
        id,
        executor: true,
        attempts: attempts + 1,
      });
    }
    expect(effectCounts(busy, 'busy', doneBeforeKill)).toEqual([]);
    // The delayed runs had sent nothing at the kill: exactly one effect each.
    expect(sleeping.map((_, i) => [...effects.keys.values()].find((r) => r.path.endsWith(`/sleepy/r${i}`))?.requests)).toEqual([1, 1, 1]);
    await verdict(ids);

    const view = await proofs.rows<{ executor: string; alive: boolean; runs_held: string; taken_over_by: string | null }>(
      `SELECT executor, alive, runs_held, taken_over_by FROM app.v_ops_executors`,
    );
    const byExecutor = new Map(view.map(({ executor, ...rest }) => [executor, rest]));
    expect(byExecutor).toEqual(
      new Map([
        [nodeA, { alive: false, runs_held: '0', taken_over_by: expect.any(String) }],
        [survivors[0], { alive: true, runs_held: '0', taken_over_by: null }],
        [survivors[1], { alive: true, runs_held: '0', taken_over_by: null }],
      ]),
    );
    expect(survivors).toContain(byExecutor.get(nodeA)?.taken_over_by);
    console.log(
      `takeover: ${stranded.size} run(s) stranded by ${nodeA}, all ${ids.length} done ${tookMs} ms after the kill; ${effects.resentAfter(1).length} effect(s) re-sent`,
    );
  });

  it('api + two workers: a worker killed for good has its runs finished by the other within 60 s; the api never executes one', async () => {
    // Effects slow enough that worker-a still has them in flight once worker-b has booted.
    await effectServer(7000, 9000);
    const api = await start('takeover-api', { APP_ROLE: 'api', DBOS_EXECUTOR_ID: 'api-1' });
    const workerA = await start('takeover-worker-a', { APP_ROLE: 'worker', DBOS_EXECUTOR_ID: 'worker-a' });
    const ids = await startRuns(api, 'split', 12);
    await waitFor('worker-a to claim the runs', async () => ([...(await workflows(ids)).values()].some((w) => w.executor === 'worker-a') ? true : undefined));
    await start('takeover-worker-b', { APP_ROLE: 'worker', DBOS_EXECUTOR_ID: 'worker-b' });
    const stranded = await killMidRun(workerA, 'worker-a', ids);
    const doneBeforeKill = new Set([...(await workflows(ids))].filter(([, w]) => w.status === 'SUCCESS').map(([id]) => id));
    const killedAt = Date.now();
    // worker-b was up all along: its scheduled sweep (not a boot) finds worker-a gone.
    await proofs.awaitSuccess('every run to succeed on worker-b', ids, TAKEOVER_BOUND_MS);
    expect(Date.now() - killedAt).toBeLessThan(TAKEOVER_BOUND_MS);

    const after = await workflows(ids);
    for (const id of stranded.keys()) expect([id, after.get(id)!.executor]).toEqual([id, 'worker-b']);
    expect([...after.values()].some((w) => w.executor === 'api-1')).toBe(false);
    expect(effectCounts(ids, 'split', doneBeforeKill)).toEqual([]);
    await verdict(ids);
    const executors = await proofs.rows<{ executor: string; role: string; alive: boolean }>(
      `SELECT executor, role, alive FROM app.v_ops_executors ORDER BY executor`,
    );
    expect(executors).toEqual([
      { executor: 'api-1', role: 'api', alive: true },
      { executor: 'worker-a', role: 'worker', alive: false },
      { executor: 'worker-b', role: 'worker', alive: true },
    ]);
  });

  it('fail-stop: a process whose liveness connection is cut exits at once, and its executor shows gone', async () => {
    await effectServer(10, 20);
    const node = await start('takeover-fail-stop', { APP_ROLE: 'all', DBOS_EXECUTOR_ID: 'node-x' });
    expect((await proofs.rows(`SELECT executor, alive FROM app.v_ops_executors`)).filter((r) => r.executor === 'node-x')).toEqual([
      { executor: 'node-x', alive: true },
    ]);
    const cut = await proofs.rows<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'durable-ops-liveness'`,
    );
    expect(cut).toEqual([{ n: 1 }]);
    expect(await node.exited()).toBe(70);
    await waitFor('node-x to show gone', async () =>
      (await proofs.rows<{ alive: boolean }>(`SELECT alive FROM app.v_ops_executors WHERE executor = 'node-x'`))[0]?.alive === false ? true : undefined,
    );
  });
});
