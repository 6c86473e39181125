import autocannon from 'autocannon';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { projectRoot } from '#common';
import { freePort, openPostgresServer, type PostgresServer, ServiceProcess, throwawayPool } from '../harness/index.js';
import type { BaselineResult } from './baseline.js';
import {
  bounded,
  completion,
  cpuMsOf,
  machineBusy,
  percentile,
  postgresCpuMs,
  postmasterPid,
  progress,
  round,
  rssOf,
  sleep,
  spawnChild,
  STATS_SETTLE_MS,
  until,
  withClient,
  withDatabase,
  xactCommit,
} from './harness.js';
import { type ExplainedQuery, explain, listSql, seedWorkflows, type Timing, timeGets } from './reads.js';
import { openLoop } from './open-loop.js';
import { meets, type Summary, svgChart, targetsFor, writeResults } from './report.js';

/**
 * `mise run bench [-- --quick]`: bare DBOS vs the service end to end, control-plane reads at scale,
 * and the cost of a run, against one Postgres server. Progress on stderr; the last stdout line is
 * the summary JSON; the full results go to bench/results/<stamp>.json (+ an SVG chart).
 *
 * Flags: --quick | --full (default) · --rows N · --runs N · --connections N · --only reads ·
 *        --split-db (service app and DBOS system tables in two databases: commits per component) ·
 *        --poll-ms N (experiment: queue polling interval for both sides) · --keep (keep the databases) ·
 *        --split-roles (experiment: an APP_ROLE=api process takes the HTTP load, an APP_ROLE=worker one runs the workflows) ·
 *        --with-tick (keep the service's 30 s ops tick; by default it is scheduled out of the way, as
 *        bare DBOS has no such background workflow and it would land in the measured windows) ·
 *        --cpu-prof (the service runs under node --cpu-prof; the .cpuprofile lands in bench/results/)
 */

/** Never fires during a benchmark (Jan 1, 00:00:00): keeps the scheduled ops tick out of the measured windows. */
const NO_TICK_SCHEDULE = '0 0 0 1 1 *';

interface Options {
  readonly quick: boolean;
  readonly rows: number;
  readonly runs: number;
  readonly connections: number;
  readonly commitRuns: number;
  readonly listRequests: number;
  readonly deepPages: number;
  readonly warmupRuns: number;
  readonly onlyReads: boolean;
  readonly splitDb: boolean;
  readonly pollMs: number | undefined;
  readonly keep: boolean;
  readonly withTick: boolean;
  readonly splitRoles: boolean;
  readonly cpuProf: boolean;
  readonly flatOut: boolean;
  readonly budgetMs: number;
  /** Runs started one at a time on the idle service (start latency). */
  readonly idleStarts: number;
  /** Concurrencies bare DBOS's direct start is measured at (the best one is the ceiling). */
  readonly directConcurrencies: readonly number[];
}

function parseOptions(argv: readonly string[]): Options {
  const flag = (name: string): boolean => argv.includes(`--${name}`);
  const value = (name: string): number | undefined => {
    const at = argv.indexOf(`--${name}`);
    if (at < 0) return undefined;
    const parsed = Number(argv[at + 1]);
    if (!Number.isInteger(parsed) || parsed <= 0) throw new Error(`--${name} needs a positive integer`);
    return parsed;
  };
  const known = [
    '--quick',
    '--full',
    '--rows',
    '--runs',
    '--connections',
    '--only',
    'reads',
    '--split-db',
    '--poll-ms',
    '--keep',
    '--with-tick',
    '--split-roles',
    '--cpu-prof',
    '--flat-out',
  ];
  for (const [i, arg] of argv.entries()) {
    const isValue = i > 0 && ['--rows', '--runs', '--connections', '--poll-ms'].includes(argv[i - 1]!);
    if (!isValue && !known.includes(arg)) throw new Error(`unknown argument ${arg} (see the header of tools/bench/main.ts)`);
  }
  const quick = flag('quick');
  return {
    quick,
    rows: value('rows') ?? (quick ? 10_000 : 1_000_000),
    runs: value('runs') ?? (quick ? 160 : 1600),
    connections: value('connections') ?? 8,
    commitRuns: quick ? 32 : 160,
    listRequests: quick ? 400 : 1000,
    deepPages: 100,
    warmupRuns: 16,
    onlyReads: argv.includes('--only') && argv[argv.indexOf('--only') + 1] === 'reads',
    splitDb: flag('split-db'),
    pollMs: value('poll-ms'),
    keep: flag('keep'),
    withTick: flag('with-tick'),
    splitRoles: flag('split-roles'),
    cpuProf: flag('cpu-prof'),
    flatOut: flag('flat-out'),
    budgetMs: quick ? 120_000 : 15 * 60_000,
    idleStarts: quick ? 60 : 200,
    directConcurrencies: quick ? [8, 16, 32] : [4, 8, 16, 32, 64],
  };
}

async function server(): Promise<PostgresServer> {
  const given = process.env.DATABASE_URL?.trim() || undefined;
  if (!given) progress('no DATABASE_URL: starting an embedded Postgres under .data/pg-bench');
  return openPostgresServer(given, 'pg-bench', { fast: false, log: progress });
}

/** Services the harness is stopping on purpose (their exit is not news). */
const stopping = new WeakSet<ServiceProcess>();

interface Service {
  readonly process: ServiceProcess;
  readonly baseUrl: string;
  /** The operator token the service accepts (OPS_API_TOKENS). */
  readonly token: string;
}

