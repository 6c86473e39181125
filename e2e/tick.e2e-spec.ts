import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.js';
import { waitFor } from '../test/support/wait.js';
import { freePort, startService, type ServiceProcess } from './support/service-process.js';

const EVERY_MS = 2000;

/**
 * Exactly one tick per interval, also across downtime: the service is killed with -9, stays down for
 * several intervals, and on restart DBOS's automatic backfill catches up every missed interval once.
 */
describe('the scheduled tick across downtime', () => {
  let database: TestDatabase;
  let service: ServiceProcess | undefined;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  afterAll(async () => {
    if (service && service.child.exitCode === null) service.child.kill('SIGKILL');
    await client?.end();
    await database?.drop();
  });

  async function snapshots(): Promise<{ tick_id: string; scheduled_for: Date }[]> {
    return (await client.query<{ tick_id: string; scheduled_for: Date }>('SELECT tick_id, scheduled_for FROM app.ops_snapshots ORDER BY scheduled_for')).rows;
  }

  it('records one snapshot per 2 s interval before, during and after a kill -9', async () => {
    const port = await freePort();
    const env = { DATABASE_URL: database.url, DBOS_EXECUTOR_ID: 'tick-e2e', OPS_TICK_SCHEDULE: '*/2 * * * * *' };
    service = await startService('tick-e2e', env, port);
    await waitFor('three ticks', async () => ((await snapshots()).length >= 3 ? true : undefined), 30_000);

    service.child.kill('SIGKILL');
    await service.exited();
    const downAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 4 * EVERY_MS + 500));

    service = await startService('tick-e2e', env, port);
    const upAt = Date.now();
    await waitFor(
      'ticks to cover the downtime and two intervals after it',
      async () => {
        const rows = await snapshots();
        return rows.length > 0 && rows.at(-1)!.scheduled_for.getTime() >= upAt + EVERY_MS ? rows : undefined;
      },
      60_000,
    );
    service.child.kill('SIGTERM');
    await service.exited();

    const rows = await snapshots();
    const times = rows.map((r) => r.scheduled_for.getTime());
    // One per interval: consecutive, no gaps, no duplicates — including the ones missed while down.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(EVERY_MS);
    expect(times.some((time) => time > downAt && time < upAt)).toBe(true);
    expect(new Set(rows.map((r) => r.tick_id)).size).toBe(rows.length);

    // One workflow per interval (deterministic IDs), and one snapshot per finished tick. Ticks enqueued
    // just before the SIGTERM may not have run yet: they are later than the last snapshot.
    const workflows = await client.query<{ n: string; distinct_ids: string; succeeded: string }>(
      `SELECT count(*) AS n, count(DISTINCT workflow_uuid) AS distinct_ids, count(*) FILTER (WHERE status = 'SUCCESS') AS succeeded
         FROM dbos.workflow_status WHERE name = 'OpsTickWorkflow'`,
    );
    expect(Number(workflows.rows[0]!.n)).toBe(Number(workflows.rows[0]!.distinct_ids));
    expect(Number(workflows.rows[0]!.succeeded)).toBe(rows.length);
  });
});
