import pg from 'pg';
import { createTestDatabase, testPool, type TestDatabase } from '../../../test/support/test-database.js';
import { waitFor } from '../../../test/support/wait.js';
import {
  DBOS_INTERNAL_QUEUE,
  ExecutorIdInUseError,
  ExecutorLock,
  registerExecutor,
  takeOverGoneExecutors,
  type ExecutorIdentity,
} from './executor-liveness.js';

const VERSION = 'liveness-1';
const APP = 'durable-ops';
const RECOVERY = { recoveryQueues: { IntentWorkflow: 'intents' } };

function identity(executorId: string): ExecutorIdentity {
  return { executorId, appVersion: VERSION, appName: APP };
}

describe('executor liveness: the lock, the sweep and app.v_ops_executors', () => {
  let database: TestDatabase;
  let sql: pg.Pool;
  const locks: ExecutorLock[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    sql = testPool(database.url, 6);
  });
  afterAll(async () => {
    for (const lock of locks) await lock.release();
    await sql?.end();
    await database?.drop();
  });

  async function lockOf(executorId: string, onLost: (reason: string) => void = () => undefined): Promise<ExecutorLock> {
    const lock = new ExecutorLock(database.url, executorId, onLost);
    await lock.acquire(2000);
    locks.push(lock);
    return lock;
  }

  async function plant(
    executorId: string,
    n: number,
    extra: { name?: string; queue?: string | null; status?: string; version?: string } = {},
  ): Promise<string[]> {
    const queue = extra.queue === undefined ? 'intents' : extra.queue;
    const tag = `${executorId}_${extra.name ?? 'run'}_${queue ?? 'direct'}_${extra.status ?? 'PENDING'}_${extra.version ?? VERSION}`;
    const ids = Array.from({ length: n }, (_, i) => `wf_${tag.replace(/\W/g, '_')}_${i}`);
    for (const id of ids)
      await sql.query(
        `INSERT INTO dbos.workflow_status (workflow_uuid, status, name, executor_id, application_version, application_name, queue_name, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, (EXTRACT(EPOCH FROM now()) * 1000)::bigint, (EXTRACT(EPOCH FROM now()) * 1000)::bigint)`,
        [id, extra.status ?? 'PENDING', extra.name ?? 'IntentWorkflow', executorId, extra.version ?? VERSION, APP, queue],
      );
    return ids;
  }

  async function statusOf(ids: string[]): Promise<{ workflow_uuid: string; status: string; queue_name: string | null; executor_id: string }[]> {
    return (
      await sql.query(`SELECT workflow_uuid, status, queue_name, executor_id FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[]) ORDER BY 1`, [ids])
    ).rows;
  }

  it('takes over a gone executor’s PENDING workflows once, onto their queues, and never a live one’s', async () => {
    await lockOf('sweeper-1');
    await lockOf('alive-1');
    await registerExecutor(sql, identity('gone-1'), 'worker');
    await registerExecutor(sql, identity('alive-1'), 'worker');
    const queued = await plant('gone-1', 3);
    const direct = await plant('gone-1', 2, { queue: null });
    const action = await plant('gone-1', 1, { name: 'OpsActionWorkflow', queue: null });
    const otherVersion = await plant('gone-1', 1, { version: 'liveness-0' });
    const done = await plant('gone-1', 1, { status: 'SUCCESS' });
    const live = await plant('alive-1', 2);

    const takeovers = await takeOverGoneExecutors(sql, identity('sweeper-1'), RECOVERY);
    expect(takeovers.map((t) => t.executorId)).toEqual(['gone-1']);
    expect([...takeovers[0]!.workflowIds].sort()).toEqual([...queued, ...direct, ...action].sort());

    const after = new Map((await statusOf([...queued, ...direct, ...action, ...otherVersion, ...done, ...live])).map((r) => [r.workflow_uuid, r]));
    for (const id of [...queued, ...direct]) expect(after.get(id)).toMatchObject({ status: 'ENQUEUED', queue_name: 'intents' });
    expect(after.get(action[0]!)).toMatchObject({ status: 'ENQUEUED', queue_name: DBOS_INTERNAL_QUEUE });
    // Another version's runs wait for a process of that version; a live executor's runs stay its own.
    expect(after.get(otherVersion[0]!)).toMatchObject({ status: 'PENDING', executor_id: 'gone-1' });
    expect(after.get(done[0]!)).toMatchObject({ status: 'SUCCESS' });
    for (const id of live) expect(after.get(id)).toMatchObject({ status: 'PENDING', executor_id: 'alive-1' });

    // Nothing left to take: a second sweep is a no-op.
    expect(await takeOverGoneExecutors(sql, identity('sweeper-1'), RECOVERY)).toEqual([]);

    const view = (await sql.query(`SELECT executor, role, alive, last_seen, runs_held, workflows_held, taken_over_by FROM app.v_ops_executors`)).rows;
    expect(view.find((r) => r.executor === 'gone-1')).toMatchObject({
      alive: false,
      role: 'worker',
      runs_held: '1',
      workflows_held: '1',
      taken_over_by: 'sweeper-1',
    });
    expect(view.find((r) => r.executor === 'alive-1')).toMatchObject({ alive: true, role: 'worker', runs_held: '2' });
    // An executor that neither registered nor holds work is not listed.
    expect(view.find((r) => r.executor === 'sweeper-1')).toBeUndefined();
  });

  it('two sweepers racing on the same gone executor re-enqueue each workflow exactly once', async () => {
    const pools = [testPool(database.url, 2), testPool(database.url, 2)];
    try {
      for (let round = 0; round < 5; round++) {
        const ids = await plant(`racing-${round}`, 20, { queue: round % 2 === 0 ? 'intents' : null });
        const [a, b] = await Promise.all([
          takeOverGoneExecutors(pools[0]!, identity('racer-a'), RECOVERY),
          takeOverGoneExecutors(pools[1]!, identity('racer-b'), RECOVERY),
        ]);
        const taken = [...a, ...b].flatMap((t) => t.workflowIds);
        expect(taken.sort()).toEqual([...ids].sort());
        expect((await statusOf(ids)).every((r) => r.status === 'ENQUEUED')).toBe(true);
      }
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('one live process per executor ID; a lost liveness connection is reported at once (fail-stop)', async () => {
    let lostReason: string | undefined;
    const lock = await lockOf('solo-1', (reason) => (lostReason = reason));
    const twin = new ExecutorLock(database.url, 'solo-1', () => undefined);
    await expect(twin.acquire(300)).rejects.toBeInstanceOf(ExecutorIdInUseError);
    expect((await sql.query(`SELECT alive FROM app.v_ops_executors WHERE executor = 'solo-1'`)).rows).toEqual([]);
    await registerExecutor(sql, identity('solo-1'), 'all');
    expect((await sql.query(`SELECT alive FROM app.v_ops_executors WHERE executor = 'solo-1'`)).rows).toEqual([{ alive: true }]);

    // Postgres ends the lock's backend (an admin, a failover, a partition seen from the server).
    await sql.query('SELECT pg_terminate_backend($1)', [lock.backendPid]);
    await waitFor('the lock owner to hear it lost its lock', () => Promise.resolve(lostReason), 5000, 20);
    expect(lock.held).toBe(false);
    // The client hears of it as the backend exits; the lock is free once the backend is gone.
    await waitFor(
      'the view to show solo-1 gone',
      async () => ((await sql.query(`SELECT alive FROM app.v_ops_executors WHERE executor = 'solo-1'`)).rows[0]?.alive === false ? true : undefined),
      5000,
      20,
    );
    // The ID is free again: a replacement under it boots.
    await lockOf('solo-1');
  });
});