/**
 * A/B switches: these service variables, when set in the bench's own environment, are passed to the
 * service (e.g. `RUN_CONCURRENCY=32 npx mise run bench -- --quick`); otherwise the service runs on
 * its defaults, as `npm start` does.
 */
const AB_VARIABLES = ['DATABASE_PREPARED_STATEMENTS', 'RUN_CONCURRENCY', 'RUN_QUEUE_POLL_MS', 'RUN_DIRECT_START'] as const;

function abSwitches(): Record<string, string> {
  return Object.fromEntries(AB_VARIABLES.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])));
}

async function startService(root: string, env: Record<string, string>, logFile: string, cpuProf = false): Promise<Service> {
  const token = randomBytes(24).toString('hex');
  const service = new ServiceProcess(
    'the service',
    await freePort(),
    {
      DBOS_EXECUTOR_ID: 'bench-service',
      OPS_API_TOKENS: `bench:operator:${token}`,
      // An A/B switch: DATABASE_PREPARED_STATEMENTS=off mise run bench …
      ...abSwitches(),
      ...env,
    },
    logFile,
    { nodeArgs: cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(root, 'bench', 'results')}`] : [] },
  );
  await service.start();
  void service.exited().then((code) => {
    if (!stopping.has(service)) progress(`the service exited unexpectedly (${code}); see ${logFile}`);
  });
  return { process: service, baseUrl: service.baseUrl, token };
}

async function post(url: string, body: unknown): Promise<{ status: number; body: { runId?: string; intentId?: string } }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as { runId?: string; intentId?: string }) : {} };
}

/** Starts `count` runs through HTTP with `concurrency` callers; returns their IDs. */
async function startRuns(service: Service, intentId: string, count: number, concurrency: number): Promise<string[]> {
  const ids: string[] = [];
  let left = count;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left > 0) {
        left--;
        const res = await post(`${service.baseUrl}/api/runs`, { intentId });
        if (res.status !== 202 || !res.body.runId) throw new Error(`POST /api/runs answered ${res.status}: ${JSON.stringify(res.body)}`);
        ids.push(res.body.runId);
      }
    }),
  );
  return ids;
}

async function awaitRuns(
  pool: pg.Pool,
  label: string,
  ids: readonly string[],
  timeoutMs: number,
): Promise<{ succeeded: number; failed: number; lastCompletedMs: number | null; polls: number }> {
  let polls = 0;
  let shown = Date.now();
  const state = await until(
    `${label}: ${ids.length} runs to finish`,
    async () => {
      polls++;
      const s = await completion(pool, ids);
      if (Date.now() - shown > 2500) {
        shown = Date.now();
        progress(`${label}: ${s.succeeded}/${ids.length} succeeded${s.failed ? `, ${s.failed} failed` : ''}`);
      }
      return s.succeeded + s.failed >= ids.length ? s : undefined;
    },
    timeoutMs,
    100,
  );
  return { ...state, polls };
}

interface IdleStarts {
  runs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** How often the harness asked GET /api/runs/:id while waiting. */
  getEveryMs: number;
}

const IDLE_GET_EVERY_MS = 2;

/**
 * Start latency on an idle service: `count` runs one after another, each timed from its POST
 * /api/runs until GET /api/runs/:id says succeeded. The harness watches the run's DBOS status in
 * Postgres every IDLE_GET_EVERY_MS (a primary-key read) and asks GET once DBOS says SUCCESS (again
 * if the route does not say succeeded yet): asking the service itself every 2 ms would load the
 * very process being timed with a GET (four queries) per poll.
 */
async function idleStarts(service: Service, systemPool: pg.Pool, intentId: string, count: number, timeoutMs: number): Promise<IdleStarts> {
  const deadline = Date.now() + timeoutMs;
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const res = await post(`${service.baseUrl}/api/runs`, { intentId });
    if (res.status !== 202 || !res.body.runId) throw new Error(`POST /api/runs answered ${res.status}`);
    for (;;) {
      const { rows } = await systemPool.query<{ status: string }>('SELECT status FROM dbos.workflow_status WHERE workflow_uuid = $1', [res.body.runId]);
      const status = rows[0]?.status;
      if (status === 'SUCCESS') {
        const view = (await (await fetch(`${service.baseUrl}/api/runs/${res.body.runId}`)).json()) as { status?: string };
        if (view.status === 'succeeded') break;
      } else if (status === 'ERROR' || status === 'CANCELLED') throw new Error(`idle start: run ${res.body.runId} ended ${status}`);
      if (Date.now() > deadline) throw new Error('idle start: out of time');
      await sleep(IDLE_GET_EVERY_MS);
    }
    samples.push(performance.now() - t0);
  }
  return {
    runs: samples.length,
    p50Ms: round(percentile(samples, 50), 1),
    p90Ms: round(percentile(samples, 90), 1),
    p99Ms: round(percentile(samples, 99), 1),
    maxMs: round(Math.max(...samples), 1),
    getEveryMs: IDLE_GET_EVERY_MS,
  };
}

const COST_IDLE_MS = 6_000;
const RSS_IDLE_AFTER_MS = 10_000;

interface TableWrites {
  [table: string]: number;
}

async function tableWrites(client: pg.Client): Promise<TableWrites> {
  const { rows } = await client.query<{ t: string; n: string }>(
    `SELECT schemaname || '.' || relname AS t, (n_tup_ins + n_tup_upd + n_tup_del)::text AS n FROM pg_stat_user_tables WHERE schemaname IN ('app', 'dbos')`,
  );
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
}

async function nextXid(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query<{ x: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x');
  return Number(rows[0]!.x);
}

interface CostResult {
  runs: number;
  idleCommitsPerSec: number;
  commitsPerRunRaw: number;
  commitsPerRun: number;
  commitsPerRunByDatabase: Record<string, number>;
  writeTransactionsPerRun: number;
  /** Server-wide xid use while the service idled; well above 0 means other writers on the server blur writeTransactionsPerRun. */
  idleXidPerSec: number;
  writeTransactionsReliable: boolean;
  rowsWrittenPerRun: Record<string, number>;
  windowSeconds: number;
}

/**
 * Commits per successful single-task run, on a quiet service: pg_stat_database.xact_commit deltas
 * (every transaction, read-only ones too) over a batch, minus the idle rate (queue polling and
 * maintenance commit even when nothing runs) and the harness's own polls. Backends publish their
 * counters up to ~10 s late, so the service must have been quiet for STATS_SETTLE_MS before this
 * starts, and the closing reading waits as long. Write transactions (xid advance, server-wide, no
 * lag) and rows written per table come alongside.
 */
async function measureCost(
  service: Service,
  admin: pg.Client,
  databases: readonly string[],
  systemPool: pg.Pool,
  statsClients: readonly pg.Client[],
  intentId: string,
  runs: number,
): Promise<CostResult> {
  const commitsNow = async (): Promise<{ total: number; byDb: number[]; at: number; xid: number }> => {
    const byDb = await Promise.all(databases.map((d) => xactCommit(admin, d)));
    return { total: byDb.reduce((a, b) => a + b, 0), byDb, at: Date.now(), xid: await nextXid(admin) };
  };
  const writes0 = await Promise.all(statsClients.map(tableWrites));
  const before = await commitsNow();
  const ids = await startRuns(service, intentId, runs, 4);
  const done = await awaitRuns(systemPool, 'cost', ids, 60_000);
  if (done.failed > 0) throw new Error(`cost: ${done.failed} of ${runs} single-task runs failed`);
  progress(`cost: ${runs} runs done; letting the statistics settle (${STATS_SETTLE_MS / 1000} s), then ${COST_IDLE_MS / 1000} s idle`);
  await sleep(STATS_SETTLE_MS);
  const after = await commitsNow();
  const writes1 = await Promise.all(statsClients.map(tableWrites));
  // The idle rate, right after: the same service, steady, nothing running.
  await sleep(COST_IDLE_MS);
  const idleEnd = await commitsNow();
  const idleSeconds = (idleEnd.at - after.at) / 1000;
  const idleByDb = idleEnd.byDb.map((n, i) => (n - after.byDb[i]! - 1) / idleSeconds); // 1: the table-stats read
  const idleRate = idleByDb.reduce((a, b) => a + b, 0);
  const idleXidRate = (idleEnd.xid - after.xid) / idleSeconds;

  const seconds = (after.at - before.at) / 1000;
  const raw = after.total - before.total - done.polls; // the harness's completion polls ran on the system database
  const byDb: Record<string, number> = {};
  databases.forEach((d, i) => {
    const own = i === databases.length - 1 ? done.polls : 0;
    byDb[d] = round((after.byDb[i]! - before.byDb[i]! - own - idleByDb[i]! * seconds) / runs, 2);
  });
  const rowsWritten: Record<string, number> = {};
  for (const [i, w1] of writes1.entries()) {
    for (const [table, n] of Object.entries(w1)) {
      const delta = n - (writes0[i]![table] ?? 0);
      if (delta > 0) rowsWritten[table] = round(delta / runs, 2);
    }
  }
  return {
    runs,
    idleCommitsPerSec: round(idleRate, 2),
    commitsPerRunRaw: round(raw / runs, 2),
    commitsPerRun: round((raw - idleRate * seconds) / runs, 2),
    commitsPerRunByDatabase: byDb,
    writeTransactionsPerRun: round((after.xid - before.xid - idleXidRate * seconds) / runs, 2),
    idleXidPerSec: round(idleXidRate, 2),
    writeTransactionsReliable: idleXidRate < 0.5,
    rowsWrittenPerRun: rowsWritten,
    windowSeconds: round(seconds, 1),
  };
}

interface EndToEnd {
  runs: number;
  succeeded: number;
  failed: number;
  non2xx: number;
  errors: number;
  connections: number;
  postSeconds: number;
  slowestStarts: (readonly [number, number])[];
  loadGeneratorMaxStallMs: number;
  seconds: number;
  runsPerSec: number;
  postsPerSec: number;
  startP50Ms: number;
  startP90Ms: number;
  startP99Ms: number;
  startMaxMs: number;
  startRawP99Ms: number;
  postRate: number | null;
  serviceCpuMsPerRun: number;
  /** The whole Postgres server's CPU per run over the same window (null: the server is not local). */
  postgresCpuMsPerRun: number | null;
}

async function endToEnd(
  service: Service,
  serviceCpuMs: () => number,
  postgresCpu: (() => number) | undefined,
  systemPool: pg.Pool,
  intentId: string,
  runs: number,
  connections: number,
  rate: number | undefined,
  timeoutMs: number,
): Promise<EndToEnd> {
  progress(
    `e2e: POST /api/runs ×${runs} over ${connections} connections (${rate ? `open loop, one every ${round(1000 / rate, 1)} ms (${rate}/s)` : 'autocannon, flat out'}), then polling to completion`,
  );
  const cpu0 = serviceCpuMs();
  const pgCpu0 = postgresCpu?.();
  // The load generator's own stalls would show up as POST latency: measured, so they can be told apart.
  const clientLoop = monitorEventLoopDelay({ resolution: 5 });
  clientLoop.enable();
  const t0 = Date.now();
  const post = rate ? await pacedPosts(service, intentId, runs, connections, rate) : await flatOutPosts(service, intentId, runs, connections);
  clientLoop.disable();
  const { ids, latencies, rawLatencies, answeredAt } = post;
  const postSeconds = (Date.now() - t0) / 1000;
  progress(
    `e2e: ${ids.length} runs started in ${postSeconds.toFixed(1)} s (${round(ids.length / postSeconds, 0)} POST/s); p99 ${round(percentile(latencies, 99), 1)} ms`,
  );
  const done = await awaitRuns(systemPool, 'e2e', ids, timeoutMs);
  const seconds = ((done.lastCompletedMs ?? Date.now()) - t0) / 1000;
  const cpuMs = serviceCpuMs() - cpu0;
  const pgCpuMs = postgresCpu && pgCpu0 !== undefined ? postgresCpu() - pgCpu0 : undefined;
  return {
    runs: ids.length,
    succeeded: done.succeeded,
    failed: done.failed,
    non2xx: post.non2xx,
    errors: post.errors,
    connections,
    postSeconds: round(postSeconds, 2),
    loadGeneratorMaxStallMs: round(clientLoop.max / 1e6, 1),
    // Where the tail sits: the ten slowest POSTs as [ms after the first POST when answered, latency ms].
    slowestStarts: latencies
      .map((latency, i) => [answeredAt[i]!, round(latency, 1)] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10),
    seconds: round(seconds, 2),
    runsPerSec: round(done.succeeded / seconds, 2),
    postsPerSec: round(ids.length / postSeconds, 1),
    postRate: rate ?? null,
    // Paced: from when each POST was due (open loop: no coordinated omission). Flat out: each
    // response's own latency (a closed loop: latency ≈ connections ÷ throughput).
    startP50Ms: round(percentile(latencies, 50), 1),
    startP90Ms: round(percentile(latencies, 90), 1),
    startP99Ms: round(percentile(latencies, 99), 1),
    startMaxMs: round(Math.max(...latencies), 1),
    // From when each POST went out on its socket.
    startRawP99Ms: round(percentile(rawLatencies, 99), 1),
    serviceCpuMsPerRun: round(cpuMs / Math.max(1, done.succeeded), 1),
    postgresCpuMsPerRun: pgCpuMs === undefined ? null : round(pgCpuMs / Math.max(1, done.succeeded), 1),
  };
}

interface Posts {
  readonly ids: string[];
  /** Latency per answer: from when it was due (paced) or sent (flat out). */
  readonly latencies: number[];
  /** Latency per answer from when it went out. */
  readonly rawLatencies: number[];
  /** When each answer came, ms after the first POST. */
  readonly answeredAt: number[];
  readonly non2xx: number;
  readonly errors: number;
}

function runIdOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { runId?: unknown };
    return typeof parsed.runId === 'string' ? parsed.runId : undefined;
  } catch {
    return undefined; // counted as a non-2xx or an error
  }
}

/** The request both load generators send: start a run of the benchmark's intent. */
function startRunRequest(service: Service, intentId: string): { url: string; method: 'POST'; headers: Record<string, string>; body: string } {
  return { url: `${service.baseUrl}/api/runs`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ intentId }) };
}

/** POST /api/runs `runs` times, one due every 1/rate s (open loop, see openLoop). */
async function pacedPosts(service: Service, intentId: string, runs: number, connections: number, rate: number): Promise<Posts> {
  const result = await openLoop({
    ...startRunRequest(service, intentId),
    rate,
    amount: runs,
    connections,
    timeoutMs: 30_000,
  });
  const ids = result.answers.map((a) => (a.status === 202 ? runIdOf(a.body) : undefined)).filter((id): id is string => id !== undefined);
  return {
    ids,
    latencies: result.answers.map((a) => a.answeredMs - a.dueMs),
    rawLatencies: result.answers.map((a) => a.answeredMs - a.sentMs),
    answeredAt: result.answers.map((a) => Math.round(a.answeredMs)),
    non2xx: result.answers.filter((a) => a.status < 200 || a.status > 299).length,
    errors: result.errors,
  };
}

/** POST /api/runs `runs` times as fast as `connections` keep-alive connections allow (autocannon, a closed loop). */
async function flatOutPosts(service: Service, intentId: string, runs: number, connections: number): Promise<Posts> {
  // The load generator warms up too (its connections and JIT): a GET that touches no run.
  await autocannon({ url: `${service.baseUrl}/healthz`, connections, amount: 10 * connections, timeout: 30 });
  const ids: string[] = [];
  const latencies: number[] = [];
  const answeredAt: number[] = [];
  let non2xx = 0;
  const t0 = Date.now();
  const instance = autocannon({
    ...startRunRequest(service, intentId),
    connections,
    amount: runs,
    timeout: 30,
    setupClient: (client) => {
      client.on('body', (body: Buffer) => {
        const id = runIdOf(body.toString('utf8'));
        if (id) ids.push(id);
      });
    },
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    latencies.push(responseTime);
    answeredAt.push(Date.now() - t0);
    if (statusCode < 200 || statusCode > 299) non2xx++;
  });
  const result = await instance;
  return { ids, latencies, rawLatencies: latencies, answeredAt, non2xx, errors: result.errors + result.timeouts };
}

/**
 * The paced POST rate: what bare DBOS starting workflows directly executes per second (at least
 * 8/s), so that runs/s can reach the ceiling it is compared with (directRatio up to 1) and is
 * measured at saturation whenever the service is slower. POST latency is then measured at the
 * ceiling's rate, from when each request was due. (The earlier rule, four times the queued
 * baseline, was 64/s while polling capped it and would be ~300/s once it does not.)
 */
function postRate(baseline: BaselineResult | undefined): number {
  return Math.max(8, Math.round(baseline?.bestDirect?.wfPerSec ?? 16));
}

async function runBaseline(root: string, url: string, options: Options, timeoutMs: number, postmaster: number | undefined): Promise<BaselineResult> {
  const params = {
    url,
    count: options.runs,
    concurrency: options.connections,
    warmup: options.warmupRuns,
    timeoutMs,
    pollMs: options.pollMs,
    measureCommits: !options.quick,
    postmaster,
    directConcurrencies: options.directConcurrencies,
  };
  const child = spawnChild(process.execPath, [join(root, 'dist-tools', 'tools', 'bench', 'baseline.js')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BENCH_T0: process.env.BENCH_T0 ?? '', BENCH_BASELINE: JSON.stringify(params) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.startsWith('[bench')) process.stderr.write(`${line}\n`);
      else if (line.trim() && !/DeprecationWarning|trace-deprecation/.test(line)) process.stderr.write(`  baseline: ${line}\n`);
    }
  });
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  const last = out.trim().split('\n').at(-1);
  if (code !== 0 || !last) throw new Error(`the baseline process failed (exit ${code})`);
  return JSON.parse(last) as BaselineResult;
}

interface ReadsResult {
  storedWorkflows: number;
  seedSeconds: number | null;
  firstPage: Timing;
  deepPage: Timing & { depthPages: number; rowsBefore: number };
  walk: Timing;
  variants: Timing[];
  explain: ExplainedQuery[];
}

async function reads(service: Service, systemUrl: string, options: Options): Promise<ReadsResult> {
  const headers = { authorization: `Bearer ${service.token}` };
  const base = `${service.baseUrl}/api/ops/wf`;
  return withClient(systemUrl, async (client) => {
    const existing = Number((await client.query<{ n: string }>('SELECT count(*)::text AS n FROM dbos.workflow_status')).rows[0]!.n);
    let seedSeconds: number | null = null;
    if (existing < options.rows) {
      progress(`reads: seeding ${(options.rows - existing).toLocaleString('en-US')} workflows into dbos.workflow_status…`);
      seedSeconds = round(await seedWorkflows(client, options.rows - existing), 1);
    }
    const stored = Number((await client.query<{ n: string }>('SELECT count(*)::text AS n FROM dbos.workflow_status')).rows[0]!.n);
    progress(`reads: ${stored.toLocaleString('en-US')} stored workflows; timing GET /api/ops/wf`);

    const firstPage = await timeGets('first page (limit 50)', `${base}?limit=50`, headers, options.listRequests);
    // Walk the cursor `deepPages` pages deep, timing each step, then time that deep page repeatedly.
    let cursor: string | null = null;
    const walkSamples: number[] = [];
    for (let page = 0; page < options.deepPages; page++) {
      const t = performance.now();
      const response: Response = await fetch(`${base}?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers });
      const body = (await response.json()) as { nextCursor: string | null };
      walkSamples.push(performance.now() - t);
      if (response.status !== 200 || !body.nextCursor) throw new Error(`reads: the cursor walk stopped at page ${page + 1} (${response.status})`);
      cursor = body.nextCursor;
    }
    const deepUrl = `${base}?limit=50&cursor=${encodeURIComponent(cursor!)}`;
    const deep = await timeGets(`page ${options.deepPages + 1} (cursor)`, deepUrl, headers, options.listRequests);
    const walk: Timing = {
      label: `cursor walk, pages 1..${options.deepPages}`,
      requests: walkSamples.length,
      p50Ms: round(percentile(walkSamples, 50), 2),
      p99Ms: round(percentile(walkSamples, 99), 2),
      maxMs: round(Math.max(...walkSamples), 2),
    };
    // Filtered first pages (the other query shapes operators use): informational.
    const variantRequests = Math.max(50, Math.round(options.listRequests / 4));
    const variants: Timing[] = [];
    for (const [label, query] of [
      ['status=ERROR', 'status=ERROR'],
      ['status=ERROR&status=CANCELLED', 'status=ERROR&status=CANCELLED'],
      ['name=OpsTickWorkflow', 'name=OpsTickWorkflow'],
      ['queue=intents', 'queue=intents'],
      ['status=ERROR&name=OpsActionWorkflow', 'status=ERROR&name=OpsActionWorkflow'],
      ['createdBefore=15 days ago', `createdBefore=${encodeURIComponent(new Date(Date.now() - 15 * 86_400_000).toISOString())}`],
    ] as const) {
      variants.push(await timeGets(label, `${base}?limit=50&${query}`, headers, variantRequests, 5));
    }

    // The plans of the same queries (as OpsRepository renders them), on this data.
    const [createdMs, id] = JSON.parse(Buffer.from(cursor!, 'base64url').toString('utf8')) as [string, string];
    const fifteenDaysAgo = String(Date.now() - 15 * 86_400_000);
    const plans: ExplainedQuery[] = [
      await explain(client, 'first page', listSql({})),
      await explain(client, `page ${options.deepPages + 1}`, listSql({ after: true }), [createdMs, id]),
      await explain(client, 'status=ERROR', listSql({ where: [`"status" in ('ERROR')`] })),
      await explain(client, 'status=ERROR&status=CANCELLED', listSql({ where: [`"status" in ('ERROR', 'CANCELLED')`] })),
      await explain(client, 'name=OpsTickWorkflow', listSql({ where: [`"name" = 'OpsTickWorkflow'`] })),
      await explain(client, 'queue=intents', listSql({ where: [`"queue_name" = 'intents'`] })),
      await explain(client, 'status=ERROR&name=OpsActionWorkflow', listSql({ where: [`"status" in ('ERROR')`, `"name" = 'OpsActionWorkflow'`] })),
      await explain(client, 'createdBefore=15 days ago', listSql({ where: [`"created_at" < '${fifteenDaysAgo}'`] })),
    ];
    const rowsBefore = options.deepPages * 50;
    return {
      storedWorkflows: stored,
      seedSeconds,
      firstPage,
      deepPage: { ...deep, depthPages: options.deepPages, rowsBefore },
      walk,
      variants,
      explain: plans,
    };
  });
}

