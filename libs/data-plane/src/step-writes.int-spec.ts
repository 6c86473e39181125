import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { runToEnd, stepMarks as marks } from '../../../test/support/runs.js';
import { ReplayMismatchError, RunsRepository } from './runs.repository.js';

describe('step writes, app and system schemas in one database (the default)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
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
