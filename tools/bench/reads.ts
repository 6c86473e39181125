import http from 'node:http';
import type pg from 'pg';
import { percentile, progress, round } from './harness.js';

/**
 * The control-plane read phase: seed a realistic history into dbos.workflow_status (one INSERT …
 * SELECT generate_series), then time GET /api/ops/wf — the first page and a deep keyset page — and
 * EXPLAIN ANALYZE the queries the endpoint issues, so the figures come with their plans.
 */

/** Queue for seeded ENQUEUED/PENDING rows: never registered, so no process ever dequeues them. */
export const SEED_QUEUE = 'bench-seed';

/**
 * Seeds `count` finished-looking workflows spread over the last 30 days: 85 % IntentWorkflow (on the
 * intents queue), 10 % OpsTickWorkflow, 5 % OpsActionWorkflow; 88 % SUCCESS, 6 % ERROR, 3 %
 * CANCELLED, 1 % MAX_RECOVERY_ATTEMPTS_EXCEEDED, 1 % ENQUEUED and 1 % PENDING (those two on an
 * unregistered queue and a foreign executor, so the service neither dequeues nor recovers them).
 */
export async function seedWorkflows(client: pg.Client, count: number): Promise<number> {
  const started = Date.now();
  await client.query('SELECT setseed(0.42)');
  await client.query(
    `INSERT INTO dbos.workflow_status (
       workflow_uuid, status, name, queue_name, executor_id, application_version, application_name,
       created_at, updated_at, started_at_epoch_ms, completed_at, recovery_attempts, priority,
       was_forked_from, rate_limited, is_debounced, serialization)
     SELECT
       CASE WHEN x.k < 85 THEN 'run_' ELSE 'seed_' END || lpad(to_hex(x.c), 12, '0') || substr(md5(x.g::text), 1, 20),
       x.status,
       CASE WHEN x.k < 85 THEN 'IntentWorkflow' WHEN x.k < 95 THEN 'OpsTickWorkflow' ELSE 'OpsActionWorkflow' END,
       CASE WHEN x.status IN ('ENQUEUED', 'PENDING') THEN '${SEED_QUEUE}' WHEN x.k < 85 THEN 'intents' ELSE NULL END,
       'bench-seed',
       CASE WHEN x.k % 3 = 0 THEN '0.0.9' ELSE '0.1.0' END,
       'durable-ops',
       x.c,
       x.c + x.d,
       CASE WHEN x.status = 'ENQUEUED' THEN NULL ELSE x.c + 5 END,
       CASE WHEN x.status IN ('SUCCESS', 'ERROR', 'CANCELLED') THEN x.c + x.d ELSE NULL END,
       CASE WHEN x.status = 'MAX_RECOVERY_ATTEMPTS_EXCEEDED' THEN 101 ELSE 0 END,
       0, false, false, false, 'js_superjson'
     FROM (
       SELECT g,
              (abs(hashint4(g)) % 100) AS k,
              CASE
                WHEN s < 880 THEN 'SUCCESS' WHEN s < 940 THEN 'ERROR' WHEN s < 970 THEN 'CANCELLED'
                WHEN s < 980 THEN 'MAX_RECOVERY_ATTEMPTS_EXCEEDED' WHEN s < 990 THEN 'ENQUEUED' ELSE 'PENDING'
              END AS status,
              ((extract(epoch FROM now()) * 1000)::bigint - 60000 - (random() * 30 * 86400000)::bigint) AS c,
              (random() * 60000)::bigint AS d
         FROM (SELECT g, abs(hashint4(g * 7 + 1)) % 1000 AS s FROM generate_series(1, $1::int) AS g) AS gs
     ) AS x`,
    [count],
  );
  const inserted = Date.now();
  progress(`reads: seeded ${count.toLocaleString('en-US')} workflows in ${((inserted - started) / 1000).toFixed(1)} s; VACUUM ANALYZE…`);
  // A table that grew one run at a time has been vacuumed along the way; one bulk-loaded in a
  // single statement has not, and autovacuum would pick it up in the middle of the timed reads.
  await client.query('VACUUM (ANALYZE) dbos.workflow_status');
  return (Date.now() - started) / 1000;
}

const SUMMARY = `"workflow_uuid", "status", "name", "queue_name", "application_version", "executor_id", "created_at", "updated_at", "recovery_attempts", "forked_from"`;

export interface ExplainedQuery {
  readonly label: string;
  readonly sql: string;
  readonly executionMs: number;
  readonly planningMs: number;
  /** The plan, one node a line: type, relation/index, rows, loops. */
  readonly plan: string[];
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Sort Method'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

function flatten(node: PlanNode, depth = 0, out: string[] = []): string[] {
  const parts = [`${'  '.repeat(depth)}${node['Node Type']}`];
  if (node['Index Name']) parts.push(`using ${node['Index Name']}`);
  else if (node['Relation Name']) parts.push(`on ${node['Relation Name']}`);
  parts.push(`rows=${node['Actual Rows']} loops=${node['Actual Loops']}`);
  if (node['Rows Removed by Filter']) parts.push(`removed=${node['Rows Removed by Filter']}`);
  if (node['Sort Method']) parts.push(`sort=${node['Sort Method']}`);
  parts.push(`buffers hit=${node['Shared Hit Blocks'] ?? 0} read=${node['Shared Read Blocks'] ?? 0}`);
  out.push(parts.join(' '));
  for (const child of node.Plans ?? []) flatten(child, depth + 1, out);
  return out;
}

/** The SQL GET /api/ops/wf runs (OpsRepository.listWorkflows, as Kysely renders it), for EXPLAIN. */
export function listSql(filter: { where?: string[]; after?: boolean }, limit = 51): string {
  const where = [...(filter.where ?? [])];
  if (filter.after) where.push(`("created_at", "workflow_uuid") < ($1::bigint, $2)`);
  return `select ${SUMMARY} from "dbos"."workflow_status"${where.length ? ` where ${where.join(' and ')}` : ''} order by "created_at" desc, "workflow_uuid" desc limit ${limit}`;
}

export async function explain(client: pg.Client, label: string, sql: string, params: unknown[] = []): Promise<ExplainedQuery> {
  const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number; 'Planning Time': number }] }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`,
    params,
  );
  const top = rows[0]!['QUERY PLAN'][0];
  return { label, sql, executionMs: round(top['Execution Time'], 3), planningMs: round(top['Planning Time'], 3), plan: flatten(top.Plan) };
}

export interface Timing {
  readonly label: string;
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** One keep-alive connection, reused for every timed GET: what is timed is the service, not a TCP handshake. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
      response.once('error', reject);
    });
    request.once('error', reject);
  });
}

/**
 * Sequential GETs over one keep-alive connection with node:http (a lighter client than fetch, whose
 * own per-request cost would otherwise be part of every sample); each sample is request sent →
 * last body byte received.
 */
export async function timeGets(label: string, url: string, headers: Record<string, string>, requests: number, warmup = 10): Promise<Timing> {
  const samples: number[] = [];
  for (let i = 0; i < warmup + requests; i++) {
    const t = performance.now();
    const status = await get(url, headers);
    const ms = performance.now() - t;
    if (status !== 200) throw new Error(`${label}: GET ${url} answered ${status}`);
    if (i >= warmup) samples.push(ms);
  }
  return { label, requests, p50Ms: round(percentile(samples, 50), 2), p99Ms: round(percentile(samples, 99), 2), maxMs: round(Math.max(...samples), 2) };
}
