import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

const CONCURRENCY = 3;
const RUNS = 12;

/**
 * How a run starts: in the POSTing process when it has a free slot, else through the `intents`
 * queue; both paths share the process's RUN_CONCURRENCY. A downstream server that holds every
 * request counts how many runs execute at once.
 */
describe('run start: direct when there is room, queued beyond it, never over RUN_CONCURRENCY', () => {
  let t: TestApp;
  let server: Server;
  const held: ServerResponse[] = [];
  let inFlight = 0;
  let peak = 0;
  let served = 0;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      inFlight++;
      peak = Math.max(peak, inFlight);
      held.push(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    t = await startTestApp({ RUN_CONCURRENCY: String(CONCURRENCY), HTTP_CONNECTOR_ALLOWLIST: `http://127.0.0.1:${port}/` });
    const intent = await t.request('POST', '/api/intents', {
      goal: 'call a slow server',
      inputs: { tasks: [{ connector: 'http', args: { method: 'POST', url: `http://127.0.0.1:${port}/slow` } }] },
      constraints: {},
    });
    expect([200, 201]).toContain(intent.status);
    intentId = intent.body.intentId as string;
  });
  let intentId = '';

  afterAll(async () => {
    for (const res of held.splice(0)) res.end('{}');
    await t?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function releaseHeld(): void {
    for (const res of held.splice(0)) {
      inFlight--;
      served++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    }
  }

  it(`starts the first ${CONCURRENCY} runs directly, queues the rest, and never executes more than ${CONCURRENCY} at once`, async () => {
    const runIds: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const res = await t.request('POST', '/api/runs', { intentId });
      expect(res.status).toBe(202);
      runIds.push(res.body.runId as string);
    }
    while (served < RUNS) {
      await waitFor(
        'the runs in slots to call the server',
        () => Promise.resolve(inFlight === Math.min(CONCURRENCY, RUNS - served) ? true : undefined),
        20_000,
        20,
      );
      releaseHeld();
    }
    await waitFor(
      'every run to succeed',
      async () => {
        const { rows } = await sql<{
          n: string;
        }>`SELECT count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid IN (${sql.join(runIds)}) AND status = 'SUCCESS'`.execute(t.db);
        return Number(rows[0]?.n) === RUNS ? true : undefined;
      },
      20_000,
    );
    expect(peak).toBe(CONCURRENCY);

    const { rows } = await sql<{ workflow_uuid: string; queue_name: string | null; executor_id: string }>`
      SELECT workflow_uuid, queue_name, executor_id FROM dbos.workflow_status WHERE workflow_uuid IN (${sql.join(runIds)})`.execute(t.db);
    const direct = rows.filter((r) => r.queue_name === null);
    const queued = rows.filter((r) => r.queue_name === 'intents');
    // The first CONCURRENCY POSTs found free slots; the rest overflowed to the queue.
    expect(direct.map((r) => r.workflow_uuid).sort()).toEqual(runIds.slice(0, CONCURRENCY).sort());
    expect(queued).toHaveLength(RUNS - CONCURRENCY);
    // A direct start is recorded under this process's executor ID, so it is recovered like a dequeued run.
    expect(new Set(rows.map((r) => r.executor_id))).toEqual(new Set([`test-${t.database.name}`]));
  });
});
