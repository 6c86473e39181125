import pg from 'pg';
import {
  formatInvariantReport,
  loadInvariants,
  OracleSetupError,
  oracleDatabaseUrl,
  runInvariantCheck,
  verifyInvariants,
  type InvariantResult,
} from './invariants.js';
import { startTestApp, type TestApp } from '../../../../test/support/test-app.js';
import { waitFor } from '../../../../test/support/wait.js';
import { testPool } from '../../../../test/support/test-database.js';

const OPERATOR = 'operator-token-0123456789';
const VIEWER = 'viewer-token-0123456789ab';
const op = { authorization: `Bearer ${OPERATOR}` };
const viewer = { authorization: `Bearer ${VIEWER}` };

/** Invariant name → the ids it reports, for the violated ones only. */
function violated(results: InvariantResult[]): Record<string, string[]> {
  return Object.fromEntries(results.filter((r) => r.violations.length > 0).map((r) => [r.name, r.violations.map((v) => v.id)]));
}

describe('the SQL oracle (db/invariants) and the ops views', () => {
  let t: TestApp;
  let sql: pg.Pool;
  const runs = { succeeded: '', failed: '', canceled: '', resumed: '', broken: '', fork: '' };

  async function query<T extends pg.QueryResultRow = any>(text: string, values: unknown[] = []): Promise<pg.QueryResult<T>> {
    return sql.query<T>(text, values);
  }

  async function startRun(tasks: unknown[], constraints: Record<string, unknown> = {}): Promise<string> {
    const intent = await t.request('POST', '/api/intents', { goal: 'oracle test', inputs: { tasks }, constraints });
    const run = await t.request('POST', '/api/runs', { intentId: intent.body.intentId });
    expect(run.status).toBe(202);
    return run.body.runId as string;
  }

  async function settled(id: string, dbos: string, projection: string): Promise<void> {
    await waitFor(`${id} to be ${dbos} / ${projection}`, async () => {
      const [wf, run] = await Promise.all([t.request('GET', `/api/ops/wf/${id}`, undefined, viewer), t.request('GET', `/api/runs/${id}`)]);
      return wf.body?.status === dbos && run.body?.status === projection ? true : undefined;
    });
  }

  async function waiting(id: string): Promise<void> {
    await waitFor(`${id} to sleep`, async () => ((await t.request('GET', `/api/runs/${id}`)).body.status === 'waiting' ? true : undefined));
  }

  async function action(id: string, verb: 'cancel' | 'resume' | 'fork', extra: Record<string, unknown> = {}): Promise<any> {
    const res = await t.request('POST', `/api/ops/wf/${id}/${verb}`, { actor: 'oracle', reason: 'integration test', ...extra }, op);
    expect(res.status).toBe(202);
    return res.body;
  }

  beforeAll(async () => {
    // The scheduled tick would repair the projections these tests break on purpose: keep it away.
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR},victor:viewer:${VIEWER}`, OPS_TICK_SCHEDULE: '0 0 0 1 1 *' });
    sql = testPool(t.database.url, 2);

    runs.succeeded = await startRun([
      { connector: 'echo', args: { value: 'a' } },
      { connector: 'echo', args: { value: 'b' } },
    ]);
    runs.failed = await startRun([{ connector: 'fault', args: { mode: 'permanent' } }]);
    // Sleeps stay short: a cancelled workflow's abandoned DBOS sleep timer still runs out.
    runs.canceled = await startRun([{ connector: 'echo', args: { value: 'never' } }], { delayMs: 8000 });
    // Resuming keeps the sleep's checkpointed deadline, so this one wakes soon after its resume.
    runs.resumed = await startRun([{ connector: 'echo', args: { value: 'later' } }], { delayMs: 4000 });
    runs.broken = await startRun([
      { connector: 'echo', args: { value: 'once' } },
      { connector: 'fault', args: { mode: 'until-fixed', flag: 'oracle-drill' } },
    ]);

    await waiting(runs.canceled);
    await action(runs.canceled, 'cancel');
    await waiting(runs.resumed);
    await action(runs.resumed, 'cancel');
    await settled(runs.resumed, 'CANCELLED', 'canceled');
    // A delayed run waits DELAYED on the queue, not in an in-memory sleep: nothing of the cancelled wait is left to race the resume.
    await action(runs.resumed, 'resume');

    await settled(runs.broken, 'ERROR', 'failed');
    await t.db.insertInto('app.settings').values({ key: 'fault.oracle-drill', value: 'fixed' }).execute();
    runs.fork = (await action(runs.broken, 'fork', { stepN: 4 })).forkedWorkflowID;

    await settled(runs.succeeded, 'SUCCESS', 'succeeded');
    await settled(runs.failed, 'ERROR', 'failed');
    await settled(runs.canceled, 'CANCELLED', 'canceled');
    await settled(runs.resumed, 'SUCCESS', 'succeeded');
    await settled(runs.fork, 'SUCCESS', 'succeeded');
  });

  afterAll(async () => {
    await sql?.end();
    await t?.close();
  });

  it('finds one invariant per file, each with the description its header comment gives', () => {
    const invariants = loadInvariants();
    expect(invariants.length).toBeGreaterThanOrEqual(9);
    for (const invariant of invariants) {
      expect(invariant.name).toMatch(/^\d{2}_[a-z0-9_]+$/);
      expect(invariant.description).toMatch(/^[A-Z].*\.$/);
    }
  });

  it('a healthy database with succeeded, failed, cancelled, resumed and forked runs passes every invariant', async () => {
    const results = await verifyInvariants(t.database.url);
    expect(violated(results)).toEqual({});
    const report = formatInvariantReport(results);
    expect(report).not.toContain('✗');
    expect(report.split('\n')).toHaveLength(results.length + 1);
    expect(report).toContain(`all ${results.length} invariants hold`);

    // The fixture really covers what the oracle checks.
    const ops = await query<{ op: string }>("SELECT inline ->> 'op' AS op FROM app.artifacts WHERE step_id = 'OPS' ORDER BY id");
    expect(ops.rows.map((r) => r.op)).toEqual(['cancel', 'cancel', 'resume', 'fork']);
    const fork = await query('SELECT forked_from FROM dbos.workflow_status WHERE workflow_uuid = $1', [runs.fork]);
    expect(fork.rows[0].forked_from).toBe(runs.broken);

    const lines: string[] = [];
    expect(await runInvariantCheck({ appDatabaseUrl: t.database.url, systemDatabaseUrl: t.database.url }, (line) => lines.push(line))).toBe(0);
    expect(lines.join('\n')).toContain('all ');
  });

  it('v_ops_failures_24h lists a failed run with its error message', async () => {
    const res = await query('SELECT * FROM app.v_ops_failures_24h');
    expect(res.fields.map((f) => f.name)).toEqual([
      'workflow_uuid',
      'status',
      'workflow_name',
      'class_name',
      'application_version',
      'created_at',
      'updated_at',
      'error',
      'recovery_attempts',
    ]);
    const failed = res.rows.find((r) => r.workflow_uuid === runs.failed);
    expect(failed).toMatchObject({ status: 'ERROR', workflow_name: 'IntentWorkflow', error: 'fault: permanent failure (injected)' });
    expect(failed.created_at).toBeInstanceOf(Date);
    expect(failed.updated_at.getTime()).toBeGreaterThan(Date.now() - 10 * 60_000);
    expect(failed.application_version).toEqual(expect.any(String));
    // The fork-after-fix original failed too; succeeded and cancelled runs are not failures.
    expect(res.rows.map((r) => r.workflow_uuid).sort()).toEqual([runs.broken, runs.failed].sort());
  });

  it('v_ops_queue_depth and v_ops_slow_steps have their columns, and count what waits', async () => {
    const waitingRun = await startRun([{ connector: 'echo', args: { value: 'queued' } }], { delayMs: 8000 });
    await waiting(waitingRun);
    const depth = await query('SELECT * FROM app.v_ops_queue_depth');
    expect(depth.fields.map((f) => f.name)).toEqual(['queue_name', 'status', 'workflow_count', 'oldest_created_at', 'newest_created_at']);
    // A delayed run waits DELAYED on its queue.
    const pending = depth.rows.find((r) => r.status === 'DELAYED' && r.queue_name === 'intents');
    expect(pending).toBeDefined();
    expect(Number(pending.workflow_count)).toBeGreaterThanOrEqual(1);
    expect(pending.oldest_created_at.getTime()).toBeLessThanOrEqual(pending.newest_created_at.getTime());

    const slow = await query('SELECT * FROM app.v_ops_slow_steps');
    expect(slow.fields.map((f) => f.name)).toEqual([
      'workflow_uuid',
      'function_id',
      'function_name',
      'started_at_epoch_ms',
      'completed_at_epoch_ms',
      'duration_ms',
      'error',
    ]);
    // The 8 s durable sleeps are not slow steps.
    expect(slow.rows.filter((r) => r.function_name === 'DBOS.sleep')).toEqual([]);
    await action(waitingRun, 'cancel');
    await settled(waitingRun, 'CANCELLED', 'canceled');
  });

  it('(c) a projection that lies about a failed run is reported', async () => {
    await query("UPDATE app.runs SET status = 'succeeded', next_action = 'NONE' WHERE id = $1", [runs.failed]);
    try {
      const found = violated(await verifyInvariants(t.database.url));
      expect(found['03_run_status_matches_dbos']).toEqual([runs.failed]);
      // A succeeded run that never executed also lacks its ExecuteST completion and its report.
      expect(found['04_succeeded_run_has_step_marks']).toEqual([runs.failed]);
      expect(found['08_reported_task_has_receipt']).toEqual([runs.failed]);
      expect(Object.keys(found).sort()).toEqual(['03_run_status_matches_dbos', '04_succeeded_run_has_step_marks', '08_reported_task_has_receipt']);
    } finally {
      await query("UPDATE app.runs SET status = 'failed', next_action = 'REPAIR' WHERE id = $1", [runs.failed]);
    }
  });

  it('(c) a DBOS-terminal workflow whose projection is stuck in flight is given 60 s, then reported', async () => {
    await query("UPDATE app.runs SET status = 'running' WHERE id = $1", [runs.succeeded]);
    try {
      expect(violated(await verifyInvariants(t.database.url))).toEqual({});
      await query("UPDATE app.runs SET updated_at = now() - interval '5 minutes' WHERE id = $1", [runs.succeeded]);
      await query('UPDATE dbos.workflow_status SET updated_at = updated_at - 300000 WHERE workflow_uuid = $1', [runs.succeeded]);
      const results = await verifyInvariants(t.database.url);
      expect(violated(results)).toEqual({ '03_run_status_matches_dbos': [runs.succeeded] });
      expect(results.find((r) => r.name === '03_run_status_matches_dbos')?.violations[0]?.detail).toContain('run is running but its workflow is SUCCESS');
    } finally {
      await query("UPDATE app.runs SET status = 'succeeded' WHERE id = $1", [runs.succeeded]);
    }
  });

  it('(d) a missing step mark is reported', async () => {
    const mark = await query("DELETE FROM app.run_steps WHERE run_id = $1 AND step_id = 'DecideST' RETURNING *", [runs.succeeded]);
    expect(mark.rowCount).toBe(1);
    try {
      const results = await verifyInvariants(t.database.url);
      expect(violated(results)).toEqual({ '04_succeeded_run_has_step_marks': [runs.succeeded] });
      expect(results.find((r) => r.name === '04_succeeded_run_has_step_marks')?.violations[0]?.detail).toBe('succeeded run has no DecideST mark');
    } finally {
      const m = mark.rows[0];
      await query(
        'INSERT INTO app.run_steps (run_id, step_id, attempt, phase, output, trace_id, span_id, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
        [m.run_id, m.step_id, m.attempt, m.phase, m.output, m.trace_id, m.span_id, m.started_at, m.finished_at],
      );
    }
    // A step marked twice (reused from a checkpoint by the fork, and run again) is reported as well.
    await query("INSERT INTO app.run_steps (run_id, step_id, attempt, phase) VALUES ($1, 'CompileST', 1, 'completed')", [runs.fork]);
    try {
      const results = await verifyInvariants(t.database.url);
      expect(violated(results)).toEqual({ '04_succeeded_run_has_step_marks': [runs.fork] });
      expect(results.find((r) => r.name === '04_succeeded_run_has_step_marks')?.violations[0]?.detail).toBe(
        'succeeded run has 1 completed and 1 reused CompileST marks (want exactly one)',
      );
    } finally {
      await query("DELETE FROM app.run_steps WHERE run_id = $1 AND step_id = 'CompileST' AND attempt = 1", [runs.fork]);
    }
  });

  async function withoutOpsRow(op: string, target: string, check: (actionId: string) => Promise<void>): Promise<void> {
    const row = await query("DELETE FROM app.artifacts WHERE step_id = 'OPS' AND inline ->> 'op' = $1 AND run_id = $2 RETURNING *", [op, target]);
    expect(row.rowCount).toBe(1);
    try {
      await check(row.rows[0].action_id);
    } finally {
      const r = row.rows[0];
      await query(
        'INSERT INTO app.artifacts (run_id, step_id, idx, kind, mime, inline, uri, sha256, action_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
        [r.run_id, r.step_id, r.idx, r.kind, r.mime, r.inline, r.uri, r.sha256, r.action_id, r.created_at],
      );
    }
  }

  it('(e) a fork whose OPS row is gone is reported, by the forked workflow and by its action', async () => {
    await withoutOpsRow('fork', runs.broken, async (actionId) => {
      expect(violated(await verifyInvariants(t.database.url))).toEqual({ '05_fork_has_ops_row': [`ops_${actionId}`, runs.fork].sort() });
    });
  });

  it('(f) a cancel or resume whose OPS row is gone is reported; so is an OPS row whose action never ran', async () => {
    await withoutOpsRow('cancel', runs.canceled, async (actionId) => {
      expect(violated(await verifyInvariants(t.database.url))).toEqual({ '06_cancel_resume_has_ops_row': [`ops_${actionId}`] });
    });
    await withoutOpsRow('resume', runs.resumed, async (actionId) => {
      expect(violated(await verifyInvariants(t.database.url))).toEqual({ '06_cancel_resume_has_ops_row': [`ops_${actionId}`] });
    });

    const body = { op: 'cancel', actor: 'mallory', reason: 'no workflow', targetWorkflowID: runs.succeeded, at: new Date().toISOString(), principal: 'alice' };
    await query(
      "INSERT INTO app.artifacts (run_id, step_id, idx, kind, inline, sha256, action_id) VALUES ($1, 'OPS', 0, 'json_diagnostic', $2, 'x', 'act_oracle_orphan')",
      [runs.succeeded, JSON.stringify(body)],
    );
    try {
      const results = await verifyInvariants(t.database.url);
      expect(violated(results)).toEqual({ '07_ops_row_has_effect': ['act_oracle_orphan'] });
      expect(results.find((r) => r.name === '07_ops_row_has_effect')?.violations[0]?.detail).toContain('has no action workflow ops_act_oracle_orphan');
    } finally {
      await query("DELETE FROM app.artifacts WHERE action_id = 'act_oracle_orphan'");
    }
  });

  it('(a)/(b) a run row without its workflow, and a workflow without its run row, are reported', async () => {
    const intentId = (await query<{ intent_id: string }>('SELECT intent_id FROM app.runs WHERE id = $1', [runs.succeeded])).rows[0]!.intent_id;
    const insert = (id: string, status: string, age: string): Promise<unknown> =>
      query(
        `INSERT INTO app.runs (id, intent_id, lineage_root, queue_name, status, next_action, created_at, updated_at)
         VALUES ($1, $2, $1, 'intents', $3, 'WAIT', now() - $4::interval, now() - $4::interval)`,
        [id, intentId, status, age],
      );
    await insert('run_oracle_orphan', 'running', '0 seconds');
    await insert('run_oracle_starting', 'queued', '1 second'); // being started right now: not judged yet
    await query("INSERT INTO dbos.workflow_status (workflow_uuid, status, name) VALUES ('run_oracle_ghost', 'SUCCESS', 'IntentWorkflow')");
    try {
      const results = await verifyInvariants(t.database.url);
      expect(violated(results)).toEqual({ '01_intent_workflow_has_run': ['run_oracle_ghost'], '02_run_has_workflow': ['run_oracle_orphan'] });
      await query("UPDATE app.runs SET created_at = now() - interval '2 minutes' WHERE id = 'run_oracle_starting'");
      expect(violated(await verifyInvariants(t.database.url))['02_run_has_workflow']?.sort()).toEqual(['run_oracle_orphan', 'run_oracle_starting']);
    } finally {
      await query("DELETE FROM app.runs WHERE id IN ('run_oracle_orphan', 'run_oracle_starting')");
      await query("DELETE FROM dbos.workflow_status WHERE workflow_uuid = 'run_oracle_ghost'");
    }
  });

  it('(g) a reported task without its succeeded receipt, and a receipt without its run, are reported', async () => {
    const receipt = await query("UPDATE app.task_receipts SET status = 'failed' WHERE run_id = $1 AND task_index = 1 RETURNING task_key", [runs.succeeded]);
    expect(receipt.rowCount).toBe(1);
    try {
      const results = await verifyInvariants(t.database.url);
      expect(violated(results)).toEqual({ '08_reported_task_has_receipt': [runs.succeeded] });
      expect(results.find((r) => r.name === '08_reported_task_has_receipt')?.violations[0]?.detail).toContain(receipt.rows[0].task_key);
    } finally {
      await query("UPDATE app.task_receipts SET status = 'succeeded' WHERE task_key = $1", [receipt.rows[0].task_key]);
    }

    await query("UPDATE app.task_receipts SET run_id = 'run_oracle_nowhere' WHERE task_key = $1", [receipt.rows[0].task_key]);
    try {
      expect(violated(await verifyInvariants(t.database.url))).toEqual({ '09_receipt_has_run': [receipt.rows[0].task_key] });
    } finally {
      await query('UPDATE app.task_receipts SET run_id = $1 WHERE task_key = $2', [runs.succeeded, receipt.rows[0].task_key]);
    }
    expect(violated(await verifyInvariants(t.database.url))).toEqual({});
  });

  it('(h) a run attempting a task more often than its maxAttempts allows is reported, by run and by receipt', async () => {
    const sends = await query<{ task_key: string; attempt: number }>('SELECT task_key, attempt FROM app.task_attempts WHERE run_id = $1 ORDER BY task_key', [
      runs.succeeded,
    ]);
    // Real runs record their sends, and pass (the healthy check above).
    expect(sends.rows.map((r) => r.attempt)).toEqual([1, 1]);
    const key = sends.rows[0]!.task_key;
    await query(
      "INSERT INTO app.task_attempts (task_key, seq, run_id, attempt, execution_id, settled_at, outcome) VALUES ($1, 100, $2, 4, 'planted', now(), 'failed')",
      [key, runs.succeeded],
    );
    try {
      const results = await verifyInvariants(t.database.url);
      expect(violated(results)).toEqual({ '10_receipt_attempts_within_allowed': [runs.succeeded] });
      expect(results.find((r) => r.name === '10_receipt_attempts_within_allowed')?.violations[0]?.detail).toContain('attempt 4 made, but the run allows 3');
    } finally {
      await query('DELETE FROM app.task_attempts WHERE task_key = $1 AND seq = 100', [key]);
    }
    await query('UPDATE app.task_receipts SET attempts = 14 WHERE task_key = $1', [key]);
    try {
      expect(violated(await verifyInvariants(t.database.url))).toEqual({ '10_receipt_attempts_within_allowed': [key] });
    } finally {
      await query('UPDATE app.task_receipts SET attempts = 1 WHERE task_key = $1', [key]);
    }
    expect(violated(await verifyInvariants(t.database.url))).toEqual({});
  });

  it('(i) one task effect sent by two overlapping executions of one run is reported; a re-send after a crash is not', async () => {
    const { rows } = await query<{ task_key: string }>('SELECT task_key FROM app.task_receipts WHERE run_id = $1 ORDER BY task_index LIMIT 1', [runs.resumed]);
    const key = rows[0]!.task_key;
    // After the run's real sends: execution A died with its send in flight (never settled), B re-sent it. Legitimate.
    await query(
      `INSERT INTO app.task_attempts (task_key, seq, run_id, attempt, execution_id, claimed_at, settled_at, outcome) VALUES
         ($1, 101, $2, 1, 'exec-a', now() + interval '1 s', NULL, NULL),
         ($1, 102, $2, 1, 'exec-b', now() + interval '5 s', now() + interval '6 s', 'succeeded')`,
      [key, runs.resumed],
    );
    try {
      expect(violated(await verifyInvariants(t.database.url))).toEqual({});
      // Execution A was alive after all: it settled its send after B had claimed the task.
      await query("UPDATE app.task_attempts SET settled_at = now() + interval '7 s', outcome = 'succeeded' WHERE task_key = $1 AND seq = 101", [key]);
      const results = await verifyInvariants(t.database.url);
      expect(violated(results)).toEqual({ '11_task_effect_by_one_execution': [runs.resumed] });
      expect(results.find((r) => r.name === '11_task_effect_by_one_execution')?.violations[0]?.detail).toContain('exec-a');
    } finally {
      await query('DELETE FROM app.task_attempts WHERE task_key = $1 AND seq IN (101, 102)', [key]);
    }
    expect(violated(await verifyInvariants(t.database.url))).toEqual({});
  });

  it('(j) a PENDING run on an executor gone for longer than the takeover bound is reported; a fresh one or a live one is not', async () => {
    const intentId = (await query<{ intent_id: string }>('SELECT intent_id FROM app.runs WHERE id = $1', [runs.succeeded])).rows[0]!.intent_id;
    await query(
      `INSERT INTO app.runs (id, intent_id, lineage_root, queue_name, status, next_action, created_at, updated_at)
       VALUES ('run_oracle_stranded', $1, 'run_oracle_stranded', 'intents', 'running', 'WAIT', now(), now())`,
      [intentId],
    );
    // No application version: the test app's own sweep leaves it alone, as it would another version's run.
    await query(
      `INSERT INTO dbos.workflow_status (workflow_uuid, status, name, executor_id, queue_name, created_at, updated_at)
       VALUES ('run_oracle_stranded', 'PENDING', 'IntentWorkflow', 'oracle-gone', 'intents',
               (EXTRACT(EPOCH FROM now() - interval '3 minutes') * 1000)::bigint, (EXTRACT(EPOCH FROM now() - interval '2 minutes') * 1000)::bigint)`,
    );
    const { ExecutorLock } = await import('#dbos');
    const lock = new ExecutorLock(t.database.url, 'oracle-gone', () => undefined);
    try {
      const results = await verifyInvariants(t.database.url);
      expect(violated(results)).toEqual({ '12_no_run_stranded_on_a_gone_executor': ['run_oracle_stranded'] });
      expect(results.find((r) => r.name === '12_no_run_stranded_on_a_gone_executor')?.violations[0]?.detail).toContain('executor oracle-gone');
      // Registered and seen alive 30 s ago: within the bound.
      await query(
        `INSERT INTO app.ops_executors (executor_id, role, host, pid, app_version, started_at, last_seen_at)
         VALUES ('oracle-gone', 'worker', 'h', 1, 'v', now() - interval '1 hour', now() - interval '30 seconds')`,
      );
      expect(violated(await verifyInvariants(t.database.url))).toEqual({});
      await query(`UPDATE app.ops_executors SET last_seen_at = now() - interval '61 seconds' WHERE executor_id = 'oracle-gone'`);
      expect(Object.keys(violated(await verifyInvariants(t.database.url)))).toEqual(['12_no_run_stranded_on_a_gone_executor']);
      // Alive (a process holds its lock), however long ago a sweep saw it: not stranded.
      await lock.acquire(2000);
      expect(violated(await verifyInvariants(t.database.url))).toEqual({});
    } finally {
      await lock.release();
      await query("DELETE FROM app.ops_executors WHERE executor_id = 'oracle-gone'");
      await query("DELETE FROM dbos.workflow_status WHERE workflow_uuid = 'run_oracle_stranded'");
      await query("DELETE FROM app.runs WHERE id = 'run_oracle_stranded'");
    }
  });

  it('exits 1 naming the violated invariant, and 2 when app and system databases are split', async () => {
    await query("INSERT INTO dbos.workflow_status (workflow_uuid, status, name) VALUES ('run_oracle_ghost2', 'PENDING', 'IntentWorkflow')");
    try {
      const out: string[] = [];
      expect(await runInvariantCheck({ appDatabaseUrl: t.database.url, systemDatabaseUrl: t.database.url }, (text) => out.push(text))).toBe(1);
      expect(out.join('\n')).toMatch(/✗ 01_intent_workflow_has_run .*\n {4}run_oracle_ghost2 /);
      expect(out.join('\n')).toContain('1 of ');
    } finally {
      await query("DELETE FROM dbos.workflow_status WHERE workflow_uuid = 'run_oracle_ghost2'");
    }

    const other = new URL(t.database.url);
    other.pathname = '/some_other_database';
    const errors: string[] = [];
    expect(
      await runInvariantCheck(
        { appDatabaseUrl: t.database.url, systemDatabaseUrl: other.toString() },
        () => undefined,
        (line) => errors.push(line),
      ),
    ).toBe(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('one database');
    expect(errors[0]).not.toContain('\n');
    expect(() => oracleDatabaseUrl({ appDatabaseUrl: t.database.url, systemDatabaseUrl: other.toString() })).toThrow(OracleSetupError);
    // The same database spelled differently is one database.
    const same = new URL(t.database.url);
    same.protocol = 'postgresql:';
    same.searchParams.set('application_name', 'x');
    expect(oracleDatabaseUrl({ appDatabaseUrl: t.database.url, systemDatabaseUrl: same.toString() })).toBe(t.database.url);
  });

  it('re-applying db/system is idempotent and keeps the views', async () => {
    const { applySystemSql } = await import('#db');
    await applySystemSql(t.database.url);
    await applySystemSql(t.database.url);
    const views = await query<{ table_name: string }>("SELECT table_name FROM information_schema.views WHERE table_schema = 'app' ORDER BY table_name");
    expect(views.rows.map((r) => r.table_name)).toEqual(['v_ops_executors', 'v_ops_failures_24h', 'v_ops_queue_depth', 'v_ops_slow_steps']);
    expect((await query('SELECT count(*)::int AS n FROM app.v_ops_failures_24h')).rows[0].n).toBe(2);
  });
});
