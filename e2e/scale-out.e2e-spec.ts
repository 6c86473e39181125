import { oracleViolations, Proofs, runOracle, type ExpectedRun } from '../tools/chaos/checks.js';
import { EffectServer } from '../tools/chaos/effect-server.js';
import { Prng } from '../tools/chaos/prng.js';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.js';
import { waitFor } from '../test/support/wait.js';
import { freePort, startService, type ServiceProcess } from '../tools/harness/index.js';

const RUNS = 24;
const TASKS = 3;
const TOKEN = 'scale-out-operator-token-0123456789';

/**
 * Scale-out (docs/architecture.md, "Roles and scale-out"): one APP_ROLE=api process serves HTTP and only enqueues; two APP_ROLE=worker
 * processes (executor IDs worker-a, worker-b) dequeue and execute, on one database. Runs spread over
 * both workers; worker-a is killed with -9 while its runs are mid-ExecuteST and restarted with the
 * same executor ID, and every run still completes exactly once (e2e/takeover.e2e-spec.ts covers a worker that never comes back).
 */
describe('scale-out: one api process and two workers on one database', () => {
  let database: TestDatabase;
  let effects: EffectServer;
  let proofs: Proofs;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    // Slow effects, so runs overlap and a kill lands mid-ExecuteST; no injected faults here.
    effects = await new EffectServer({ rng: new Prng('scale-out'), minLatencyMs: 300, maxLatencyMs: 600, faultRate: 0 }).start();
    proofs = new Proofs(database.url);
  });
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited()));
    await proofs?.close();
    await effects?.close();
    await database?.drop();
  });

  async function executors(): Promise<Map<string, { pending: number; success: number }>> {
    const rows = await proofs.rows<{ executor_id: string; status: string; n: string }>(
      `SELECT executor_id, status, count(*) AS n FROM dbos.workflow_status WHERE name = 'IntentWorkflow' GROUP BY 1, 2`,
    );
    const out = new Map<string, { pending: number; success: number }>();
    for (const r of rows) {
      const e = out.get(r.executor_id) ?? { pending: 0, success: 0 };
      if (r.status === 'PENDING') e.pending += Number(r.n);
      if (r.status === 'SUCCESS') e.success += Number(r.n);
      out.set(r.executor_id, e);
    }
    return out;
  }

  it('the api only enqueues, the workers share the runs, and a worker killed mid-run recovers its runs exactly once', async () => {
    const common = { DATABASE_URL: database.url, APP_VERSION: 'scale-1', HTTP_CONNECTOR_ALLOWLIST: effects.prefix, OPS_API_TOKENS: `ops:operator:${TOKEN}` };
    const api = await startService('scale-out-api', { ...common, APP_ROLE: 'api', DBOS_EXECUTOR_ID: 'api' });
    processes.push(api);
    expect((await api.request('GET', '/healthz')).body).toMatchObject({ status: 'ok', executorID: 'api' });

    // The api accepts the runs...
    const runIds: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const tasks = Array.from({ length: TASKS }, (_, t) => ({
        connector: 'http',
        args: { method: 'POST', url: effects.url(`scale/i${i}-t${t}`), body: { i, t } },
      }));
      const intent = await api.request('POST', '/api/intents', { goal: `scale-out ${i}`, inputs: { tasks }, constraints: { maxAttempts: 5 } });
      expect(intent.status).toBe(201);
      const run = await api.request('POST', '/api/runs', { intentId: intent.body.intentId, idempotencyKey: `scale-out-${i}` });
      expect(run.status).toBe(202);
      runIds.push(run.body.runId);
    }
    // ...and never dequeues them (the evidence that can fail is below: no run is ever executed by
    // the api's executor, whatever the timing; here, none has started yet).
    const queued = await proofs.rows<{ status: string; n: string }>(
      `SELECT status, count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[]) GROUP BY 1`,
      [runIds],
    );
    expect(queued).toEqual([{ status: 'ENQUEUED', n: String(RUNS) }]);
    expect(effects.totalRequests).toBe(0);

    // Two workers, each with its own stable executor ID.
    const [portA, portB] = [await freePort(), await freePort()];
    const workerEnv = (id: string) => ({ ...common, APP_ROLE: 'worker', DBOS_EXECUTOR_ID: id });
    const [workerA, workerB] = await Promise.all([
      startService('scale-out-worker-a', workerEnv('worker-a'), portA),
      startService('scale-out-worker-b', workerEnv('worker-b'), portB),
    ]);
    processes.push(workerA, workerB);
    for (const [worker, id] of [
      [workerA, 'worker-a'],
      [workerB, 'worker-b'],
    ] as const) {
      expect((await worker.request('GET', '/healthz')).body).toMatchObject({ status: 'ok', executorID: id });
      expect((await worker.request('GET', '/api/runs')).status).toBe(404);
      expect((await worker.request('POST', '/api/intents', { goal: 'x', inputs: { tasks: [] }, constraints: {} })).status).toBe(404);
      expect((await worker.request('GET', '/api/ops/wf', undefined, { authorization: `Bearer ${TOKEN}` })).status).toBe(404);
    }

    // Both workers take runs; kill -9 worker-a while one of its runs has an effect in flight (mid-ExecuteST).
    const runOfPath = (path: string): string | undefined => runIds[Number(/\/scale\/i(\d+)-t\d+$/.exec(path)?.[1] ?? -1)];
    let inFlightOfA: string[] = [];
    const spread = await waitFor(
      'both workers to be executing runs, with a worker-a run mid-ExecuteST',
      async () => {
        const now = await executors();
        const busyRuns = [...effects.inFlightKeys.values()].map(runOfPath).filter((id): id is string => id !== undefined);
        if (
          busyRuns.length === 0 ||
          (now.get('worker-a')?.pending ?? 0) === 0 ||
          (now.get('worker-b')?.pending ?? 0) + (now.get('worker-b')?.success ?? 0) === 0
        )
          return undefined;
        const ofA = await proofs.rows<{ workflow_uuid: string }>(
          `SELECT workflow_uuid FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[]) AND executor_id = 'worker-a' AND status = 'PENDING'`,
          [busyRuns],
        );
        inFlightOfA = ofA.map((r) => r.workflow_uuid);
        return inFlightOfA.length > 0 ? now : undefined;
      },
      30_000,
      10,
    );
    workerA.child.kill('SIGKILL');
    expect(await workerA.exited()).toBe('SIGKILL');
    effects.crashed();
    const orphaned = (
      await proofs.rows<{ workflow_uuid: string }>(`SELECT workflow_uuid FROM dbos.workflow_status WHERE executor_id = 'worker-a' AND status = 'PENDING'`)
    ).map((r) => r.workflow_uuid);
    expect(orphaned.length).toBeGreaterThan(0);
    expect(orphaned).toEqual(expect.arrayContaining(inFlightOfA));

    // Restarted with the same executor ID (still supported); worker-b's sweep may have taken the runs over first.
    const restarted = await startService('scale-out-worker-a', workerEnv('worker-a'), portA);
    processes.push(restarted);
    await proofs.awaitSuccess('every run to succeed', runIds, 90_000);

    // Who ran what: only the workers, both of them; never the api.
    const final = await executors();
    const ranBy = new Set([...final.keys()]);
    expect(ranBy.has('api')).toBe(false);
    expect([...ranBy].every((id) => id === 'worker-a' || id === 'worker-b')).toBe(true);
    expect((spread.get('worker-a')?.pending ?? 0) + (final.get('worker-a')?.success ?? 0)).toBeGreaterThan(0);
    expect((spread.get('worker-b')?.pending ?? 0) + (final.get('worker-b')?.success ?? 0)).toBeGreaterThan(0);
    const recoveredBy = await proofs.rows<{ executor_id: string; n: string }>(
      `SELECT executor_id, count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[]) GROUP BY 1 ORDER BY 1`,
      [orphaned],
    );

    // Exactly once: every effect reached the server and has one succeeded receipt; four marks per run.
    const expected: ExpectedRun[] = runIds.map((runId) => ({ runId }));
    const violations = [
      ...(await proofs.runsSucceeded(expected)),
      ...(await proofs.marks(expected)),
      ...(await proofs.artifacts(expected)),
      ...(await proofs.effects(expected, effects, { allKeysKnown: true })),
      ...(await proofs.noFailedWorkflows()),
    ];
    expect(violations).toEqual([]);
    expect(effects.distinctKeys).toBe(RUNS * TASKS);
    // Counted at the server: one effect per task, plus at most the one task each run had in flight
    // when worker-a died (re-sent with its Idempotency-Key); never a task that had completed.
    const counted = await proofs.effectCounts(expected, effects);
    expect(counted.violations).toEqual([]);
    expect(counted.resent).toBeLessThanOrEqual(orphaned.length);
    expect(effects.totalRequests).toBe(RUNS * TASKS + counted.resent);
    // The oracle must run and find nothing: not built, unable to judge or a violation all fail here.
    const oracle = await runOracle(database.url);
    expect(oracleViolations(oracle)).toEqual([]);

    console.log(
      `scale-out: ${RUNS} runs; before the kill worker-a ${JSON.stringify(spread.get('worker-a'))}, worker-b ${JSON.stringify(spread.get('worker-b'))}; ` +
        `worker-a killed with ${orphaned.length} run(s) pending (${inFlightOfA.length} with an effect in flight), recovered by ${recoveredBy.map((r) => `${r.executor_id}: ${r.n}`).join(', ')}; ` +
        `final ${[...final].map(([id, e]) => `${id}: ${e.success}`).join(', ')}; ${effects.totalRequests} requests for ${effects.distinctKeys} keys, ` +
        `in-flight task(s) re-sent after the kill: ${counted.resent}; oracle exit ${oracle.exitCode}`,
    );
  });
});
