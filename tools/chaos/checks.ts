import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from '#common';
import { sleep, throwawayPool } from '../harness/index.js';
import type { EffectServer } from './effect-server.js';

export const PIPELINE = ['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST'] as const;

/** A run the harness expects to have finished SUCCESS with every effect made exactly once. */
export interface ExpectedRun {
  readonly runId: string;
  /** A fork reuses its first steps (phase reused) instead of completing them. */
  readonly forked?: boolean;
}

export interface PlannedKey {
  readonly runId: string;
  readonly taskKey: string;
  readonly connector: string;
}

export interface OracleResult {
  /** False when dist/apps/ops-cli/src/main.js does not exist (npm run build first). */
  readonly available: boolean;
  readonly exitCode: number | null;
  readonly output: string;
}

/** The built SQL oracle, `ops verify`: exit 0 clean, 1 violations, 2 cannot judge. */
export function oracleEntry(): string {
  return join(projectRoot(), 'dist', 'apps', 'ops-cli', 'src', 'main.js');
}

export async function runOracle(databaseUrl: string): Promise<OracleResult> {
  const entry = oracleEntry();
  if (!existsSync(entry)) return { available: false, exitCode: null, output: `${entry} does not exist` };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry, 'verify'], {
      cwd: projectRoot(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => resolve({ available: true, exitCode: code, output: output.trim() }));
  });
}

/**
 * The oracle's verdict as violations: empty only when `ops verify` ran and found every invariant
 * holding. Not built, killed, unable to judge (exit 2) or a violation (exit 1): each is a failure,
 * never a skip, so a run that claims the oracle cannot pass without it.
 */
export function oracleViolations(result: OracleResult): string[] {
  if (!result.available) return [`the oracle (ops verify) could not run: ${result.output}`];
  if (result.exitCode !== 0) return [`ops verify exited ${result.exitCode}:\n${result.output}`];
  if (!/all \d+ invariants hold/.test(result.output)) return [`ops verify exited 0 without its verdict line:\n${result.output}`];
  return [];
}

/**
 * The harness's own SQL proofs over one round's database, independent of the oracle (they hold
 * even before `ops verify` exists): each returns a list of violations, empty when the claim holds.
 */
export class Proofs {
  readonly pool: pg.Pool;

