import { Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { sql } from 'kysely';
import { runToEnd } from '../../../test/support/runs.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { type DbosSystemDatabase, dbosMethods } from './dbos-system.js';

type InitStatus = Parameters<DbosSystemDatabase['initWorkflowStatus']>[0];
type Start = (
  status: InitStatus,
  creatorXid: string | null,
  reusePolicy?: 'reject' | 'return-existing',
) => ReturnType<DbosSystemDatabase['initWorkflowStatus']>;

/** Every column DBOS writes at a start, but the ID and the times the server stamps. */
const COLUMNS = sql.raw(`ws.status, ws.name, ws.class_name, ws.config_name, ws.queue_name, ws.authenticated_user, ws.assumed_role,
  ws.authenticated_roles, ws.executor_id, ws.application_version, ws.application_id, ws.recovery_attempts, ws.workflow_timeout_ms,
  ws.workflow_deadline_epoch_ms, ws.inputs, ws.deduplication_id, ws.priority, ws.queue_partition_key, ws.forked_from,
  ws.parent_workflow_id, ws.serialization, ws.creator_xid, ws.delay_until_epoch_ms, ws.attributes, ws.schedule_name,
  ws.debounce_deadline_epoch_ms, ws.is_debounced, ws.application_name, ws.owner_xid, wi.inputs AS input`);

/**
 * A workflow's start is one statement (workflow-start.ts) where DBOS 5.3 sends four: the same rows,
 * the same answers and the same errors as DBOS's own method, which stays on the prototype.
 */
describe("a workflow's start in one statement, as DBOS writes it", () => {
  let t: TestApp;
  let system: DbosSystemDatabase;
  let starts: [string, Start][];

  beforeAll(async () => {
    t = await startTestApp();
    system = DBOSExecutor.globalInstance!.systemDatabase;
    const dbos = dbosMethods(system);
    starts = [
      ['ours', (status, creatorXid, reusePolicy) => system.initWorkflowStatus(status, creatorXid, undefined, reusePolicy)],
      ['sdk', (status, creatorXid, reusePolicy) => dbos.initWorkflowStatus.call(system, status, creatorXid, undefined, reusePolicy)],
    ];
  });
  afterAll(async () => {
    await t?.close();
  });

  const status = (id: string, changes: Partial<InitStatus> = {}): InitStatus => ({
    workflowUUID: id,
    status: 'PENDING',
    workflowName: 'StartProbe',
    workflowClassName: '',
    workflowConfigName: '',
    authenticatedUser: 'someone',
    output: null,
    error: null,
    input: '{"json":[1,"two"],"__dbos_serializer":"superjson"}',
    assumedRole: 'role',
    authenticatedRoles: ['a', 'b'],
    executorId: 'exec-start',
    applicationVersion: 'v-start',
    applicationID: 'app',
    timeoutMS: 60_000,
    deadlineEpochMS: 1_900_000_000_000,
    priority: 3,
    serialization: 'js_superjson',
    attributes: { team: 'ops' },
    applicationName: 'durable-ops',
    ...changes,
  });
  const stored = async (id: string): Promise<Record<string, unknown> | undefined> =>
    (
      await sql<
        Record<string, unknown>
      >`SELECT ${COLUMNS} FROM dbos.workflow_status ws LEFT JOIN dbos.workflow_input wi USING (workflow_uuid) WHERE ws.workflow_uuid = ${id}`.execute(t.db)
    ).rows[0];
  const inputRows = async (id: string): Promise<number> =>
    (await sql<{ n: number }>`SELECT count(*)::int AS n FROM dbos.workflow_input WHERE workflow_uuid = ${id}`.execute(t.db)).rows[0]!.n;
  const failure = async (attempt: Promise<unknown>): Promise<string> =>
    attempt.then(
      () => 'no error',
      (error: Error) => `${error.constructor.name}: ${error.message}`,
    );

  it('is installed, and a run started through it runs to its end with its input stored', async () => {
    expect(Object.hasOwn(system, 'initWorkflowStatus')).toBe(true);
    const { runId } = await runToEnd(t);
    const written = await sql<{ status: string; input: string }>`
      SELECT ws.status, wi.inputs AS input FROM dbos.workflow_status ws JOIN dbos.workflow_input wi USING (workflow_uuid) WHERE ws.workflow_uuid = ${runId}`.execute(
      t.db,
    );
    expect(written.rows).toEqual([{ status: 'SUCCESS', input: expect.stringContaining(runId) }]);
  });

  it('writes the same rows and answers the same for a direct start and an enqueue', async () => {
    const seen: Record<string, unknown>[] = [];
    for (const [who, start] of starts) {
      const direct = `wf_start_direct_${who}`;
      const queued = `wf_start_queued_${who}`;
      const answers = [
        await start(status(direct), 'creator-1'),
        await start(status(queued, { status: 'ENQUEUED', queueName: 'intents', deduplicationID: `dedup-${who}`, queuePartitionKey: 'p1' }), 'creator-2'),
      ];
      // The deduplication IDs differ by who wrote them (they are unique on the queue); all else is equal.
      seen.push(
        JSON.parse(JSON.stringify({ answers, direct: await stored(direct), queued: await stored(queued) }).replaceAll(who, '*')) as Record<string, unknown>,
      );
    }
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]).toMatchObject({
      answers: [
        { status: 'PENDING', shouldExecuteOnThisExecutor: true, serialization: 'js_superjson' },
        { status: 'ENQUEUED', shouldExecuteOnThisExecutor: true, serialization: 'js_superjson' },
      ],
      direct: { owner_xid: 'creator-1', creator_xid: 'creator-1', recovery_attempts: '1', input: '{"json":[1,"two"],"__dbos_serializer":"superjson"}' },
      queued: { owner_xid: null, creator_xid: 'creator-2', recovery_attempts: '0', queue_name: 'intents', deduplication_id: 'dedup-*' },
    });
  });

  it('hands an existing workflow back unchanged, to its creator and to anyone else', async () => {
    for (const [who, start] of starts) {
      const id = `wf_start_again_${who}`;
      await start(status(id), 'creator-1');
      const before = await stored(id);
      const again = status(id, { input: '"another input"', priority: 9, serialization: null });
      expect([who, await start(again, 'creator-2')]).toEqual([who, { status: 'PENDING', shouldExecuteOnThisExecutor: false, serialization: 'js_superjson' }]);
      // DBOS hands the stored serialization back on the status it was given.
      expect(again.serialization).toBe('js_superjson');
      expect([who, await start(status(id), 'creator-1')]).toEqual([
        who,
        { status: 'PENDING', shouldExecuteOnThisExecutor: true, serialization: 'js_superjson' },
      ]);
      expect([who, await stored(id)]).toEqual([who, before]);
    }
  });

  it('refuses as DBOS does, and writes nothing new: a reused ID under reject, another workflow, a duplicate deduplication ID', async () => {
    const refusals: string[][] = [];
    for (const [who, start] of starts) {
      const id = `wf_start_refused_${who}`;
      await start(status(id, { status: 'ENQUEUED', queueName: 'intents', deduplicationID: `same-${who}` }), 'creator-1');
      const before = await stored(id);
      const duplicate = `wf_start_duplicate_${who}`;
      refusals.push(
        [
          await failure(start(status(id, { status: 'ENQUEUED', queueName: 'intents' }), 'creator-2', 'reject')),
          await failure(start(status(id, { workflowName: 'OtherWorkflow', status: 'ENQUEUED', queueName: 'intents' }), 'creator-2')),
          await failure(start(status(id, { workflowClassName: 'OtherClass', status: 'ENQUEUED', queueName: 'intents' }), 'creator-2')),
          await failure(start(status(duplicate, { status: 'ENQUEUED', queueName: 'intents', deduplicationID: `same-${who}` }), 'creator-3')),
        ].map((text) => text.replaceAll(who, '*')),
      );
      expect([who, await stored(id)]).toEqual([who, before]);
      expect([who, await stored(duplicate), await inputRows(duplicate)]).toEqual([who, undefined, 0]);
    }
    expect(refusals[0]).toEqual(refusals[1]);
    expect(refusals[0]).toEqual([
      expect.stringContaining(DBOSErrors.DBOSWorkflowIDInUseError.name),
      expect.stringContaining(`${DBOSErrors.DBOSConflictingWorkflowError.name}: `),
      expect.stringContaining('different class name'),
      expect.stringContaining(DBOSErrors.DBOSQueueDuplicatedError.name),
    ]);
  });
});
