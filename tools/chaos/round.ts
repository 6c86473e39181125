import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '#common';
import { type ExpectedRun, oracleViolations, Proofs, runOracle } from './checks.js';
import { EffectServer, type RequestSeen } from './effect-server.js';
import { Prng } from './prng.js';
import { createThrowawayDatabase, freePort, type HttpAnswer, type PostgresServer, ServiceProcess, sleep, until } from '../harness/index.js';

/**
 * How a round's processes die and come back (rounds take the kinds in turn):
 *  - same-id: one process, killed and restarted with the same executor ID and port;
 *  - new-id: one process, killed and replaced by one with a new executor ID and port (as a
 *    recreated container or pod comes back): it must take over the dead one's runs;
 *  - worker-lost: an api and two workers; the worker holding the most runs is killed mid-ExecuteST
 *    and never returns: the survivor must finish its runs within the takeover bound. Phase B then
 *    kills the api mid control action and restarts it with its ID.
 */
export type RoundKind = 'same-id' | 'new-id' | 'worker-lost';
export const ROUND_KINDS: readonly RoundKind[] = ['same-id', 'new-id', 'worker-lost'];

/** The kind of round `round` (1-based) among `kinds`, in turn. */
export function roundKind(round: number, kinds: readonly RoundKind[] = ROUND_KINDS): RoundKind {
  return kinds[(round - 1) % kinds.length]!;
}

/** Knobs of one round; the defaults are what `wf:intent:chaos` runs. */
export interface RoundConfig {
  /** The kinds the rounds take in turn. */
  readonly kinds: readonly RoundKind[];
  /** After a crash, a dead executor's runs must be held by a live one (or done) within this bound. */
  readonly takeoverBoundMs: number;
  /** Phase C: sleeping runs cancelled and resumed 1..3 times each; each must make its effect exactly once. */
  readonly cancelResumeRuns: number;
  readonly cancelResumeSleepMs: number;
  readonly intents: number;
  readonly tasksPerIntent: number;
  /** The durable sleep of the sleeper run (killed during it). */
  readonly sleepMs: number;
  /** Latency of the effect server, per request. */
  readonly minLatencyMs: number;
  readonly maxLatencyMs: number;
  /** Probability that a batch key's first request is answered 503. */
  readonly faultRate: number;
  /** Keep the database of a failed round (for inspection) instead of dropping it. */
  readonly keepFailed: boolean;
}

/** A DBOS.sleep may end a little before its deadline (timer granularity, clock reads across processes). */
const WAKE_EARLY_TOLERANCE_MS = 250;
/** How late a wake may be on a loaded machine once the service is back. */
const WAKE_LATE_TOLERANCE_MS = 2500;

export const DEFAULT_ROUND: RoundConfig = {
  kinds: ROUND_KINDS,
  takeoverBoundMs: 60_000,
  cancelResumeRuns: 2,
  cancelResumeSleepMs: 3000,
  intents: 20,
  tasksPerIntent: 3,
  sleepMs: 5000,
  minLatencyMs: 100,
  maxLatencyMs: 300,
  faultRate: 0.1,
  keepFailed: false,
};

/** How a control action fired just before a kill -9 came out. */
export type ActionOutcome =
  /** The 202 arrived before the kill: OPS row and effect must both exist. */
  | 'acknowledged'
  /** No answer, but the action had durably started: recovery finished it (OPS row and effect). */
  | 'recovered'
  /** No answer and no trace: neither the OPS row nor the effect (then done again, normally). */
  | 'none';

export interface RoundResult {
  readonly ok: boolean;
  readonly round: number;
  readonly kind: RoundKind;
  readonly seed: string;
  readonly durationMs: number;
  readonly failures: string[];
  readonly lines: string[];
  readonly kills: number;
  readonly resent: number;
  readonly cancel?: ActionOutcome;
  readonly fork?: ActionOutcome;
}

/** A failed expectation: ends the round with a clear reason. */
class RoundFailure extends Error {
  override readonly name = 'RoundFailure';
  constructor(readonly reasons: string[]) {
    super(reasons.join('; '));
  }
}

