import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { sql } from 'kysely';
import { runToEnd } from '../../../test/support/runs.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { recordNoErrorWhileStopping } from './workflow-outcome.js';
import { type DbosSystemDatabase, dbosMethods } from './dbos-system.js';

interface Row {
  status: string;
  owner_xid: string | null;
  deduplication_id: string | null;
  completed: boolean;
  output: string | null;
  error: string | null;
}

/**
 * A workflow's success is recorded in one statement (workflow-outcome.ts) where DBOS 5.3 sends four:
 * the same rows and the same answers as DBOS's own method, which stays on the prototype.
 */
describe("a workflow's success in one statement, as DBOS records it", () => {
  let t: TestApp;
  let system: DbosSystemDatabase;

  beforeAll(async () => {
    t = await startTestApp();
    system = DBOSExecutor.globalInstance!.systemDatabase;
  });
  afterAll(async () => {
    await t?.close();
  });

  const pending = async (id: string, owner: string): Promise<void> => {
    await sql`INSERT INTO dbos.workflow_status (workflow_uuid, status, name, owner_xid, deduplication_id)
              VALUES (${id}, 'PENDING', 'IntentWorkflow', ${owner}, ${`dedup-${id}`})`.execute(t.db);
  };
  const row = async (id: string): Promise<Row | undefined> =>
    (
      await sql<Row>`
        SELECT ws.status, ws.owner_xid, ws.deduplication_id, ws.completed_at IS NOT NULL AS completed, wo.output, wo.error
          FROM dbos.workflow_status ws LEFT JOIN dbos.workflow_output wo USING (workflow_uuid)
         WHERE ws.workflow_uuid = ${id}`.execute(t.db)
    ).rows[0];
  const status = (output: string) => ({ output }) as Parameters<DbosSystemDatabase['recordWorkflowOutput']>[1];

  it('is installed, and a run ends with its status row and its output written by one transaction', async () => {
    expect(Object.hasOwn(system, 'recordWorkflowOutput')).toBe(true);
    const { runId } = await runToEnd(t);
    const written = await sql<{ status: string; owner_xid: string | null; same: boolean }>`
      SELECT ws.status, ws.owner_xid, ws.xmin = wo.xmin AS same
        FROM dbos.workflow_status ws JOIN dbos.workflow_output wo USING (workflow_uuid) WHERE ws.workflow_uuid = ${runId}`.execute(t.db);
    expect(written.rows).toEqual([{ status: 'SUCCESS', owner_xid: null, same: true }]);
  });

  it("answers and writes as DBOS's own method: not the owner, the owner, then already finished", async () => {
    for (const [suffix, record] of [
      ['ours', (id: string, owner: string) => system.recordWorkflowOutput(id, status('"done"'), owner)],
      ['dbos', (id: string, owner: string) => dbosMethods(system).recordWorkflowOutput.call(system, id, status('"done"'), owner)],
    ] as const) {
      const id = `wf_outcome_${suffix}`;
      await pending(id, 'exec-a');
      // Another execution's outcome: nothing written, not even an orphan output row.
      expect([suffix, await record(id, 'exec-b')]).toEqual([suffix, false]);
      expect(await row(id)).toEqual({ status: 'PENDING', owner_xid: 'exec-a', deduplication_id: `dedup-${id}`, completed: false, output: null, error: null });
      expect([suffix, await record(id, 'exec-a')]).toEqual([suffix, true]);
      expect(await row(id)).toEqual({ status: 'SUCCESS', owner_xid: null, deduplication_id: null, completed: true, output: '"done"', error: null });
      // Finished: a second outcome is not written over it.
      expect([suffix, await record(id, 'exec-a')]).toEqual([suffix, false]);
    }
  });

  it("records no workflow error while the process stops, and DBOS's own outcome otherwise", async () => {
    // Installed by DbosService at launch, with its own stopping flag; here with the test's.
    expect(Object.hasOwn(system, 'recordWorkflowError')).toBe(true);
    let stopping = true;
    recordNoErrorWhileStopping(system, () => stopping);
    const error = { error: '{"json":{"name":"TypeError","message":"not launched"},"__dbos_serializer":"superjson"}' } as Parameters<
      DbosSystemDatabase['recordWorkflowError']
    >[1];
    const id = 'wf_error_while_stopping';
    await pending(id, 'exec-a');
    // The stop's own error: not recorded, the workflow stays PENDING with its owner for recovery.
    expect(await system.recordWorkflowError(id, error, 'exec-a')).toBe(false);
    expect(await row(id)).toEqual({ status: 'PENDING', owner_xid: 'exec-a', deduplication_id: `dedup-${id}`, completed: false, output: null, error: null });
    stopping = false;
    expect(await system.recordWorkflowError(id, error, 'exec-a')).toBe(true);
    expect(await row(id)).toMatchObject({ status: 'ERROR', owner_xid: null, completed: true });
  });
});
