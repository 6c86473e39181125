import { sql } from 'kysely';
import pg from 'pg';
import { runToEnd, stepMarks } from '../../../test/support/runs.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { testPool } from '../../../test/support/test-database.js';

// Its own file: DBOS registers the workflows once per process, so one app per file.
describe('step writes, DBOS system schema in its own database', () => {
  let t: TestApp;
  let system: pg.Pool;

  beforeAll(async () => {
    t = await startTestApp({}, { splitSystemDatabase: true });
    system = testPool(t.systemDatabaseUrl, 1);
  });
  afterAll(async () => {
    await system?.end();
    await t?.close();
  });

  it('run on the app pool, keyed: a run succeeds with its marks in the app database and its checkpoints in the system one', async () => {
    const { runId, run } = await runToEnd(t);
    expect(run).toMatchObject({ status: 'succeeded', dbosStatus: 'SUCCESS', nextAction: 'NONE' });
    expect(await stepMarks(t, runId)).toEqual(['CompileST:completed', 'ApplyPatchST:completed', 'DecideST:completed', 'ExecuteST:completed']);
    const steps = await system.query<{ function_name: string }>(
      'SELECT function_name FROM dbos.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id',
      [runId],
    );
    expect(steps.rows.map((r) => r.function_name)).toEqual(['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST']);
    const local = await sql<{ n: number }>`SELECT count(*)::int AS n FROM dbos.operation_outputs WHERE workflow_uuid = ${runId}`.execute(t.db);
    expect(local.rows[0]!.n).toBe(0);
    const receipt = await t.db.selectFrom('app.task_receipts').select(['status', 'attempts', 'run_id']).where('run_id', '=', runId).executeTakeFirstOrThrow();
    expect(receipt).toEqual({ status: 'succeeded', attempts: 1, run_id: runId });
  });
});
