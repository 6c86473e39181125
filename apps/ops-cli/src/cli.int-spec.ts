import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { freePort } from '#db';
import { cliEnv, OPS_CLI, runScript, type ScriptResult } from '../../../tools/harness/index.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';
import { opsStatus, startRun as startRunOf } from '../../../test/support/runs.js';

/**
 * The built ops CLI (dist/apps/ops-cli/src/main.js) as an on-call engineer runs it: a separate process
 * and DBOS executor on the service's database, IDs on stdin, asserting what they would see.
 */
const CLI = OPS_CLI;
const VIEWER = 'viewer-token-0123456789ab';
const viewer = { authorization: `Bearer ${VIEWER}` };
const OPERATOR = 'operator-token-0123456789';
const op = { authorization: `Bearer ${OPERATOR}` };

describe('ops CLI (built, against the real service database)', () => {
  let t: TestApp;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    t = await startTestApp({ OPS_API_TOKENS: `victor:viewer:${VIEWER},olga:operator:${OPERATOR}` });
    env = cliEnv(t.database.url, { OPS_API_URL: t.baseUrl });
  });
  afterAll(async () => {
    await t?.close();
  });

  const cli = (args: string[], stdin = '', extraEnv: Record<string, string> = {}): Promise<ScriptResult> =>
    runScript(OPS_CLI, args, { ...env, ...extraEnv }, stdin);

  const startRun = (tasks: unknown[], constraints: Record<string, unknown> = {}): Promise<string> => startRunOf(t, tasks, constraints, 'ops cli test');
  const dbosStatus = (id: string, want: string[], timeoutMs = 30_000): Promise<any> => opsStatus(t, id, want, viewer, timeoutMs);

  async function sleepingRun(): Promise<string> {
    const id = await startRun([{ connector: 'echo', args: { value: 'later' } }], { delayMs: 60_000 });
    await waitFor('the run to sleep', async () => ((await t.request('GET', `/api/runs/${id}`)).body.status === 'waiting' ? true : undefined));
    return id;
  }

  async function opsRows(): Promise<any[]> {
    return t.db.selectFrom('app.artifacts').selectAll().where('step_id', '=', 'OPS').orderBy('id').execute();
  }

  let failedId: string;
  let succeededId: string;

  it('list --status ERROR --format ids shows a failed run; json and table formats too', async () => {
    failedId = await startRun([{ connector: 'fault', args: { mode: 'permanent' } }]);
    succeededId = await startRun([{ connector: 'echo', args: { value: 'ok' } }]);
    await dbosStatus(failedId, ['ERROR']);
    await dbosStatus(succeededId, ['SUCCESS']);

    const ids = await cli(['list', '--status', 'ERROR', '--format', 'ids']);
    expect(ids.code).toBe(0);
    const listed = ids.stdout.trim().split('\n');
    expect(listed).toContain(failedId);
    expect(listed).not.toContain(succeededId);
    // stdout is only IDs (logs go to stderr), so it can be piped into the next command.
    for (const line of listed) expect(line).toMatch(/^\S+$/);

    const json = await cli(['list', '--status', 'ERROR', '--status', 'SUCCESS', '--name', 'IntentWorkflow', '--limit', '1', '--format', 'json']);
    expect(json.code).toBe(0);
    const items = JSON.parse(json.stdout) as { workflowID: string; status: string }[];
    expect(items.map((i) => [i.workflowID, i.status])).toEqual(
      expect.arrayContaining([
        [failedId, 'ERROR'],
        [succeededId, 'SUCCESS'],
      ]),
    );

    const table = await cli(['list', '--status', 'ERROR', '--format', 'table']);
    const [header, ...rows] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^workflowID\s+status\s+name\s+queue\s+createdAt\s+appVersion$/);
    expect(rows.find((r) => r.startsWith(failedId))).toMatch(new RegExp(`^${failedId}\\s+ERROR\\s+IntentWorkflow\\s+(intents|-)\\s+\\d{4}-`));

    const bad = await cli(['list', '--status', 'DONE']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid list filter');
  });

  it('cancel --dry-run with the ID on stdin changes nothing and exits 0', async () => {
    const waiting = await sleepingRun();
    const before = await opsRows();
    const res = await cli(['cancel', '--dry-run'], `# the run behind the stuck deploy\n${waiting}   # waiting 60 s\n\n`);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`${waiting} DELAYED → would cancel`);
    expect(res.stdout).toContain('dry run, nothing changed: would do 1 / conflict 0 / not found 0 / invalid 0 / failed 0');
    expect(await opsRows()).toHaveLength(before.length);
    expect((await t.request('GET', `/api/ops/wf/${waiting}`, undefined, viewer)).body.status).toBe('DELAYED');
    expect((await t.request('GET', `/api/runs/${waiting}`)).body.status).toBe('waiting');
  });

  it('cancel on a waiting run cancels it, with an OPS row: defaults ops-batch / batch-cancel, principal cli:<user>', async () => {
    const waiting = await sleepingRun();
    const res = await cli(['cancel'], `${waiting}\n`);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^${waiting} DELAYED → cancelled \\(action act_\\w+\\)$`, 'm'));
    expect(res.stdout).toContain('done 1 / conflict 0 / not found 0 / invalid 0 / failed 0');
    await dbosStatus(waiting, ['CANCELLED']);
    expect((await t.request('GET', `/api/runs/${waiting}`)).body).toMatchObject({ status: 'canceled', nextAction: 'RESUME' });
    const row = (await opsRows()).find((r) => r.run_id === waiting);
    expect(row).toMatchObject({ step_id: 'OPS', idx: 0, kind: 'json_diagnostic' });
    expect(row.inline).toMatchObject({
      op: 'cancel',
      actor: 'ops-batch',
      reason: 'batch-cancel',
      targetWorkflowID: waiting,
      principal: `cli:${userInfo().username}`,
    });
  });

  it('cancel of a finished run is a conflict; with an unknown and a malformed ID, exit 1 and every outcome counted', async () => {
    const before = await opsRows();
    const res = await cli(['cancel', '--actor', 'alice', '--reason', 'cleanup'], `${succeededId}\nrun_does_not_exist\n`);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(
      `${succeededId} SUCCESS → conflict: workflow ${succeededId} is SUCCESS; only PENDING, ENQUEUED, DELAYED workflows can be cancelled`,
    );
    expect(res.stdout).toContain('(hint: it already finished; fork it to run it again)');
    expect(res.stdout).toContain('run_does_not_exist → not found');
    expect(res.stdout).toContain('done 0 / conflict 1 / not found 1 / invalid 0 / failed 0');
    const invalid = await cli(['cancel', '--ids', 'bad\u0001id']);
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toContain('invalid 1');
    expect(await opsRows()).toHaveLength(before.length);
  });

  it('dry-run predictions match what the real batch then does, ID by ID', async () => {
    const waiting = await sleepingRun();
    const ids = `${waiting}\n${failedId}\n${succeededId}\nrun_nope\n`;
    const outcome = (line: string): string =>
      /→ (would cancel|cancelled)/.test(line) ? 'done' : /→ conflict/.test(line) ? 'conflict' : /→ not found/.test(line) ? 'not found' : line;
    const dry = await cli(['cancel', '--dry-run', '--rate', '50'], ids);
    const real = await cli(['cancel', '--rate', '50'], ids);
    const lines = (r: ScriptResult): string[] => r.stdout.split('\n').filter((l) => l.includes(' → '));
    expect(lines(dry).map(outcome)).toEqual(['done', 'conflict', 'conflict', 'not found']);
    expect(lines(real).map(outcome)).toEqual(lines(dry).map(outcome));
    expect([dry.code, real.code]).toEqual([1, 1]);
    await dbosStatus(waiting, ['CANCELLED']);
  });

  it('retry-from-step 4 on a run failed at ExecuteST, after the fix: forks it and the fork succeeds', async () => {
    const original = await startRun([
      { connector: 'echo', args: { value: 'effect once' } },
      { connector: 'fault', args: { mode: 'until-fixed', flag: 'cli-drill' } },
    ]);
    await dbosStatus(original, ['ERROR']);

    // Beyond the failed step: refused by retry-from-step's own guard, nothing forked.
    const late = await cli(['retry-from-step', '5'], original);
    expect(late.code).toBe(1);
    expect(late.stdout).toContain(`step 5 is after the failed step of ${original} (step 4, ExecuteST)`);

    const preview = await cli(['retry-from-step', '4', '--dry-run'], original);
    expect(preview.stdout).toContain(`${original} ERROR → would fork at step 4`);

    await t.db.insertInto('app.settings').values({ key: 'fault.cli-drill', value: 'fixed' }).execute();
    const res = await cli(['retry-from-step', '4', '--reason', 'flag fixed'], `${original}\n`);
    expect(res.code).toBe(0);
    const forked = new RegExp(`^${original} ERROR → forked at step 4 as (run_\\w+) \\(action act_\\w+\\)$`, 'm').exec(res.stdout)?.[1];
    expect(forked).toBeDefined();
    await dbosStatus(forked!, ['SUCCESS']);
    expect((await t.request('GET', `/api/runs/${forked}`)).body).toMatchObject({ status: 'succeeded', forkedFrom: original });
    const row = (await opsRows()).find((r) => r.run_id === original && r.inline.op === 'fork');
    expect(row.inline).toMatchObject({ actor: 'ops-batch', reason: 'flag fixed', stepN: 4, forkedWorkflowID: forked, principal: `cli:${userInfo().username}` });

    // A run that succeeded has no failed step: a conflict for that ID, reported, not thrown.
    const none = await cli(['retry-from-step', '4'], forked);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain(`${forked} SUCCESS → conflict: workflow ${forked} is SUCCESS and has no failed step`);
  });

  it('triage <failed id>: ExecuteST failed, next action a fork at step 4', async () => {
    const res = await cli(['triage', failedId]);
    expect(res.code).toBe(0);
    for (const heading of ['1. Service health', '2. DBOS status', '3. Steps', '4. Local marks', '5. Control actions', '6. Last error']) {
      expect(res.stdout).toContain(heading);
    }
    expect(res.stdout).toMatch(/1\. Service health[^\n]*\n\s+up: /);
    expect(res.stdout).toMatch(/^\s+4\s+ExecuteST\s+failed/m);
    expect(res.stdout).toMatch(/^\s+ExecuteST\s+1\s+failed/m); // the local mark
    expect(res.stdout).toContain('VERDICT: failed at step 4 (ExecuteST)');
    expect(res.stdout).toMatch(/NEXT ACTION: [^\n]*fork at step 4/);
    expect(res.stdout).toContain(`echo ${failedId} | mise run ops:retry-from-step 4`);
  });

  it('triage with the service down reports it and still exits 0 for a found workflow; an unknown ID exits 1', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const res = await cli(['triage', failedId], '', { OPS_API_URL: closed });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('service down (ECONNREFUSED');
    expect(res.stdout).toContain('VERDICT: failed at step 4 (ExecuteST)');

    const waiting = await sleepingRun();
    const asleep = await cli(['triage', waiting], '', { OPS_API_URL: closed });
    // A delayed run waits DELAYED on its queue, not in a DBOS.sleep.
    expect(asleep.stdout).toMatch(/VERDICT: delayed until \d{4}-/);
    expect(asleep.stdout).toMatch(/NEXT ACTION: the service is down[^\n]*start it/);

    const missing = await cli(['triage', 'run_does_not_exist']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not found');
  });

  it("refuses to launch under a running service's executor ID (it would re-enqueue the service's in-flight runs)", async () => {
    // A PENDING run of the service: a delayed run resumed before its deadline sleeps the rest in DBOS.sleep.
    const waiting = await sleepingRun();
    expect((await t.request('POST', `/api/ops/wf/${waiting}/cancel`, { actor: 'cli test', reason: 'to resume it' }, op)).status).toBe(202);
    await dbosStatus(waiting, ['CANCELLED']);
    expect((await t.request('POST', `/api/ops/wf/${waiting}/resume`, { actor: 'cli test', reason: 'sleep in the process' }, op)).status).toBe(202);
    await dbosStatus(waiting, ['PENDING']);
    const service = `test-${t.database.name}`; // startTestApp's DBOS_EXECUTOR_ID
    expect((await t.request('GET', `/api/ops/wf/${waiting}`, undefined, viewer)).body.executorId).toBe(service);
    const res = await cli(['list'], '', { DBOS_EXECUTOR_ID: service });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`Invalid configuration: DBOS_EXECUTOR_ID is "${service}", which owns PENDING workflows (`);
    const after = (await t.request('GET', `/api/ops/wf/${waiting}`, undefined, viewer)).body;
    expect([after.status, after.executorId]).toEqual(['PENDING', service]);
    // Its own executor ID is fine.
    expect((await cli(['list'], '', { DBOS_EXECUTOR_ID: 'ops-cli-test' })).code).toBe(0);

    // Triage reads the executor's liveness from app.v_ops_executors: the service holds its lock.
    const triage = await cli(['triage', waiting]);
    expect(triage.code).toBe(0);
    expect(triage.stdout).toContain(`executor      ${service}`);
    expect(triage.stdout).toMatch(/liveness {6}alive \(all\), holds its liveness lock, [1-9]\d* run\(s\) PENDING on it \(app\.v_ops_executors\)/);
  });

  it('triage shows a gone executor as GONE, with when it was last seen', async () => {
    // The failed run's executor swapped for one that registered, was last seen 2 min ago, and holds no
    // lock (the sweep only ever touches PENDING workflows, so nothing else moves meanwhile).
    const sys = t.database.url;
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: sys });
    await client.connect();
    const before = (await client.query<{ executor_id: string }>('SELECT executor_id FROM dbos.workflow_status WHERE workflow_uuid = $1', [failedId])).rows[0]!;
    try {
      await client.query(
        `INSERT INTO app.ops_executors (executor_id, role, host, pid, app_version, started_at, last_seen_at)
         VALUES ('cli-gone', 'worker', 'gone-host', 1, 'v', now() - interval '1 hour', now() - interval '2 minutes')`,
      );
      await client.query(`UPDATE dbos.workflow_status SET executor_id = 'cli-gone' WHERE workflow_uuid = $1`, [failedId]);
      const res = await cli(['triage', failedId]);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('executor      cli-gone');
      expect(res.stdout).toContain('liveness      GONE (worker), last seen 2 min ago, 0 run(s) PENDING on it (app.v_ops_executors)');
    } finally {
      await client.query(`UPDATE dbos.workflow_status SET executor_id = $2 WHERE workflow_uuid = $1`, [failedId, before.executor_id]);
      await client.query(`DELETE FROM app.ops_executors WHERE executor_id = 'cli-gone'`);
      await client.end();
    }
  });

  it('verify: the SQL oracle over everything the CLI did; split databases exit 2', async () => {
    const res = await cli(['verify']);
    expect(res.stdout).toMatch(/invariants hold|invariants violated/);
    expect(res.code).toBe(res.stdout.includes('violated') ? 1 : 0);
    expect(res.code).toBe(0);

    const other = new URL(t.database.url);
    other.pathname = '/postgres';
    const split = await cli(['verify'], '', { DBOS_SYSTEM_DATABASE_URL: other.toString() });
    expect(split.code).toBe(2);
  });
});