/** The checkout the figures belong to: commit, and whether the tree had local changes. */
function revision(root: string): string | null {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function stampOf(date: Date): string {
  return date
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const root = projectRoot();
  const startedAt = new Date();
  const stamp = stampOf(startedAt);
  const deadline = Date.now() + options.budgetMs;
  const left = (): number => Math.max(5_000, deadline - Date.now());
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  progress(
    `${options.quick ? 'quick' : 'full'} mode: ${options.runs} runs per side, ${options.connections} connections, ${options.rows.toLocaleString('en-US')} stored workflows${options.pollMs ? `, EXPERIMENT queue polling ${options.pollMs} ms` : ''}`,
  );

  const loadAtStart = loadavg();
  if (loadAtStart[0]! > cpus().length * 0.5) {
    progress(`WARNING: the machine is busy before the benchmark starts (load ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}): latencies will be noisy`);
  }
  let busyE2e: number | undefined;
  let busyReads: number | undefined;
  const pgServer = await server();
  const dbStamp = `${startedAt.toISOString().replace(/\D/g, '').slice(0, 14)}_${process.pid}`;
  const names = {
    base: `durable_ops_bench_${dbStamp}_base`,
    svc: `durable_ops_bench_${dbStamp}_svc`,
    sys: options.splitDb ? `durable_ops_bench_${dbStamp}_sys` : `durable_ops_bench_${dbStamp}_svc`,
  };
  const created: string[] = [];
  const admin = new pg.Client({ connectionString: pgServer.adminUrl, application_name: 'durable-ops-bench' });
  await admin.connect();
  const postmaster = await postmasterPid(admin);
  let service: Service | undefined;
  let worker: Service | undefined;
  let systemPool: pg.Pool | undefined;
  const statsClients: pg.Client[] = [];
  const cleanup = async (): Promise<void> => {
    for (const s of [service, worker]) {
      if (!s) continue;
      stopping.add(s.process);
      await s.process.stop(10_000).catch(() => undefined);
    }
    await systemPool?.end().catch(() => undefined);
    for (const c of statsClients) await c.end().catch(() => undefined);
    if (!options.keep) for (const db of created) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    else if (created.length) progress(`kept databases: ${created.join(', ')}`);
    await admin.end().catch(() => undefined);
    await pgServer.stop();
  };
  process.once('SIGINT', () => {
    progress('interrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  });

  try {
    const serverVersion = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    for (const db of new Set(Object.values(names))) {
      if (options.onlyReads && db === names.base) continue;
      await admin.query(`CREATE DATABASE ${db}`);
      created.push(db);
    }
    const url = (db: string): string => withDatabase(pgServer.adminUrl, db);

    // 1. The built service as a child process (two with --split-roles: api + worker), warmed up.
    progress(`service: starting dist/apps/api/src/main.js${options.splitRoles ? ' twice (APP_ROLE=api and APP_ROLE=worker)' : ''}`);
    const serviceEnv = {
      DATABASE_URL: url(names.svc),
      ...(options.splitDb ? { DBOS_SYSTEM_DATABASE_URL: url(names.sys) } : {}),
      ...(options.withTick ? {} : { OPS_TICK_SCHEDULE: NO_TICK_SCHEDULE }),
    };
    const logFile = join(root, 'bench', 'results', `${stamp}.service.log`);
    service = await bounded('service boot', 60_000, () =>
      startService(root, { ...serviceEnv, ...(options.splitRoles ? { APP_ROLE: 'api', DBOS_EXECUTOR_ID: 'bench-api' } : {}) }, logFile, options.cpuProf),
    );
    if (options.splitRoles) {
      worker = await bounded('worker boot', 60_000, () =>
        startService(root, { ...serviceEnv, APP_ROLE: 'worker', DBOS_EXECUTOR_ID: 'bench-worker' }, join(root, 'bench', 'results', `${stamp}.worker.log`)),
      );
    }
    const pids = [service.process.pid!, ...(worker ? [worker.process.pid!] : [])];
    /** RSS and CPU of the service: all its processes. */
    const serviceRss = (): { rssMb: number; peakMb: number } =>
      pids.map(rssOf).reduce((a, b) => ({ rssMb: a.rssMb + b.rssMb, peakMb: a.peakMb + b.peakMb }), { rssMb: 0, peakMb: 0 });
    const serviceCpuMs = (): number => pids.map(cpuMsOf).reduce((a, b) => a + b, 0);
    systemPool = throwawayPool(url(names.sys), 2, 'durable-ops-bench');
    for (const db of new Set([names.svc, names.sys])) {
      const c = new pg.Client({ connectionString: url(db), application_name: 'durable-ops-bench' });
      await c.connect();
      statsClients.push(c);
    }
    const rssBoot = serviceRss();
    if (options.pollMs) {
      await systemPool.query(`UPDATE dbos.queues SET polling_interval_sec = $1 WHERE name = 'intents'`, [options.pollMs / 1000]);
      progress(`EXPERIMENT: the service's intents queue now polls every ${options.pollMs} ms`);
    }

    const intent = await post(`${service.baseUrl}/api/intents`, {
      goal: 'benchmark: one echo task',
      inputs: { tasks: [{ connector: 'echo', args: { value: 'bench' } }] },
      constraints: {},
    });
    if ((intent.status !== 201 && intent.status !== 200) || !intent.body.intentId) throw new Error(`POST /api/intents answered ${intent.status}`);
    const intentId = intent.body.intentId;

    let baseline: BaselineResult | undefined;
    let cost: CostResult | undefined;
    let e2e: EndToEnd | undefined;
    let rssIdle: { rssMb: number; peakMb: number } | undefined;
    let idleCpuPercent: number | undefined;
    let idle: IdleStarts | undefined;
    if (!options.onlyReads) {
      // Warm-up: connections, JIT, the queue's first polls, the list route.
      progress(`service: warm-up (${options.warmupRuns} runs)`);
      const warm = await startRuns(service, intentId, options.warmupRuns, 4);
      await awaitRuns(systemPool, 'warm-up', warm, 30_000);
      await timeGets('warm-up list', `${service.baseUrl}/api/ops/wf?limit=50`, { authorization: `Bearer ${service.token}` }, 20, 0);
      const quietSince = Date.now();

      // 2. Baseline: bare DBOS in its own process and database. The service sits idle meanwhile (its
      //    idle CPU is reported), which is also the quiet period the cost phase needs before it starts.
      progress(`baseline: bare DBOS, ${options.runs} four-step workflows on a queue like the service's (separate process, own database)`);
      const cpuIdle0 = { ms: serviceCpuMs(), at: Date.now() };
      // Idle RSS at a fixed point, 10 s after the warm-up (V8 keeps shrinking its heap for ~30 s more).
      const rssIdleReading = sleep(RSS_IDLE_AFTER_MS)
        .then(serviceRss)
        .catch(() => undefined);
      baseline = await bounded('baseline', Math.min(left(), options.quick ? 50_000 : 5 * 60_000), () =>
        runBaseline(root, url(names.base), options, options.quick ? 45_000 : 5 * 60_000, postmaster),
      );
      idleCpuPercent = round(((serviceCpuMs() - cpuIdle0.ms) / (Date.now() - cpuIdle0.at)) * 100, 2);
      progress(
        `baseline: ${round(baseline.wfPerSec, 2)} workflows/s${baseline.commitsPerWorkflow !== null ? `, ${round(baseline.commitsPerWorkflow, 1)} commits/workflow` : ''}`,
      );
      await admin.query(`DROP DATABASE IF EXISTS ${names.base} WITH (FORCE)`);
      created.splice(created.indexOf(names.base), 1);
      rssIdle = (await rssIdleReading) ?? serviceRss();
      progress(`service: idle RSS 10 s after warm-up ${round(rssIdle.rssMb, 0)} MB (idle CPU ${idleCpuPercent} %)`);

      // 3. Cost of a run, on a quiet service.
      const quietFor = Date.now() - quietSince;
      if (quietFor < STATS_SETTLE_MS) await sleep(STATS_SETTLE_MS - quietFor);
      progress(`cost: ${options.commitRuns} single-task runs on a quiet service`);
      cost = await bounded('cost', Math.min(left(), 75_000), () =>
        measureCost(service!, admin, [...new Set([names.svc, names.sys])], systemPool!, statsClients, intentId, options.commitRuns),
      );
      progress(
        `cost: ${cost.commitsPerRun} commits/run net (${cost.commitsPerRunRaw} raw; idle ${cost.idleCommitsPerSec}/s); ${cost.writeTransactionsPerRun} write transactions/run${cost.writeTransactionsReliable ? '' : ` (unreliable: other writers on this server, ${cost.idleXidPerSec} xid/s while idle)`}`,
      );

      // 3b. Start latency, one run at a time, on the idle service.
      progress(`idle start: ${options.idleStarts} runs one at a time, POST → GET says succeeded`);
      idle = await bounded('idle start', Math.min(left(), 60_000), () => idleStarts(service!, systemPool!, intentId, options.idleStarts, 55_000));
      progress(`idle start: p50 ${idle.p50Ms} ms, p99 ${idle.p99Ms} ms, max ${idle.maxMs} ms`);

      // 4. End to end under load.
      const busy0 = machineBusy();
      e2e = await bounded('e2e', Math.min(left(), options.quick ? 45_000 : 6 * 60_000), () =>
        endToEnd(
          service!,
          serviceCpuMs,
          postmaster ? () => postgresCpuMs(postmaster) : undefined,
          systemPool!,
          intentId,
          options.runs,
          options.connections,
          options.flatOut ? undefined : postRate(baseline),
          options.quick ? 40_000 : 6 * 60_000,
        ),
      );
      busyE2e = round(machineBusy(busy0).share, 3);
      const direct = baseline.bestDirect;
      progress(
        `e2e: ${e2e.runsPerSec} runs/s (bare DBOS direct ${direct ? round(direct.wfPerSec, 2) : '?'} wf/s at ${direct?.concurrency ?? '?'} in flight, queued ${round(baseline.wfPerSec, 2)} wf/s); POST p50 ${e2e.startP50Ms} ms, p99 ${e2e.startP99Ms} ms`,
      );
      progress(
        `cpu per run: service ${e2e.serviceCpuMsPerRun} ms + Postgres ${e2e.postgresCpuMsPerRun ?? '?'} ms; bare DBOS direct ${direct ? round(direct.cpuMsPerWorkflow, 1) : '?'} ms + Postgres ${direct?.postgresCpuMsPerWorkflow == null ? '?' : round(direct.postgresCpuMsPerWorkflow, 1)} ms; queued ${round(baseline.cpuMsPerWorkflow, 1)} ms + Postgres ${baseline.postgresCpuMsPerWorkflow === null ? '?' : round(baseline.postgresCpuMsPerWorkflow, 1)} ms`,
      );
    }

    // 5. Control-plane reads at scale.
    const busyR0 = machineBusy();
    const readResult = await bounded('reads', Math.min(left(), options.quick ? 40_000 : 10 * 60_000), () => reads(service!, url(names.sys), options));
    busyReads = round(machineBusy(busyR0).share, 3);
    progress(
      `reads: first page p50 ${readResult.firstPage.p50Ms} / p99 ${readResult.firstPage.p99Ms} ms; page ${options.deepPages + 1} p50 ${readResult.deepPage.p50Ms} / p99 ${readResult.deepPage.p99Ms} ms`,
    );
    await sleep(3_000);
    const rssEnd = serviceRss();

    // Idle RSS: warmed up, then idle for 10 s (during the baseline phase). The reading 3 s
    // after the last load (rssEnd) and the peak (VmHWM) go to the results file: V8 gives the post-load
    // heap back only after ~30 s idle, so that reading is not an idle figure.
    const rssMb = (rssIdle ?? rssBoot).rssMb;
    const summary: Summary = {
      runsPerSec: e2e ? round(e2e.runsPerSec, 2) : Number.NaN,
      baselineWfPerSec: baseline ? round(baseline.wfPerSec, 2) : Number.NaN,
      ratio: e2e && baseline ? round(e2e.runsPerSec / baseline.wfPerSec, 3) : Number.NaN,
      idleStartP50Ms: idle?.p50Ms ?? Number.NaN,
      idleStartP99Ms: idle?.p99Ms ?? Number.NaN,
      bareDirectWfPerSec: baseline?.bestDirect ? round(baseline.bestDirect.wfPerSec, 2) : Number.NaN,
      directRatio: e2e && baseline?.bestDirect ? round(e2e.runsPerSec / baseline.bestDirect.wfPerSec, 3) : Number.NaN,
      startP50Ms: e2e?.startP50Ms ?? Number.NaN,
      startP99Ms: e2e?.startP99Ms ?? Number.NaN,
      listP50Ms: Math.max(readResult.firstPage.p50Ms, readResult.deepPage.p50Ms),
      listP99Ms: Math.max(readResult.firstPage.p99Ms, readResult.deepPage.p99Ms),
      storedWorkflows: readResult.storedWorkflows,
      commitsPerRun: cost?.commitsPerRun ?? Number.NaN,
      rssMb: round(rssMb, 0),
    };
    const best = baseline?.bestDirect;
    const cpuRatios =
      e2e && best
        ? {
            service: round(e2e.serviceCpuMsPerRun / best.cpuMsPerWorkflow, 2),
            postgres:
              e2e.postgresCpuMsPerRun !== null && best.postgresCpuMsPerWorkflow
                ? round(e2e.postgresCpuMsPerRun / best.postgresCpuMsPerWorkflow, 2)
                : Number.NaN,
          }
        : undefined;
    const targets = targetsFor(summary, options.quick, cost?.writeTransactionsReliable ? cost.writeTransactionsPerRun : undefined, cpuRatios);
    const results = {
      summary,
      targets: targets.map((t) => ({ ...t, met: Number.isFinite(t.value) ? meets(t) : null })),
      mode: options.quick ? 'quick' : 'full',
      options,
      // Service variables this run set (A/B switches); empty: the service ran on its defaults.
      serviceEnv: abSwitches(),
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      revision: revision(root),
      machine: {
        node: process.version,
        cpus: cpus().length,
        postgres: serverVersion,
        embedded: pgServer.embedded,
        loadavgAtStart: loadAtStart.map((l) => round(l, 2)),
        loadavgAtEnd: loadavg().map((l) => round(l, 2)),
        busyShareDuringE2e: busyE2e,
        busyShareDuringReads: busyReads,
      },
      baseline,
      idleStart: idle,
      cpuRatios,
      endToEnd: e2e,
      cost,
      rss: { boot: rssBoot, idleAfterWarmup: rssIdle, idleAtEnd: rssEnd, idleCpuPercent },
      reads: readResult,
      serviceLog: logFile,
    };
    const svg = svgChart(
      summary,
      targets,
      `Durable Ops benchmark (${options.quick ? 'quick' : 'full'}) — ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      `${results.machine.cpus} CPUs, Node ${process.version}, Postgres ${serverVersion}${pgServer.embedded ? ' (embedded)' : ''}; ${options.runs} runs per side over ${options.connections} connections`,
    );
    const files = writeResults(root, stamp, results, svg);
    progress(`wrote ${files.json} and ${files.svg} (and bench/results/latest.svg)`);
    for (const t of targets.filter((x) => Number.isFinite(x.value)))
      progress(`${meets(t) ? 'PASS' : 'MISS'} ${t.label}: ${t.value} ${t.unit} (target ${t.kind === 'min' ? '≥' : '≤'} ${t.target})`);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    progress(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
