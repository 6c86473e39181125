import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { DEFAULT_QUEUE, QUEUES } from '#dbos';
import { completion, postgresCpuMs, progress, sleep, STATS_SETTLE_MS, until, withDatabase } from './harness.js';

/**
 * The baseline: bare DBOS, no HTTP, no Nest, no app tables. A workflow with the pipeline's four
 * steps (doing no work), run two ways:
 * - queued: N of them enqueued on a queue registered with exactly the service's default `intents`
 *   queue options (same worker concurrency and polling), by as many concurrent callers as the
 *   end-to-end phase has HTTP connections; also commits/workflow;
 * - direct (the ceiling): N of them started with DBOS.startWorkflow and no queue, at several
 *   concurrencies; the best is the figure the service is compared with.
 *
 * Run by bench/main.ts as a separate process (DBOS is a process-wide singleton), on its own database:
 *   BENCH_BASELINE='{"url":"postgres://…","count":200,"concurrency":8,"warmup":16,"timeoutMs":60000}' node dist-tools/tools/bench/baseline.js
 * The last stdout line is the JSON result.
 */

interface BaselineParams {
  readonly url: string;
  readonly count: number;
  readonly concurrency: number;
  readonly warmup: number;
  readonly timeoutMs: number;
  /** Experiment only: the queue's polling interval (default: the service's queue options as they are). */
  readonly pollMs?: number;
  /** Also measure commits per workflow (adds two quiet periods of ~11 s). */
  readonly measureCommits?: boolean;
  /** The local Postgres server's process, to measure its CPU per workflow (none: not measured). */
  readonly postmaster?: number;
  /** Direct starts (DBOS.startWorkflow, no queue): one batch of `count` per concurrency, in this order. */
  readonly directConcurrencies?: readonly number[];
}

/** Bare DBOS starting workflows directly, at one concurrency (workflows in flight at once). */
export interface DirectResult {
  readonly concurrency: number;
  readonly workflows: number;
  readonly seconds: number;
  readonly wfPerSec: number;
  readonly cpuMsPerWorkflow: number;
  readonly postgresCpuMsPerWorkflow: number | null;
}

export interface BaselineResult {
  readonly workflows: number;
  readonly failed: number;
  readonly seconds: number;
  readonly wfPerSec: number;
  readonly enqueueSeconds: number;
  /** CPU of this process (enqueueing, dispatching, running, its own polls) per workflow. */
  readonly cpuMsPerWorkflow: number;
  /** CPU of the whole Postgres server per workflow over the same window (null: server not local). */
  readonly postgresCpuMsPerWorkflow: number | null;
  readonly commitsPerWorkflow: number | null;
  readonly commitsPerWorkflowRaw: number | null;
  readonly idleCommitsPerSec: number | null;
  readonly queue: string;
  readonly queueOptions: unknown;
  /** Direct start at each concurrency tried, and the best of them (the throughput ceiling). */
  readonly direct: readonly DirectResult[];
  readonly bestDirect: DirectResult | null;
}

const STEP_NAMES = ['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST'] as const;

interface BaselineInput {
  readonly intentId: string;
  readonly lineageRoot: string;
}

const baselineWorkflow = DBOS.registerWorkflow(
  async (input: BaselineInput) => {
    let done = 0;
    for (const name of STEP_NAMES) done = await DBOS.runStep(() => Promise.resolve(done + 1), { name });
    return { tasks: [{ taskKey: input.lineageRoot, status: 'succeeded', steps: done }] };
  },
  { name: 'BaselineWorkflow' },
);

async function commitsOf(admin: pg.Client, database: string): Promise<number> {
  const { rows } = await admin.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [database]);
  return Number(rows[0]?.n);
}

async function runBatch(prefix: string, count: number, concurrency: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}_${String(i).padStart(6, '0')}`);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        await DBOS.startWorkflow(baselineWorkflow, { workflowID: id, queueName: DEFAULT_QUEUE })({ intentId: 'it_baseline', lineageRoot: id });
      }
    }),
  );
  return ids;
}

/**
 * `count` workflows started directly (no queue) by `concurrency` callers, each starting its next
 * workflow when its previous one has finished: `concurrency` in flight at once.
 * workflows/s = workflows ÷ (first start → last completion).
 */
async function runDirect(prefix: string, count: number, concurrency: number, postmaster: number | undefined): Promise<DirectResult> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}_${String(i).padStart(6, '0')}`);
  let next = 0;
  const cpu0 = process.cpuUsage();
  const pgCpu0 = postmaster ? postgresCpuMs(postmaster) : undefined;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const handle = await DBOS.startWorkflow(baselineWorkflow, { workflowID: id })({ intentId: 'it_baseline', lineageRoot: id });
        await handle.getResult();
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const pgCpuMs = postmaster && pgCpu0 !== undefined ? postgresCpuMs(postmaster) - pgCpu0 : undefined;
  return {
    concurrency,
    workflows: count,
    seconds,
    wfPerSec: count / seconds,
    cpuMsPerWorkflow: (cpu.user + cpu.system) / 1000 / count,
    postgresCpuMsPerWorkflow: pgCpuMs === undefined ? null : pgCpuMs / count,
  };
}