function expectStatus(what: string, answer: HttpAnswer, ...wanted: number[]): void {
  if (!wanted.includes(answer.status))
    throw new RoundFailure([`${what} answered ${answer.status} (want ${wanted.join(' or ')}): ${JSON.stringify(answer.body)}`]);
}

function bodyField(answer: HttpAnswer, field: string): string {
  const value = (answer.body as Record<string, unknown> | undefined)?.[field];
  if (typeof value !== 'string') throw new RoundFailure([`response has no ${field}: ${JSON.stringify(answer.body)}`]);
  return value;
}

/**
 * One chaos round against the built service (see main.ts for the whole story):
 *  A. a batch of intents whose ExecuteST calls the effect server; kill -9 while effects are in
 *     flight; restart with the same executor ID; every run must finish SUCCESS, exactly once.
 *  B. a run in its durable sleep, a cancel of another sleeping run and a fork of a finished run,
 *     fired without waiting, then kill -9 within milliseconds; restart; the sleeper wakes at its
 *     original deadline, and each control action is all-or-nothing (OPS row ⇔ effect).
 * Then the harness's SQL proofs and the SQL oracle (`ops verify`) over the whole database.
 */
export async function runRound(server: PostgresServer, round: number, seed: string, config: RoundConfig = DEFAULT_ROUND): Promise<RoundResult> {
  const startedAt = Date.now();
  const rng = new Prng(`${seed}/round-${round}`);
  const kind = roundKind(round, config.kinds);
  const lines: string[] = [];
  const note = (line: string): void => {
    lines.push(line);
  };
  const db = await createThrowawayDatabase(server.adminUrl, 'durable_ops_chaos');
  const effects = await new EffectServer({
    rng: rng.fork('effects'),
    minLatencyMs: config.minLatencyMs,
    maxLatencyMs: config.maxLatencyMs,
    faultRate: config.faultRate,
  }).start();
  const token = randomBytes(24).toString('base64url');
  const logFile = join(projectRoot(), '.data', 'chaos', `${db.name}.log`);
  const common = { DATABASE_URL: db.url, APP_VERSION: 'chaos-1', HTTP_CONNECTOR_ALLOWLIST: effects.prefix, OPS_API_TOKENS: `chaos:operator:${token}` };
  // The process the harness talks to: the only one, or the api of the worker-lost topology.
  const service = new ServiceProcess(
    `chaos-${round}`,
    await freePort(),
    { ...common, DBOS_EXECUTOR_ID: 'chaos-executor', ...(kind === 'worker-lost' ? { APP_ROLE: 'api' } : {}) },
    logFile,
  );
  const workers =
    kind === 'worker-lost'
      ? await Promise.all(
          [1, 2].map(
            async (n) =>
              new ServiceProcess(
                `chaos-${round}-worker-${n}`,
                await freePort(),
                { ...common, APP_ROLE: 'worker', DBOS_EXECUTOR_ID: `chaos-worker-${n}` },
                logFile,
              ),
          ),
        )
      : [];
  const processes = [service, ...workers];
  const proofs = new Proofs(db.url);
  const auth = { authorization: `Bearer ${token}` };
  let kills = 0;
  let resent = 0;
  let cancelOutcome: ActionOutcome | undefined;
  let forkOutcome: ActionOutcome | undefined;
  const failures: string[] = [];

  /** True from a kill of `service` until its next boot: requests failing then were cut by the kill. */
  let down = false;
  const killNow = async (victim: ServiceProcess = service): Promise<void> => {
    if (victim === service) down = true;
    victim.kill9();
    effects.crashed();
    kills += 1;
    const how = await victim.exited();
    if (how !== 'SIGKILL') throw new RoundFailure([`${victim.name} exited with ${how}, not SIGKILL`]);
  };
  /** Executor IDs killed and never to come back under that ID. */
  const deadExecutors: string[] = [];
  /** The worker-lost victim: the worker holding the most unfinished runs right now. */
  const busiestWorker = async (): Promise<ServiceProcess> => {
    const rows = await proofs.rows<{ executor_id: string; n: string }>(
      `SELECT executor_id, count(*) AS n FROM dbos.workflow_status WHERE name = 'IntentWorkflow' AND status = 'PENDING' GROUP BY 1 ORDER BY 2 DESC, 1`,
    );
    const id = rows.find((r) => workers.some((w) => w.executorId === r.executor_id))?.executor_id;
    return workers.find((w) => w.executorId === id) ?? workers[0]!;
  };
  /**
   * The takeover bound: within it, no unfinished workflow is still held by an executor that is gone
   * (it must have been taken over by a live process, or be done).
   */
  const awaitTakeover = async (what: string, since: number): Promise<void> => {
    if (deadExecutors.length === 0) return;
    await until(
      `${what}: no workflow PENDING on a dead executor (${deadExecutors.join(', ')}) within ${config.takeoverBoundMs / 1000} s`,
      async () =>
        (
          await proofs.rows<{ n: string }>(`SELECT count(*) AS n FROM dbos.workflow_status WHERE status = 'PENDING' AND executor_id = ANY($1::text[])`, [
            deadExecutors,
          ])
        )[0]?.n === '0'
          ? true
          : undefined,
      Math.max(0, since + config.takeoverBoundMs - Date.now()),
      250,
    ).catch(async (error: unknown) => {
      const stranded = await proofs.rows<{ workflow_uuid: string; name: string; executor_id: string }>(
        `SELECT workflow_uuid, name, executor_id FROM dbos.workflow_status WHERE status = 'PENDING' AND executor_id = ANY($1::text[]) ORDER BY 1`,
        [deadExecutors],
      );
      throw new RoundFailure([
        `${(error as Error).message}; stranded: ${stranded.length} (${stranded
          .slice(0, 5)
          .map((r) => `${r.name} ${r.workflow_uuid} on ${r.executor_id}`)
          .join(', ')}${stranded.length > 5 ? ', …' : ''})`,
      ]);
    });
  };

  /** Polls DBOS until every run is SUCCESS; fails at once if one ends otherwise. */
  const awaitSuccess = async (what: string, runIds: readonly string[], timeoutMs: number): Promise<void> => {
    await proofs.awaitSuccess(what, runIds, timeoutMs).catch((error: unknown) => {
      throw new RoundFailure([(error as Error).message]);
    });
  };

  /** Boots `service` again; in a new-id round, as a new process would come back: new port, new executor ID. */
  const boot = async (): Promise<void> => {
    if (kind === 'new-id' && service.boots > 0) {
      deadExecutors.push(service.executorId);
      service.assumeIdentity(await freePort(), `chaos-executor-${service.boots + 1}`);
    }
    await service.start();
    down = false;
  };

  try {
    // The first process migrates the fresh database; the workers boot after it (concurrent first boots deadlock on the migrations).
    await boot();
    await Promise.all(workers.map((w) => w.start()));

    // ------------------------------------------------------------ A. kill -9 mid-ExecuteST
    const totalKeys = config.intents * config.tasksPerIntent;
    const killAt = rng.int(1, Math.max(1, totalKeys - 15));
    const jitterMs = rng.chance(0.5) ? 0 : rng.int(1, 150);
    let killSnapshot: { distinct: number; inFlight: number; requests: number; submitted: number } | undefined;
    let killedA: ServiceProcess = service;
    const runIds = new Map<number, string>();
    const killed = new Promise<void>((resolve, reject) => {
      effects.onRequest = (seen: RequestSeen) => {
        if (seen.distinctKeys < killAt) return;
        effects.onRequest = undefined;
        void sleep(jitterMs)
          .then(async () => (kind === 'worker-lost' ? busiestWorker() : service))
          .then((victim) => {
            killSnapshot = { distinct: effects.distinctKeys, inFlight: effects.inFlight, requests: effects.totalRequests, submitted: runIds.size };
            killedA = victim;
            return killNow(victim);
          })
          .then(resolve, reject);
      };
    });

    /** POSTs the intents and runs not yet accepted; a kill -9 may cut it anywhere (idempotent: resumed after the restart). */
    const submit = async (): Promise<void> => {
      await Promise.all(
        Array.from({ length: config.intents }, (_, i) => i)
          .filter((i) => !runIds.has(i))
          .map(async (i) => {
            const tasks = Array.from({ length: config.tasksPerIntent }, (_, t) => ({
              connector: 'http',
              args: { method: 'POST', url: effects.url(`batch/r${round}-i${i}-t${t}`), body: { seed, round, intent: i, task: t } },
            }));
            try {
              const intent = await service.request('POST', '/api/intents', {
                goal: `chaos ${seed} round ${round} intent ${i}`,
                inputs: { tasks },
                constraints: { maxAttempts: 5, taskTimeoutMs: 10_000 },
              });
              expectStatus(`POST /api/intents #${i}`, intent, 200, 201);
              const run = await service.request('POST', '/api/runs', { intentId: bodyField(intent, 'intentId'), idempotencyKey: `${db.name}-batch-${i}` });
              expectStatus(`POST /api/runs #${i}`, run, 200, 202);
              runIds.set(i, bodyField(run, 'runId'));
            } catch (error) {
              // The service was killed under the request: submitted again after the restart.
              if (!down) throw error;
            }
          }),
      );
    };
    const triggerTimeout = sleep(60_000).then(() => {
      throw new RoundFailure([`the kill trigger never fired: ${effects.distinctKeys} of ${totalKeys} keys seen, waiting for ${killAt}`]);
    });
    await Promise.race([Promise.all([submit(), killed]), triggerTimeout]).finally(() => (effects.onRequest = undefined));
    const snapshot = killSnapshot!;
    const restartAt = Date.now();
    const killedExecutor = killedA.executorId;
    if (kind === 'worker-lost') deadExecutors.push(killedExecutor);
    else await boot();
    const bootMs = Date.now() - restartAt;
    note(
      `A  [${kind}] kill -9 ${killedExecutor} at ${snapshot.distinct}/${totalKeys} keys seen (${snapshot.inFlight} effect(s) in flight, +${jitterMs} ms, ` +
        `${snapshot.submitted}/${config.intents} runs submitted); ${kind === 'worker-lost' ? 'never restarted' : `back as ${service.executorId} on port ${service.port} in ${bootMs} ms`}`,
    );
    await submit();
    if (runIds.size !== config.intents) throw new RoundFailure([`only ${runIds.size} of ${config.intents} runs were accepted after the restart`]);
    const batch = [...runIds.values()];
    await awaitTakeover('after the phase A kill', restartAt);
    await awaitSuccess(`${batch.length} batch runs to succeed after the restart`, batch, 90_000);
    const recoveredMs = Date.now() - restartAt;
    const faulted = [...effects.keys.values()].reduce((n, r) => n + r.faulted, 0);
    note(
      `   ${batch.length}/${batch.length} SUCCESS ${recoveredMs} ms after the kill; ${effects.totalRequests} requests for ${effects.distinctKeys} keys, ` +
        `${faulted} injected 503(s), keys requested again after the crash: ${effects.resentAfter(1).length}`,
    );
    const batchRequests = new Map([...effects.keys.values()].map((r) => [r.key, r.requests]));

    // ------------------------------------------------------------ B. kill -9 in a durable sleep and mid control action
    const start = async (label: string, path: string, constraints: Record<string, unknown>): Promise<string> => {
      const intent = await service.request('POST', '/api/intents', {
        goal: `chaos ${seed} round ${round} ${label}`,
        inputs: { tasks: [{ connector: 'http', args: { method: 'POST', url: effects.url(path), body: { seed, round, label } } }] },
        constraints,
      });
      expectStatus(`POST /api/intents (${label})`, intent, 201);
      const run = await service.request('POST', '/api/runs', { intentId: bodyField(intent, 'intentId') });
      expectStatus(`POST /api/runs (${label})`, run, 202);
      return bodyField(run, 'runId');
    };
    const sleeper = await start('sleeper', `sleep/r${round}`, { delayMs: config.sleepMs });
    const cancelTarget = await start('cancel target', `cancel/r${round}`, { delayMs: 600_000 });
    const forkTarget = batch[rng.int(0, batch.length - 1)]!;
    // A delayed run waits DELAYED on its queue; DBOS records its deadline when the run is created.
    const sleeping = await until(
      'the sleeper and the cancel target to wait DELAYED',
      async () => {
        const rows = await proofs.rows<{ workflow_uuid: string; due: string | null }>(
          `SELECT workflow_uuid, delay_until_epoch_ms AS due FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[]) AND status = 'DELAYED'`,
          [[sleeper, cancelTarget]],
        );
        const mine = rows.find((r) => r.workflow_uuid === sleeper);
        return rows.length === 2 && mine?.due ? Number(mine.due) - config.sleepMs : undefined;
      },
      30_000,
      50,
    );
    const deadline = sleeping + config.sleepMs;
    await sleep(sleeping + rng.int(200, 1200) - Date.now());
    // A cancel or fork takes ~30–150 ms here: kill before it started, mid-way, or after its 202.
    const band = rng.int(0, 2);
    const actionGapMs = band === 0 ? rng.int(0, 20) : band === 1 ? rng.int(20, 90) : rng.int(90, 250);
    const actor = { actor: 'chaos', reason: `chaos round ${round}` };
    const answers: { cancel?: number; fork?: number; forkedWorkflowID?: string } = {};
    const cancelFired = service.request('POST', `/api/ops/wf/${cancelTarget}/cancel`, actor, auth).then(
      (a) => (answers.cancel = a.status),
      () => undefined,
    );
    const forkFired = service.request('POST', `/api/ops/wf/${forkTarget}/fork`, { ...actor, stepN: 4 }, auth).then(
      (a) => {
        answers.fork = a.status;
        const id = (a.body as { forkedWorkflowID?: unknown } | undefined)?.forkedWorkflowID;
        if (typeof id === 'string') answers.forkedWorkflowID = id;
      },
      () => undefined,
    );
    await sleep(actionGapMs);
    const killedInSleepAt = Date.now();
    await killNow();
    await Promise.all([cancelFired, forkFired]);
    const acked = { ...answers };
    const restartedB = Date.now();
    await boot();
    await awaitTakeover('after the phase B kill', restartedB);
    const bootedB = Date.now();

    // The sleeper wakes at its original deadline (kept by DBOS across the crash).
    await awaitSuccess('the sleeper to wake and succeed', [sleeper], Math.max(0, deadline - Date.now()) + 30_000);
    // Actions that started durably are finished by recovery (same executor ID).
    await until(
      'recovered control actions to finish',
      async () => ((await proofs.unfinished(['OpsActionWorkflow'])).length === 0 ? true : undefined),
      30_000,
      100,
    );

    const opsRows = async (target: string, op: string) =>
      proofs.rows<{ action_id: string; forked: string | null }>(
        `SELECT action_id, inline ->> 'forkedWorkflowID' AS forked FROM app.artifacts WHERE step_id = 'OPS' AND run_id = $1 AND inline ->> 'op' = $2`,
        [target, op],
      );

    // Cancel: OPS row ⇔ CANCELLED.
    const cancelRows = await opsRows(cancelTarget, 'cancel');
    const cancelStatus = (await proofs.dbosStatuses([cancelTarget])).get(cancelTarget);
    if (cancelRows.length > 1) failures.push(`cancel of ${cancelTarget}: ${cancelRows.length} OPS rows for one request`);
    if (cancelRows.length === 1 && cancelStatus !== 'CANCELLED')
      failures.push(`cancel of ${cancelTarget}: OPS row ${cancelRows[0]!.action_id} but the workflow is ${cancelStatus}`);
    if (cancelRows.length === 0 && cancelStatus === 'CANCELLED') failures.push(`cancel of ${cancelTarget}: CANCELLED without an OPS row`);
    if (acked.cancel === 202 && cancelRows.length === 0) failures.push(`cancel of ${cancelTarget}: answered 202 before the kill, yet no OPS row survived`);
    cancelOutcome = cancelRows.length === 0 ? 'none' : acked.cancel === 202 ? 'acknowledged' : 'recovered';
    if (cancelOutcome === 'none') {
      if (cancelStatus !== 'PENDING' && cancelStatus !== 'ENQUEUED' && cancelStatus !== 'DELAYED')
        failures.push(`cancel of ${cancelTarget}: no OPS row, and the run is ${cancelStatus} (want still waiting)`);
      expectStatus('POST cancel (again, after the restart)', await service.request('POST', `/api/ops/wf/${cancelTarget}/cancel`, actor, auth), 202);
    }
    const cancelled = await proofs.dbosStatuses([cancelTarget]);
    const cancelRun = await proofs.rows<{ status: string }>('SELECT status FROM app.runs WHERE id = $1', [cancelTarget]);
    if (cancelled.get(cancelTarget) !== 'CANCELLED' || cancelRun[0]?.status !== 'canceled')
      failures.push(`cancel target ${cancelTarget} is ${cancelled.get(cancelTarget)} / ${cancelRun[0]?.status} (want CANCELLED / canceled)`);

    // Fork: OPS row with forkedWorkflowID ⇔ the forked workflow (and its run row) exists.
    const forkRows = await opsRows(forkTarget, 'fork');
    const forkedWorkflows = await proofs.rows<{ workflow_uuid: string }>('SELECT workflow_uuid FROM dbos.workflow_status WHERE forked_from = $1', [forkTarget]);
    const forkedRuns = await proofs.rows<{ id: string }>('SELECT id FROM app.runs WHERE forked_from = $1', [forkTarget]);
    if (forkRows.length > 1) failures.push(`fork of ${forkTarget}: ${forkRows.length} OPS rows for one request`);
    const forkRow = forkRows[0];
    if (forkRow) {
      if (!forkRow.forked) failures.push(`fork of ${forkTarget}: OPS row ${forkRow.action_id} names no forkedWorkflowID`);
      if (forkedWorkflows.length !== 1 || forkedWorkflows[0]!.workflow_uuid !== forkRow.forked)
        failures.push(`fork of ${forkTarget}: OPS row names ${forkRow.forked}, DBOS has forks [${forkedWorkflows.map((w) => w.workflow_uuid).join(', ')}]`);
      if (forkedRuns.length !== 1 || forkedRuns[0]!.id !== forkRow.forked)
        failures.push(`fork of ${forkTarget}: OPS row names ${forkRow.forked}, app.runs has forks [${forkedRuns.map((r) => r.id).join(', ')}]`);
    } else if (forkedWorkflows.length > 0 || forkedRuns.length > 0) {
      failures.push(
        `fork of ${forkTarget}: forks exist (${[...forkedWorkflows.map((w) => w.workflow_uuid), ...forkedRuns.map((r) => r.id)].join(', ')}) without an OPS row`,
      );
    }
    if (acked.fork === 202 && !forkRow) failures.push(`fork of ${forkTarget}: answered 202 before the kill, yet no OPS row survived`);
    if (acked.forkedWorkflowID && forkRow && forkRow.forked !== acked.forkedWorkflowID)
      failures.push(`fork of ${forkTarget}: answered ${acked.forkedWorkflowID}, OPS row names ${forkRow.forked}`);
    forkOutcome = !forkRow ? 'none' : acked.fork === 202 ? 'acknowledged' : 'recovered';
    let forkedRunId = forkRow?.forked ?? undefined;
    if (forkOutcome === 'none') {
      const again = await service.request('POST', `/api/ops/wf/${forkTarget}/fork`, { ...actor, stepN: 4 }, auth);
      expectStatus('POST fork (again, after the restart)', again, 202);
      forkedRunId = bodyField(again, 'forkedWorkflowID');
    }
    if (!forkedRunId) throw new RoundFailure([...failures, `fork of ${forkTarget}: no forked workflow to follow`]);
    await awaitSuccess('the fork to succeed', [forkedRunId], 60_000);
    await until('control actions to finish', async () => ((await proofs.unfinished(['OpsActionWorkflow'])).length === 0 ? true : undefined), 30_000, 100);

    // The sleeper woke at its original deadline, not a full sleep after the restart. Both times come
    // from the service's clock (DBOS's sleep record, the ExecuteST mark), but its timers may fire a
    // little early and a loaded machine wakes it late: the window allows for both, and stays well
    // short of the full sleep a restart that forgot the deadline would add.
    const woke = await proofs.rows<{ woke: Date }>(`SELECT min(started_at) AS woke FROM app.run_steps WHERE run_id = $1 AND step_id = 'ExecuteST'`, [sleeper]);
    const wokeAt = woke[0]?.woke ? new Date(woke[0].woke).getTime() : NaN;
    const lateMs = wokeAt - deadline;
    const earliestMs = -WAKE_EARLY_TOLERANCE_MS;
    const latestMs = Math.max(0, bootedB - deadline) + WAKE_LATE_TOLERANCE_MS;
    // A full sleep started again at the restart would end at restartedB + sleepMs. When the kill came
    // early in the sleep, that is inside the lateness tolerance and tells nothing apart: checked only beyond it.
    const fullResleepEnd = restartedB + config.sleepMs;
    const resleepTellsApart = fullResleepEnd > deadline + latestMs;
    if (!(lateMs >= earliestMs && lateMs <= latestMs && (!resleepTellsApart || wokeAt < fullResleepEnd)))
      failures.push(
        `sleeper ${sleeper} woke ${lateMs} ms from its original deadline (want ${earliestMs}..+${latestMs} ms, and before a full sleep after the restart; ` +
          `killed ${killedInSleepAt - sleeping} ms into its sleep)`,
      );

    // The fork replayed every receipt: no effect was sent again.
    const forkReport = await proofs.rows<{ replayed: string; n: string }>(
      `SELECT t ->> 'replayed' AS replayed, count(*) AS n FROM app.artifacts AS a CROSS JOIN LATERAL jsonb_array_elements(a.inline -> 'tasks') AS t
        WHERE a.run_id = $1 AND a.kind = 'execution_report' GROUP BY 1`,
      [forkedRunId],
    );
    if (forkReport.some((r) => r.replayed !== 'true'))
      failures.push(`fork ${forkedRunId} re-made effects instead of replaying receipts: ${JSON.stringify(forkReport)}`);
    const forkKeys = (await proofs.plannedKeys([forkTarget])).map((p) => p.taskKey);
    for (const key of forkKeys) {
      const now = effects.keys.get(key)?.requests ?? 0;
      if (now !== batchRequests.get(key)) failures.push(`fork ${forkedRunId}: key ${key} was sent again (${batchRequests.get(key)} → ${now} requests)`);
    }
    // The cancelled run never reached ExecuteST.
    for (const key of (await proofs.plannedKeys([cancelTarget])).map((p) => p.taskKey)) {
      if (effects.keys.has(key)) failures.push(`cancelled run ${cancelTarget} sent its effect ${key}`);
    }
    note(
      `B  kill -9 ${killedInSleepAt - sleeping} ms into a ${config.sleepMs} ms durable sleep, ${actionGapMs} ms after firing cancel + fork; ` +
        `sleeper woke ${lateMs >= 0 ? '+' : ''}${lateMs} ms from its original deadline; cancel: ${cancelOutcome}; fork: ${forkOutcome} (replayed ${forkKeys.length} receipt(s), 0 re-sent)`,
    );

    // ------------------------------------------------------------ C. cancel and resume sleeping runs
    // Each run (maxAttempts 1) is cancelled and resumed 1..3 times while it sleeps; whatever the
    // number of rounds, it must end SUCCESS having made its one effect once (counted at the server).
    const cancelResume = await Promise.all(
      Array.from({ length: config.cancelResumeRuns }, (_, j) =>
        start(`cancel-resume ${j}`, `cancel-resume/r${round}-${j}`, { delayMs: config.cancelResumeSleepMs, maxAttempts: 1 }),
      ),
    );
    // A delayed run waits DELAYED on the queue; the first resume ends that wait and the run sleeps the
    // rest of its delay in DBOS.sleep, so later pairs hit it sleeping in the process, or in between.
    await until(
      'the cancel/resume runs to wait for their deadline',
      async () =>
        (
          await proofs.rows<{ n: string }>(
            `SELECT count(*) AS n FROM dbos.workflow_status AS w
              WHERE w.workflow_uuid = ANY($1::text[])
                AND (w.status = 'DELAYED' OR EXISTS (SELECT 1 FROM dbos.operation_outputs AS o WHERE o.workflow_uuid = w.workflow_uuid AND o.function_name = 'DBOS.sleep'))`,
            [cancelResume],
          )
        )[0]?.n === String(cancelResume.length)
          ? true
          : undefined,
      30_000,
      50,
    );
    const pairs = cancelResume.map(() => rng.int(1, 3));
    const awaitStatus = (id: string, want: (status: string | undefined) => boolean, what: string): Promise<true> =>
      until(what, async () => (want((await proofs.dbosStatuses([id])).get(id)) ? true : undefined), 30_000, 25);
    await Promise.all(
      cancelResume.map(async (id, j) => {
        for (let p = 0; p < pairs[j]!; p++) {
          expectStatus(`cancel #${p + 1} of ${id}`, await service.request('POST', `/api/ops/wf/${id}/cancel`, actor, auth), 202);
          await awaitStatus(id, (s) => s === 'CANCELLED', `${id} to be CANCELLED after cancel #${p + 1}`);
          expectStatus(`resume #${p + 1} of ${id}`, await service.request('POST', `/api/ops/wf/${id}/resume`, actor, auth), 202);
          await awaitStatus(id, (s) => s !== 'CANCELLED', `${id} to leave CANCELLED after resume #${p + 1}`);
        }
      }),
    );
    await awaitSuccess('the cancelled and resumed runs to succeed', cancelResume, config.cancelResumeSleepMs + 60_000);
    const attempts = await proofs.rows<{ run_id: string; task_key: string; attempts: number }>(
      'SELECT run_id, task_key, attempts FROM app.task_receipts WHERE run_id = ANY($1::text[])',
      [cancelResume],
    );
    for (const a of attempts)
      if (a.attempts > 1) failures.push(`cancelled/resumed run ${a.run_id}: receipt ${a.task_key} has ${a.attempts} attempts (maxAttempts 1)`);
    note(`C  ${cancelResume.length} sleeping run(s) cancelled and resumed [${pairs.join(' ')}] time(s); all SUCCESS`);

    // ------------------------------------------------------------ proofs over the whole database
    await service.stop();
    const succeeded: ExpectedRun[] = [
      ...batch.map((runId) => ({ runId })),
      { runId: sleeper },
      ...cancelResume.map((runId) => ({ runId })),
      { runId: forkedRunId, forked: true },
    ];
    const counted = await proofs.effectCounts(succeeded, effects);
    resent = counted.resent;
    failures.push(
      ...(await proofs.runsSucceeded(succeeded)),
      ...(await proofs.marks(succeeded)),
      ...(await proofs.artifacts(succeeded)),
      ...(await proofs.effects(succeeded, effects, { allKeysKnown: true, knownRunIds: [...succeeded.map((r) => r.runId), cancelTarget] })),
      ...counted.violations,
      ...(await proofs.noFailedWorkflows()),
    );
    const oracle = await runOracle(db.url);
    const verdict = oracleViolations(oracle);
    failures.push(...verdict);
    note(
      `   effects: ${effects.totalRequests} requests for ${effects.distinctKeys} keys = one per task + ${[...effects.keys.values()].reduce((n, r) => n + r.faulted, 0)} answered 503 + ` +
        `${resent} in-flight task(s) re-sent after a crash (same Idempotency-Key)${counted.violations.length > 0 ? ` + ${counted.violations.length} effect(s) made twice` : ''}`,
    );
    if (verdict.length === 0)
      note(`   proofs: ${succeeded.length} runs SUCCESS, 4 marks each, one receipt per effect; ops verify: ${oracle.output.split('\n').at(-1)}`);
  } catch (error) {
    failures.push(...(error instanceof RoundFailure ? error.reasons : [error instanceof Error ? (error.stack ?? error.message) : String(error)]));
  } finally {
    effects.onRequest = undefined;
    for (const p of processes) if (p.running) p.kill9();
    await Promise.all(processes.map((p) => p.exited()));
    await proofs.close().catch(() => undefined);
    await effects.close();
  }
  const ok = failures.length === 0;
  if (ok || !config.keepFailed) await db.drop().catch((error: unknown) => failures.push(`dropping ${db.name}: ${(error as Error).message}`));
  if (ok) rmSync(logFile, { force: true });
  else lines.push(`   service log: ${logFile}${config.keepFailed ? `; database kept: ${db.name}` : ''}`);
  return {
    ok: failures.length === 0,
    round,
    kind,
    seed,
    durationMs: Date.now() - startedAt,
    failures,
    lines,
    kills,
    resent,
    ...(cancelOutcome ? { cancel: cancelOutcome } : {}),
    ...(forkOutcome ? { fork: forkOutcome } : {}),
  };
}
