import { jest } from '@jest/globals';
import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { sql } from 'kysely';
import pg from 'pg';
import { runToEnd } from '../../../test/support/runs.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { type DbosSystemDatabase, dbosMethods } from './dbos-system.js';

type Queue = Parameters<DbosSystemDatabase['findAndMarkStartableWorkflows']>[0];
type Claim = (queue: Queue, appVersion: string, localRunningCount: number, ownerXid: string) => Promise<string[]>;

/** The columns a claim writes, with the deadline as its distance from the start (both stamped by the server). */
const CLAIMED = sql.raw(`workflow_uuid, status, executor_id, application_version, owner_xid, rate_limited, application_name,
  recovery_attempts, started_at_epoch_ms IS NOT NULL AS started, workflow_deadline_epoch_ms - started_at_epoch_ms AS deadline_after_start`);

/**
 * A poll of a queue this worker claims alone is one statement (queue-claim.ts) where DBOS 5.3 sends a
 * transaction of four or five: the same rows claimed, in the same order, with the same columns, rows
 * another transaction holds skipped, and nothing sent when there is no room. DBOS's own method stays
 * on the prototype; every other queue goes to it.
 */
describe("a queue's claim in one statement, as DBOS claims", () => {
  let t: TestApp;
  let system: DbosSystemDatabase;
  let dbos: DbosSystemDatabase;
  let claims: [string, Claim][];
  let latest: string;

  beforeAll(async () => {
    // Every run goes through the intents queue: this app's worker claims them all through the statement.
    t = await startTestApp({ RUN_DIRECT_START: 'off' });
    system = DBOSExecutor.globalInstance!.systemDatabase;
    dbos = dbosMethods(system);
    claims = [
      ['ours', (queue, version, running, owner) => system.findAndMarkStartableWorkflows(queue, 'exec-claim', version, undefined, running, 0, owner)],
      ['sdk', (queue, version, running, owner) => dbos.findAndMarkStartableWorkflows.call(system, queue, 'exec-claim', version, undefined, running, 0, owner)],
    ];
    latest = (await sql<{ v: string }>`SELECT version_name AS v FROM dbos.application_versions ORDER BY version_timestamp DESC LIMIT 1`.execute(t.db)).rows[0]!
      .v;
  });
  afterAll(async () => {
    await t?.close();
  });

  /** An ENQUEUED workflow on `queue`, with the version, priority, creation time and timeout given. */
  const enqueue = async (
    id: string,
    queue: string,
    version: string | null,
    priority: number,
    createdAt: number,
    timeoutMs: number | null = null,
  ): Promise<void> => {
    await system.initWorkflowStatus(
      {
        workflowUUID: id,
        status: 'ENQUEUED',
        workflowName: 'ClaimProbe',
        workflowClassName: '',
        workflowConfigName: '',
        queueName: queue,
        authenticatedUser: '',
        output: null,
        error: null,
        input: '{"json":[],"__dbos_serializer":"superjson"}',
        assumedRole: '',
        authenticatedRoles: [],
        executorId: 'exec-enqueuer',
        applicationVersion: version ?? undefined,
        applicationID: '',
        priority,
        serialization: 'js_superjson',
        ...(timeoutMs !== null ? { timeoutMS: timeoutMs } : {}),
      },
      null,
    );
    await sql`UPDATE dbos.workflow_status SET application_version = ${version}, created_at = ${createdAt} WHERE workflow_uuid = ${id}`.execute(t.db);
  };
  const rows = async (queue: string): Promise<Record<string, unknown>[]> =>
    (await sql<Record<string, unknown>>`SELECT ${CLAIMED} FROM dbos.workflow_status WHERE queue_name = ${queue} ORDER BY workflow_uuid`.execute(t.db)).rows;

  it('is installed, and a run that went through the queue runs to its end', async () => {
    expect(Object.hasOwn(system, 'findAndMarkStartableWorkflows')).toBe(true);
    const { runId, run } = await runToEnd(t);
    expect(run.dbosStatus).toBe('SUCCESS');
    const queued = await sql<{ queue_name: string | null }>`SELECT queue_name FROM dbos.workflow_status WHERE workflow_uuid = ${runId}`.execute(t.db);
    expect(queued.rows).toEqual([{ queue_name: 'intents' }]);
  });

  it('claims what DBOS claims, in its order and with its columns: versions, priorities, room, locked rows, timeouts', async () => {
    const seen: unknown[] = [];
    for (const [who, claim] of claims) {
      const q = `claim_probe_${who}`;
      const t0 = 1_700_000_000_000;
      const id = (name: string): string => `wf_claim_${who}_${name}`;
      await enqueue(id('a'), q, latest, 1, t0 + 3);
      await enqueue(id('b'), q, null, 1, t0 + 1);
      await enqueue(id('c'), q, 'another-version', 0, t0);
      await enqueue(id('d'), q, latest, 0, t0 + 5, 60_000);
      await enqueue(id('i'), q, null, 2, t0);
      await enqueue(id('f'), q, latest, 0, t0);
      await enqueue(id('other_queue'), `${q}_elsewhere`, latest, 0, t0);
      const queue = { name: q, workerConcurrency: 3 } as Queue;
      const steps: Record<string, string[]> = {};
      // A version that is not the latest claims only its own rows (not the NULL ones).
      steps.otherVersion = await claim(queue, 'another-version', 0, `owner-${who}-1`);
      // Another transaction holds f: skipped, not waited for.
      const holder = new pg.Client({ connectionString: t.systemDatabaseUrl });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM dbos.workflow_status WHERE workflow_uuid = $1 FOR UPDATE', [id('f')]);
        // Room for two (three slots, one running): by priority, then age.
        steps.roomForTwo = await claim(queue, latest, 1, `owner-${who}-2`);
        steps.therest = await claim(queue, latest, 0, `owner-${who}-3`);
      } finally {
        await holder.query('ROLLBACK');
        await holder.end();
      }
      // No room: nothing claimed.
      steps.noRoom = await claim(queue, latest, 3, `owner-${who}-4`);
      steps.released = await claim(queue, latest, 0, `owner-${who}-5`);
      steps.empty = await claim(queue, latest, 0, `owner-${who}-6`);
      seen.push(JSON.parse(JSON.stringify({ steps, rows: await rows(q) }).replaceAll(who, '*')));
    }
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]).toMatchObject({
      steps: {
        otherVersion: ['wf_claim_*_c'],
        roomForTwo: ['wf_claim_*_d', 'wf_claim_*_b'],
        therest: ['wf_claim_*_a', 'wf_claim_*_i'],
        noRoom: [],
        released: ['wf_claim_*_f'],
        empty: [],
      },
    });
    const d = (seen[0] as { rows: Record<string, unknown>[] }).rows.find((r) => r.workflow_uuid === 'wf_claim_*_d');
    expect(d).toMatchObject({
      status: 'PENDING',
      executor_id: 'exec-claim',
      owner_xid: 'owner-*-2',
      rate_limited: false,
      recovery_attempts: '1',
      started: true,
      deadline_after_start: '60000',
    });
  });

  it('sends nothing when the worker has no room', async () => {
    // Every statement of a claim goes through a connection it checks out (DBOS's sends BEGIN and COMMIT
    // on one). The app's own worker polls meanwhile (a connection every 50 ms at most): 50 claims
    // without room must check out (nearly) none, 50 with room one each.
    const connections = jest.spyOn(system, 'connect');
    const queue = { name: 'claim_probe_full', workerConcurrency: 2 } as Queue;
    try {
      for (let i = 0; i < 50; i++) expect(await system.findAndMarkStartableWorkflows(queue, 'exec-claim', latest, undefined, 2, 0, 'x')).toEqual([]);
      expect(connections.mock.calls.length).toBeLessThanOrEqual(2);
      connections.mockClear();
      for (let i = 0; i < 50; i++) await system.findAndMarkStartableWorkflows(queue, 'exec-claim', latest, undefined, 1, 0, 'x');
      expect(connections.mock.calls.length).toBeGreaterThanOrEqual(50);
    } finally {
      connections.mockRestore();
    }
  });

  it('leaves every other queue to DBOS: a shared budget, a partition, a rate limit', async () => {
    const sdk = jest.spyOn(dbos, 'findAndMarkStartableWorkflows');
    try {
      await system.findAndMarkStartableWorkflows(
        { name: 'claim_probe_shared', workerConcurrency: 2, concurrency: 4 } as Queue,
        'exec-claim',
        latest,
        undefined,
        0,
        0,
        'x',
      );
      await system.findAndMarkStartableWorkflows(
        { name: 'claim_probe_rated', workerConcurrency: 2, rateLimit: { limitPerPeriod: 5, periodSec: 1 } } as Queue,
        'exec-claim',
        latest,
        undefined,
        0,
        0,
        'x',
      );
      await system.findAndMarkStartableWorkflows(
        { name: 'claim_probe_parted', workerConcurrency: 2, partitionConcurrency: 1 } as Queue,
        'exec-claim',
        latest,
        'p1',
        0,
        0,
        'x',
      );
      expect(sdk).toHaveBeenCalledTimes(3);
    } finally {
      sdk.mockRestore();
    }
  });
});