async function main(): Promise<void> {
  const params = JSON.parse(process.env.BENCH_BASELINE ?? '{}') as BaselineParams;
  const database = new URL(params.url).pathname.slice(1);
  DBOS.setConfig({ name: 'bench-baseline', systemDatabaseUrl: params.url, applicationVersion: 'bench', runAdminServer: false, logLevel: 'warn' });
  await DBOS.launch();
  const queueOptions = params.pollMs ? { ...QUEUES[DEFAULT_QUEUE], minPollingIntervalMs: params.pollMs } : QUEUES[DEFAULT_QUEUE];
  await DBOS.registerQueue(DEFAULT_QUEUE, queueOptions);
  const poller = new pg.Client({ connectionString: params.url, application_name: 'durable-ops-bench' });
  const admin = new pg.Client({ connectionString: withDatabase(params.url, 'postgres'), application_name: 'durable-ops-bench' });
  await poller.connect();
  await admin.connect();
  const deadline = Date.now() + params.timeoutMs;
  try {
    // Warm-up: connections, JIT, the queue's first polls.
    const warm = await runBatch('base_warm', params.warmup, params.concurrency);
    await until('baseline warm-up', async () => ((await completion(poller, warm)).succeeded === warm.length ? true : undefined), deadline - Date.now(), 100);

    // Commits per workflow (optional: it needs two quiet periods): xact_commit over the batch, less the
    // idle rate (queue polling commits even when nothing runs) and the harness's own polls.
    let idleCommitsPerSec: number | null = null;
    let before: { n: number; at: number } | undefined;
    if (params.measureCommits) {
      await sleep(STATS_SETTLE_MS);
      const idle0 = { n: await commitsOf(admin, database), at: Date.now() };
      await sleep(5_000);
      before = { n: await commitsOf(admin, database), at: Date.now() };
      idleCommitsPerSec = (before.n - idle0.n) / ((before.at - idle0.at) / 1000);
    }

    const cpu0 = process.cpuUsage();
    const pgCpu0 = params.postmaster ? postgresCpuMs(params.postmaster) : undefined;
    const t0 = Date.now();
    progress(`baseline: enqueueing ${params.count} workflows (${params.concurrency} concurrent callers)`);
    const ids = await runBatch('base', params.count, params.concurrency);
    const enqueueSeconds = (Date.now() - t0) / 1000;
    let polls = 0;
    let lastShown = 0;
    const done = await until(
      'baseline workflows to finish',
      async () => {
        polls++;
        const state = await completion(poller, ids);
        if (Date.now() - lastShown > 2500) {
          lastShown = Date.now();
          progress(`baseline: ${state.succeeded}/${ids.length} done`);
        }
        return state.succeeded + state.failed === ids.length ? state : undefined;
      },
      deadline - Date.now(),
      100,
    );
    const seconds = ((done.lastCompletedMs ?? Date.now()) - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const pgCpuMs = params.postmaster && pgCpu0 !== undefined ? postgresCpuMs(params.postmaster) - pgCpu0 : undefined;
    let commitsPerWorkflowRaw: number | null = null;
    let commitsPerWorkflow: number | null = null;
    if (before && idleCommitsPerSec !== null) {
      progress('baseline: letting the statistics settle');
      await sleep(STATS_SETTLE_MS);
      const after = { n: await commitsOf(admin, database), at: Date.now() };
      const raw = after.n - before.n - polls;
      commitsPerWorkflowRaw = raw / ids.length;
      commitsPerWorkflow = (raw - idleCommitsPerSec * ((after.at - before.at) / 1000)) / ids.length;
    }
    // Direct start, the ceiling: no queue, at each concurrency (after a warm-up of its own).
    const direct: DirectResult[] = [];
    if (params.directConcurrencies?.length) {
      await runDirect('direct_warm', params.warmup, params.directConcurrencies[0]!, undefined);
      for (const concurrency of params.directConcurrencies) {
        if (Date.now() > deadline) break;
        const r = await runDirect(`direct_c${concurrency}`, params.count, concurrency, params.postmaster);
        progress(`baseline: direct start, ${concurrency} in flight: ${r.wfPerSec.toFixed(1)} workflows/s`);
        direct.push(r);
      }
    }
    const bestDirect = direct.reduce<DirectResult | null>((best, r) => (best === null || r.wfPerSec > best.wfPerSec ? r : best), null);
    const result: BaselineResult = {
      workflows: done.succeeded,
      failed: done.failed,
      seconds,
      wfPerSec: done.succeeded / seconds,
      enqueueSeconds,
      cpuMsPerWorkflow: (cpu.user + cpu.system) / 1000 / Math.max(1, done.succeeded),
      postgresCpuMsPerWorkflow: pgCpuMs === undefined ? null : pgCpuMs / Math.max(1, done.succeeded),
      commitsPerWorkflowRaw,
      commitsPerWorkflow,
      idleCommitsPerSec,
      queue: DEFAULT_QUEUE,
      queueOptions,
      direct,
      bestDirect,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await poller.end().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await DBOS.shutdown();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`baseline failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