  constructor(databaseUrl: string) {
    this.pool = throwawayPool(databaseUrl, 3, 'durable-ops-chaos-proofs');
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  async rows<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  /** DBOS status of each workflow (absent ones are missing from the map). */
  async dbosStatuses(ids: readonly string[]): Promise<Map<string, string>> {
    const rows = await this.rows<{ workflow_uuid: string; status: string }>(
      'SELECT workflow_uuid, status FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.workflow_uuid, r.status]));
  }

  /** Every run is SUCCESS in DBOS and succeeded (next action NONE) in app.runs. */
  async runsSucceeded(runs: readonly ExpectedRun[]): Promise<string[]> {
    const ids = runs.map((r) => r.runId);
    const rows = await this.rows<{ id: string; app_status: string | null; next_action: string | null; dbos_status: string | null }>(
      `SELECT ids.id, r.status AS app_status, r.next_action, ws.status AS dbos_status
         FROM unnest($1::text[]) AS ids(id)
         LEFT JOIN app.runs AS r ON r.id = ids.id
         LEFT JOIN dbos.workflow_status AS ws ON ws.workflow_uuid = ids.id`,
      [ids],
    );
    return rows
      .filter((r) => r.dbos_status !== 'SUCCESS' || r.app_status !== 'succeeded' || r.next_action !== 'NONE')
      .map(
        (r) => `run ${r.id}: DBOS ${r.dbos_status ?? 'missing'}, app.runs ${r.app_status ?? 'missing'}/${r.next_action ?? '-'} (want SUCCESS, succeeded/NONE)`,
      );
  }

  /**
   * Exactly one mark per pipeline step: `completed` for a run, `completed` or `reused` for a fork
   * (a fork at stepN=4 reuses steps 1–3 and completes ExecuteST). No step twice, none missing.
   */
  async marks(runs: readonly ExpectedRun[]): Promise<string[]> {
    const rows = await this.rows<{ run_id: string; step_id: string; phase: string; n: string }>(
      `SELECT run_id, step_id, phase, count(*) AS n FROM app.run_steps WHERE run_id = ANY($1::text[]) AND phase IN ('completed', 'reused') GROUP BY 1, 2, 3`,
      [runs.map((r) => r.runId)],
    );
    const violations: string[] = [];
    for (const run of runs) {
      const mine = rows.filter((r) => r.run_id === run.runId);
      for (const step of PIPELINE) {
        const completed = Number(mine.find((r) => r.step_id === step && r.phase === 'completed')?.n ?? 0);
        const reused = Number(mine.find((r) => r.step_id === step && r.phase === 'reused')?.n ?? 0);
        if (completed + reused !== 1 || (!run.forked && reused !== 0)) {
          violations.push(
            `run ${run.runId}: ${step} has ${completed} completed and ${reused} reused marks (want exactly one${run.forked ? '' : ' completed'})`,
          );
        }
      }
      const completedTotal = mine.filter((r) => r.phase === 'completed').reduce((n, r) => n + Number(r.n), 0);
      if (!run.forked && completedTotal !== PIPELINE.length) violations.push(`run ${run.runId}: ${completedTotal} completed marks (want ${PIPELINE.length})`);
      const stray = mine.filter((r) => !(PIPELINE as readonly string[]).includes(r.step_id));
      for (const s of stray) violations.push(`run ${run.runId}: unexpected ${s.phase} mark for step ${s.step_id}`);
    }
    return violations;
  }

  /**
   * One artifact per step output: a run has exactly one plan_card, patch_card, decision and
   * execution_report (a fork copies none of the first three: its steps were reused); the table has
   * no duplicate (run, step, idx, action) anywhere.
   */
  async artifacts(runs: readonly ExpectedRun[]): Promise<string[]> {
    const violations: string[] = [];
    const duplicates = await this.rows<{ run_id: string; step_id: string; idx: number; action_id: string | null; n: string }>(
      `SELECT run_id, step_id, idx, action_id, count(*) AS n FROM app.artifacts GROUP BY 1, 2, 3, 4 HAVING count(*) > 1`,
    );
    for (const d of duplicates) violations.push(`artifact (${d.run_id}, ${d.step_id}, ${d.idx}, ${d.action_id ?? 'null'}) exists ${d.n} times`);
    const kinds = await this.rows<{ run_id: string; kind: string; n: string }>(
      `SELECT run_id, kind, count(*) AS n FROM app.artifacts WHERE run_id = ANY($1::text[]) AND step_id <> 'OPS' GROUP BY 1, 2`,
      [runs.map((r) => r.runId)],
    );
    for (const run of runs) {
      const want = run.forked ? ['execution_report'] : ['plan_card', 'patch_card', 'decision', 'execution_report'];
      const mine = kinds.filter((k) => k.run_id === run.runId);
      for (const kind of want) {
        const n = Number(mine.find((k) => k.kind === kind)?.n ?? 0);
        if (n !== 1) violations.push(`run ${run.runId}: ${n} ${kind} artifacts (want 1)`);
      }
      for (const k of mine.filter((k) => !want.includes(k.kind))) violations.push(`run ${run.runId}: unexpected ${k.n} ${k.kind} artifact(s)`);
    }
    return violations;
  }

  /** The task keys the runs planned (from their own plan_card, or the forked-from run's for a fork). */
  async plannedKeys(runIds: readonly string[]): Promise<PlannedKey[]> {
    return this.rows<PlannedKey>(
      `SELECT r.id AS "runId", t ->> 'taskKey' AS "taskKey", t ->> 'connector' AS connector
         FROM app.runs AS r
         JOIN app.artifacts AS a ON a.run_id = coalesce(r.forked_from, r.id) AND a.step_id = 'CompileST' AND a.kind = 'plan_card' AND a.action_id IS NULL
         CROSS JOIN LATERAL jsonb_array_elements(a.inline -> 'tasks') AS t
        WHERE r.id = ANY($1::text[])
        ORDER BY r.id, (t ->> 'index')::int`,
      [runIds],
    );
  }

  /**
   * Exactly once, from both sides: every planned key has exactly one receipt and it succeeded;
   * the effect server received it at least once and answered it 2xx at least once, always with the
   * same body; each run's execution_report lists every planned task as succeeded; and the server saw
   * no key that no run planned.
   */
  async effects(runs: readonly ExpectedRun[], server: EffectServer, options: { allKeysKnown: boolean; knownRunIds?: readonly string[] }): Promise<string[]> {
    const violations: string[] = [];
    const planned = await this.plannedKeys(runs.map((r) => r.runId));
    const keys = [...new Set(planned.map((p) => p.taskKey))];
    const receipts = await this.rows<{ task_key: string; status: string; n: string }>(
      `SELECT task_key, min(status) AS status, count(*) AS n FROM app.task_receipts WHERE task_key = ANY($1::text[]) GROUP BY 1`,
      [keys],
    );
    for (const key of keys) {
      const receipt = receipts.find((r) => r.task_key === key);
      if (!receipt) violations.push(`task ${key}: no receipt`);
      else if (Number(receipt.n) !== 1 || receipt.status !== 'succeeded')
        violations.push(`task ${key}: ${receipt.n} receipt(s), status ${receipt.status} (want one, succeeded)`);
      const seen = server.keys.get(key);
      if (!seen) violations.push(`task ${key}: its effect never reached the server`);
      else {
        if (seen.succeeded < 1) violations.push(`task ${key}: the server received it ${seen.requests} time(s) but never answered it 2xx`);
        if (seen.bodyMismatch) violations.push(`task ${key}: the same Idempotency-Key carried different requests`);
      }
    }
    const reports = await this.rows<{ run_id: string; task_key: string | null; status: string | null }>(
      `SELECT a.run_id, t ->> 'taskKey' AS task_key, t ->> 'status' AS status
         FROM app.artifacts AS a CROSS JOIN LATERAL jsonb_array_elements(a.inline -> 'tasks') AS t
        WHERE a.run_id = ANY($1::text[]) AND a.kind = 'execution_report' AND a.action_id IS NULL`,
      [runs.map((r) => r.runId)],
    );
    for (const p of planned) {
      const reported = reports.find((r) => r.run_id === p.runId && r.task_key === p.taskKey);
      if (reported?.status !== 'succeeded')
        violations.push(`run ${p.runId}: its execution_report does not list task ${p.taskKey} as succeeded (${reported?.status ?? 'absent'})`);
    }
    if (options.allKeysKnown) {
      const known = new Set((await this.plannedKeys(options.knownRunIds ?? runs.map((r) => r.runId))).map((p) => p.taskKey));
      for (const key of server.keys.keys()) if (!known.has(key)) violations.push(`the server received key ${key}, which no run planned`);
    }
    for (const anomaly of server.anomalies) violations.push(`the server received a malformed effect request: ${anomaly}`);
    return violations;
  }

  /**
   * Effects counted at the server, never from a table: each planned key of each run was made exactly
   * once, except that after a crash a run may re-send the one task it had in flight (see
   * EffectServer.effectBudget). Forks are left out: they must re-send nothing, checked separately.
   */
  async effectCounts(runs: readonly ExpectedRun[], server: EffectServer): Promise<{ violations: string[]; resent: number }> {
    const planned = await this.plannedKeys(runs.filter((r) => !r.forked).map((r) => r.runId));
    const keysOfRun = new Map<string, string[]>();
    for (const p of planned) keysOfRun.set(p.runId, [...(keysOfRun.get(p.runId) ?? []), p.taskKey]);
    const missing = runs.filter((r) => !r.forked && !keysOfRun.has(r.runId)).map((r) => `run ${r.runId}: no planned keys to count`);
    const budget = server.effectBudget(keysOfRun);
    return { violations: [...missing, ...budget.violations], resent: budget.resent };
  }

  /** No workflow ended in ERROR or MAX_RECOVERY_ATTEMPTS_EXCEEDED. */
  async noFailedWorkflows(): Promise<string[]> {
    const rows = await this.rows<{ workflow_uuid: string; name: string; status: string; error: string | null; executor_id: string | null }>(
      `SELECT ws.workflow_uuid, ws.name, ws.status, ws.executor_id, left(coalesce(wo.error, ws.error), 400) AS error
         FROM dbos.workflow_status AS ws LEFT JOIN dbos.workflow_output AS wo ON wo.workflow_uuid = ws.workflow_uuid
        WHERE ws.status IN ('ERROR', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')`,
    );
    return rows.map((r) => `${r.name} ${r.workflow_uuid} is ${r.status} (executor ${r.executor_id ?? '-'}): ${r.error ?? '(no error recorded)'}`);
  }

  /**
   * Waits (bounded) until every workflow is SUCCESS. Fails at once, with DBOS's recorded error, when
   * one ends ERROR, CANCELLED or MAX_RECOVERY_ATTEMPTS_EXCEEDED; on timeout, names those not done.
   */
  async awaitSuccess(what: string, ids: readonly string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const statuses = await this.dbosStatuses(ids);
      const bad = ids.filter((id) => ['ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'].includes(statuses.get(id) ?? ''));
      if (bad.length > 0) {
        const rows = await this.rows<{ workflow_uuid: string; status: string; executor_id: string | null; error: string | null }>(
          `SELECT ws.workflow_uuid, ws.status, ws.executor_id, left(coalesce(wo.error, ws.error), 400) AS error
             FROM dbos.workflow_status AS ws LEFT JOIN dbos.workflow_output AS wo ON wo.workflow_uuid = ws.workflow_uuid
            WHERE ws.workflow_uuid = ANY($1::text[])`,
          [bad],
        );
        throw new Error(
          `${what}: ${rows.map((r) => `${r.workflow_uuid} ended ${r.status} on ${r.executor_id ?? '-'}: ${r.error ?? '(no error recorded)'}`).join('; ')}`,
        );
      }
      if (ids.every((id) => statuses.get(id) === 'SUCCESS')) return;
      if (Date.now() > deadline) {
        const pending = ids.filter((id) => statuses.get(id) !== 'SUCCESS').map((id) => `${id}=${statuses.get(id) ?? 'missing'}`);
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; not SUCCESS: ${pending.join(', ')}`);
      }
      await sleep(150);
    }
  }

  /** Workflows still PENDING or ENQUEUED (or DELAYED), by name. */
  async unfinished(names: readonly string[]): Promise<{ workflow_uuid: string; name: string; status: string }[]> {
    return this.rows(
      `SELECT workflow_uuid, name, status FROM dbos.workflow_status WHERE name = ANY($1::text[]) AND status IN ('PENDING', 'ENQUEUED', 'DELAYED')`,
      [names],
    );
  }
}
