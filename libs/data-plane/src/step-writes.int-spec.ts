import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { ECHO_INTENT, runToEnd, startRun, stepMarks as marks } from '../../../test/support/runs.js';
import { waitFor } from '../../../test/support/wait.js';
import { RUN_ADMISSION } from './intent.workflow.js';
import { ReplayMismatchError, RunsRepository } from '#runs';
import { IntentsRepository } from './intents.repository.js';

const OPERATOR = 'step-writes-operator-token';

describe('step writes, app and system schemas in one database (the default)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR}` });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("commit in the step's checkpoint transaction: a failed checkpoint leaves no mark and no artifact", async () => {
    // The checkpoint of ApplyPatchST cannot be written: its transaction must take the step's app writes with it.
    await sql`
      CREATE FUNCTION dbos.refuse_apply_patch() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.function_name = 'ApplyPatchST' THEN RAISE EXCEPTION 'injected: checkpoint refused'; END IF;
        RETURN NEW;
      END $$`.execute(t.db);
    await sql`CREATE TRIGGER refuse_apply_patch BEFORE INSERT ON dbos.operation_outputs FOR EACH ROW EXECUTE FUNCTION dbos.refuse_apply_patch()`.execute(t.db);
    try {
      const { runId, run } = await runToEnd(t);
      expect(run).toMatchObject({ status: 'failed', dbosStatus: 'ERROR', nextAction: 'REPAIR', lastStep: 'ApplyPatchST' });
      expect(await marks(t, runId)).toEqual(['CompileST:completed']);
      const artifacts = await t.db.selectFrom('app.artifacts').select('kind').where('run_id', '=', runId).orderBy('id').execute();
      expect(artifacts.map((a) => a.kind)).toEqual(['plan_card']);
      const checkpoints = await sql<{ function_name: string }>`
        SELECT function_name FROM dbos.operation_outputs WHERE workflow_uuid = ${runId} ORDER BY function_id`.execute(t.db);
      expect(checkpoints.rows.map((r) => r.function_name)).toEqual(['CompileST']);
    } finally {
      await sql`DROP TRIGGER refuse_apply_patch ON dbos.operation_outputs`.execute(t.db);
      await sql`DROP FUNCTION dbos.refuse_apply_patch()`.execute(t.db);
    }
  });

  it('commit only while the execution owns the workflow: ownership lost before the checkpoint commits nothing of the step', async () => {
    // ApplyPatchST's own statement hands the workflow to another owner in its transaction: the
    // checkpoint sent with the COMMIT finds it owned by someone else, and the whole step rolls back.
    await sql`
      CREATE FUNCTION app.steal_at_apply_patch() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.step_id = 'ApplyPatchST' THEN
          UPDATE dbos.workflow_status SET owner_xid = 'another-execution' WHERE workflow_uuid = NEW.run_id;
        END IF;
        RETURN NEW;
      END $$`.execute(t.db);
    await sql`CREATE TRIGGER steal_at_apply_patch BEFORE INSERT ON app.run_steps FOR EACH ROW EXECUTE FUNCTION app.steal_at_apply_patch()`.execute(t.db);
    try {
      const runId = await startRun(t, ECHO_INTENT.inputs.tasks);
      const checkpoints = () =>
        sql<{ function_name: string }>`SELECT function_name FROM dbos.operation_outputs WHERE workflow_uuid = ${runId} ORDER BY function_id`.execute(t.db);
      await waitFor('CompileST checkpointed', async () => ((await checkpoints()).rows.length > 0 ? true : undefined));
      // The execution stops (DBOS's DBOSWorkflowConflictError): no further step, no mark, no owner change.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await checkpoints()).rows.map((r) => r.function_name)).toEqual(['CompileST']);
      expect(await marks(t, runId)).toEqual(['CompileST:completed']);
      const status = await sql<{ status: string; owner_xid: string | null }>`
        SELECT status, owner_xid FROM dbos.workflow_status WHERE workflow_uuid = ${runId}`.execute(t.db);
      expect(status.rows[0]?.status).toBe('PENDING');
      expect(status.rows[0]?.owner_xid).not.toBe('another-execution');
    } finally {
      await sql`DROP TRIGGER steal_at_apply_patch ON app.run_steps`.execute(t.db);
      await sql`DROP FUNCTION app.steal_at_apply_patch()`.execute(t.db);
    }
  });

  it('a fresh run commits CompileST → DecideST in one transaction, and ExecuteST with its settlement, mark and report in another', async () => {
    const { runId, run } = await runToEnd(t);
    expect(run).toMatchObject({ status: 'succeeded', dbosStatus: 'SUCCESS' });
    // xmin: the transaction that wrote each row.
    const checkpoints = await sql<{ function_name: string; xid: string }>`
      SELECT function_name, xmin::text AS xid FROM dbos.operation_outputs WHERE workflow_uuid = ${runId} ORDER BY function_id`.execute(t.db);
    expect(checkpoints.rows.map((r) => r.function_name)).toEqual(['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST']);
    const [compile, applyPatch, decide, execute] = checkpoints.rows.map((r) => r.xid);
    expect([applyPatch, decide]).toEqual([compile, compile]);
    expect(execute).not.toBe(compile);
    const marks = await sql<{
      step_id: string;
      xid: string;
    }>`SELECT step_id, xmin::text AS xid FROM app.run_steps WHERE run_id = ${runId} ORDER BY step_id`.execute(t.db);
    expect(marks.rows).toEqual([
      { step_id: 'ApplyPatchST', xid: compile },
      { step_id: 'CompileST', xid: compile },
      { step_id: 'DecideST', xid: compile },
      { step_id: 'ExecuteST', xid: execute },
    ]);
    const settled = await sql<{ outcome: string; xid: string }>`SELECT outcome, xmin::text AS xid FROM app.task_attempts WHERE run_id = ${runId}`.execute(t.db);
    expect(settled.rows).toEqual([{ outcome: 'succeeded', xid: execute }]);
  });

  it('a fork at stepN 4 in a process that has not cached the intent replays steps 1–3: no mark or artifact of theirs', async () => {
    const { runId: original } = await runToEnd(t);
    // As after a restart: CompileST reads the intent inside its transaction before it writes, and
    // here the read's answer comes late (as on a loaded machine), after the step's state has.
    const intents = t.app.get<IntentsRepository, { cache: Map<string, unknown>; find: IntentsRepository['find'] }>(IntentsRepository);
    intents.cache.clear();
    const find = intents.find;
    let reads = 0;
    intents.find = async (...args) => {
      const row = await find.apply(intents, args);
      // The first read only: the step by step replay that follows finishes long before it answers.
      if (reads++ === 0) await new Promise((resolve) => setTimeout(resolve, 300));
      return row;
    };
    let forked: string;
    try {
      const fork = await t.request(
        'POST',
        `/api/ops/wf/${original}/fork`,
        { actor: 'alice', reason: 'replay test', stepN: 4 },
        { authorization: `Bearer ${OPERATOR}` },
      );
      expect(fork.status).toBe(202);
      forked = fork.body.forkedWorkflowID as string;
      await waitFor('the fork to succeed', async () => ((await t.request('GET', `/api/runs/${forked}`)).body.dbosStatus === 'SUCCESS' ? true : undefined));
      // Anything the first CompileST still had in flight has landed by now.
      await new Promise((resolve) => setTimeout(resolve, 600));
    } finally {
      intents.find = find;
    }
    const phases = await sql<{ step_id: string; phase: string }>`SELECT step_id, phase FROM app.run_steps WHERE run_id = ${forked} ORDER BY step_id`.execute(
      t.db,
    );
    expect(phases.rows.map((r) => `${r.step_id}:${r.phase}`)).toEqual(['ApplyPatchST:reused', 'CompileST:reused', 'DecideST:reused', 'ExecuteST:completed']);
    const kinds = await t.db.selectFrom('app.artifacts').select('kind').where('run_id', '=', forked).where('action_id', 'is', null).execute();
    expect(kinds.map((a) => a.kind)).toEqual(['execution_report']);
  });

  it("ExecuteST: the last task's settlement, the step's mark and report commit with its checkpoint, or none of them does", async () => {
    // ExecuteST's success checkpoint (a row with an output) cannot be written; its error can.
    await sql`
      CREATE FUNCTION dbos.refuse_execute_success() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.function_name = 'ExecuteST' AND NEW.output IS NOT NULL THEN RAISE EXCEPTION 'injected: checkpoint refused'; END IF;
        RETURN NEW;
      END $$`.execute(t.db);
    await sql`CREATE TRIGGER refuse_execute_success BEFORE INSERT ON dbos.operation_outputs FOR EACH ROW EXECUTE FUNCTION dbos.refuse_execute_success()`.execute(
      t.db,
    );
    try {
      const { runId, run } = await runToEnd(t);
      expect(run).toMatchObject({ status: 'failed', dbosStatus: 'ERROR', nextAction: 'REPAIR', lastStep: 'ExecuteST' });
      // The send was made and counted (its claim committed before it), but its outcome went down with the checkpoint.
      const attempts = await sql<{ outcome: string | null; settled_at: Date | null }>`
        SELECT outcome, settled_at FROM app.task_attempts WHERE run_id = ${runId}`.execute(t.db);
      expect(attempts.rows).toEqual([{ outcome: null, settled_at: null }]);
      // No ExecuteST mark: its completed mark went down with the checkpoint (the projection says failed).
      expect(await marks(t, runId)).toEqual(['CompileST:completed', 'ApplyPatchST:completed', 'DecideST:completed']);
      const kinds = await t.db.selectFrom('app.artifacts').select('kind').where('run_id', '=', runId).orderBy('id').execute();
      expect(kinds.map((a) => a.kind)).not.toContain('execution_report');
      const checkpoints = await sql<{ function_name: string; failed: boolean }>`
        SELECT function_name, error IS NOT NULL AS failed FROM dbos.operation_outputs WHERE workflow_uuid = ${runId} ORDER BY function_id`.execute(t.db);
      expect(checkpoints.rows.at(-1)).toEqual({ function_name: 'ExecuteST', failed: true });
    } finally {
      await sql`DROP TRIGGER refuse_execute_success ON dbos.operation_outputs`.execute(t.db);
      await sql`DROP FUNCTION dbos.refuse_execute_success()`.execute(t.db);
    }
  });

  it(`admits ${RUN_ADMISSION} runs at a time into CompileST → DecideST, and every run of a burst still succeeds`, async () => {
    const intent = await t.request('POST', '/api/intents', ECHO_INTENT);
    const started = await Promise.all(
      Array.from({ length: 8 }, (_, i) => t.request('POST', '/api/runs', { intentId: intent.body.intentId, idempotencyKey: `admission-${i}` })),
    );
    const ids = started.map((r) => r.body.runId as string);
    await waitFor('the burst to finish', async () => {
      const rows = await t.db.selectFrom('app.runs').select('status').where('id', 'in', ids).execute();
      return rows.every((r) => r.status === 'succeeded') ? true : undefined;
    });
    // Each run's prefix as its marks bound it: CompileST's start (taken inside the admission) to the
    // start of DecideST's transaction (its finished_at, now()); the admission holds both.
    const spans = await sql<{ run_id: string; from_ms: number; to_ms: number }>`
      SELECT run_id,
             (extract(epoch FROM min(started_at) FILTER (WHERE step_id = 'CompileST')) * 1000)::float8 AS from_ms,
             (extract(epoch FROM max(finished_at) FILTER (WHERE step_id = 'DecideST')) * 1000)::float8 AS to_ms
        FROM app.run_steps WHERE run_id IN (${sql.join(ids)}) GROUP BY run_id`.execute(t.db);
    expect(spans.rows).toHaveLength(ids.length);
    const overlapping = Math.max(...spans.rows.map((a) => spans.rows.filter((b) => b.from_ms <= a.from_ms && a.from_ms < b.to_ms).length));
    expect(overlapping).toBeGreaterThanOrEqual(1);
    expect(overlapping).toBeLessThanOrEqual(RUN_ADMISSION);
  });

  it('write once per step: a replay with the same content changes nothing, with different content writes nothing and throws', async () => {
    const { runId, run } = await runToEnd(t);
    expect(run.status).toBe('succeeded');
    const runs = t.app.get(RunsRepository);
    const before = await t.db.selectFrom('app.artifacts').select(['id', 'sha256']).where('run_id', '=', runId).where('step_id', '=', 'DecideST').execute();
    const decision = await t.db.selectFrom('app.artifacts').select('inline').where('id', '=', before[0]!.id).executeTakeFirstOrThrow();

    const replay = (body: unknown, projection?: { status: 'waiting'; nextAction: 'WAIT' }) =>
      runs.recordStep({
        runId,
        stepId: 'DecideST',
        phase: 'completed',
        output: body,
        startedAt: new Date(),
        artifacts: [{ idx: 0, kind: 'decision', body }],
        ...(projection ? { projection } : {}),
      });
    // Same content: keyed, nothing new (still one completed mark, one artifact).
    await replay(decision.inline);
    // Different content: ReplayMismatchError, and not one of the statement's writes lands (not even
    // the projection it carries).
    await expect(replay({ ...(decision.inline as object), execute: 'changed' }, { status: 'waiting', nextAction: 'WAIT' })).rejects.toThrow(
      ReplayMismatchError,
    );

    const after = await t.db.selectFrom('app.artifacts').select(['id', 'sha256']).where('run_id', '=', runId).where('step_id', '=', 'DecideST').execute();
    expect(after).toEqual(before);
    expect((await marks(t, runId)).filter((m) => m.startsWith('DecideST'))).toEqual(['DecideST:completed']);
    const projection = await t.db.selectFrom('app.runs').select('status').where('id', '=', runId).executeTakeFirstOrThrow();
    expect(projection.status).toBe('succeeded');
  });
});
