import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';

/**
 * Shared pieces of the benchmark harness (tools/bench): progress on stderr, waits, phase
 * deadlines, child processes that die with the harness, percentiles, and small Postgres helpers.
 * None of this is application code; it lives under apps/ only so that `npm run build` compiles it.
 */

/** The harness kit's wall-clock waits (polling intervals, measurement windows). */
export { sleep, until, withDatabase } from '../harness/index.js';

/** Children get the parent's start (BENCH_T0), so every progress line counts from the same instant. */
const started = Number(process.env.BENCH_T0) || Date.now();
process.env.BENCH_T0 = String(started);

/** The machine's busy CPU share since `from` (all processes, from /proc/stat), 0..1. */
export function machineBusy(from?: { busy: number; total: number }): { busy: number; total: number; share: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  const busy = total - idle;
  const share = from ? (busy - from.busy) / Math.max(1, total - from.total) : Number.NaN;
  return { busy, total, share };
}

/** A progress line on stderr (stdout is reserved for the final JSON line). */
export function progress(message: string): void {
  process.stderr.write(`[bench +${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${message}\n`);
}

export class PhaseTimeout extends Error {
  override readonly name = 'PhaseTimeout';
}

/** Runs `work`, failing with PhaseTimeout when it takes longer than `ms`. */
export async function bounded<T>(phase: string, ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PhaseTimeout(`phase "${phase}" took longer than ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Nearest-rank percentile of a sample (ms). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

const children = new Set<ChildProcess>();

/** Spawns a child that is killed (SIGKILL) if the harness exits before it. */
export function spawnChild(command: string, args: readonly string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  const child = spawn(command, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Resident set size of a process in MB from /proc: current (VmRSS) and peak (VmHWM). */
export function rssOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat (clock ticks of 10 ms). */
export function cpuMsOf(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** /proc/<pid>/stat's fields after the command name (field 3 of proc(5) is index 0). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * The Postgres server's process ID (the parent of this connection's backend), when the server runs
 * on this machine and its processes are readable; undefined otherwise (a remote server).
 */
export async function postmasterPid(client: pg.Client): Promise<number | undefined> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  try {
    const status = readFileSync(`/proc/${rows[0]!.pid}/status`, 'utf8');
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
    return Number.isInteger(ppid) && ppid > 1 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) the whole Postgres server has used so far: the postmaster, its live children (the
 * backends, the WAL writer, the checkpointer…) and the children that already exited (cutime/cstime).
 * Server-wide: a reading includes every database's work, so take deltas over quiet neighbours.
 */
export function postgresCpuMs(postmaster: number): number {
  const fields = statFields(postmaster);
  let ms = (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 10;
  const children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  for (const child of children) {
    try {
      ms += cpuMsOf(Number(child));
    } catch {
      // exited since the listing: its time is in the postmaster's cutime/cstime from now on
    }
  }
  return ms;
}

/**
 * How long to leave a database quiet before a pg_stat_database reading that must include all the
 * work before it: a backend that flushed its counters less than 1 s before going idle publishes the
 * rest only PGSTAT_IDLE_INTERVAL (10 s) later.
 */
export const STATS_SETTLE_MS = 11_000;

/** One short-lived connection: runs `work` and closes. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'durable-ops-bench' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Committed transactions of one database so far (pg_stat_database.xact_commit). Read it from a
 * connection to ANOTHER database (the admin one), so the reading itself is not counted. Backends
 * publish their counters late (see STATS_SETTLE_MS), so leave a database quiet that long before a
 * reading that must include everything before it.
 */
export async function xactCommit(admin: pg.Client, database: string): Promise<number> {
  const { rows } = await admin.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [database]);
  return Number(rows[0]?.n ?? Number.NaN);
}

/** The workflows among `ids` in each outcome, and when the last success completed (epoch ms, DB clock). */
export async function completion(
  client: pg.Client | pg.Pool,
  ids: readonly string[],
): Promise<{ succeeded: number; failed: number; lastCompletedMs: number | null }> {
  const { rows } = await client.query<{ succeeded: string; failed: string; last: string | null }>(
    `SELECT count(*) FILTER (WHERE status = 'SUCCESS')::text AS succeeded,
            count(*) FILTER (WHERE status IN ('ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'))::text AS failed,
            max(COALESCE(completed_at, updated_at)) FILTER (WHERE status = 'SUCCESS')::text AS last
       FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[])`,
    [ids],
  );
  const row = rows[0]!;
  return { succeeded: Number(row.succeeded), failed: Number(row.failed), lastCompletedMs: row.last === null ? null : Number(row.last) };
}
