import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { sql } from 'kysely';
import { newRunId } from '#common';
import { DEFAULT_QUEUE, QUEUES } from '#dbos';
import { IntentWorkflow } from '#data-plane';
import { RunsRepository } from '#runs';
import { cliEnv, OPS_CLI, runScript, type ScriptResult } from '../../tools/harness/index.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { startRun as startRunOf } from '../support/runs.js';

/**
 * The state rules as one matrix, against real DBOS: an IntentWorkflow run is driven into each DBOS
 * status, and every control action on it is asserted through the API (/api/ops/wf) and the built ops
 * CLI (its --dry-run prediction, then the real action): the answer (202, or 409 with the README's
 * message) and what it did to the run (or that it changed nothing). Each row is one status; change a
 * row when a rule changes.
 *
 * How each status is reached: PENDING by a durable sleep (delayMs) or by a task whose HTTP effect
 * this test holds unanswered (mid-ExecuteST); ENQUEUED by filling the queue's worker slots with such
 * held runs first; DELAYED by DBOS's own enqueue delay (delaySeconds); SUCCESS, ERROR by running to
 * the end; CANCELLED by a cancel of a DELAYED run (one that never took a queue slot).
 * MAX_RECOVERY_ATTEMPTS_EXCEEDED is planted with SQL on such a cancelled run: the real path (a process dying mid-run more than DBOS's default of 100 recovery
 * attempts) is too slow for a test.
 */
const OPERATOR = 'matrix-operator-token-0123456789';
const op = { authorization: `Bearer ${OPERATOR}` };

type Op = 'cancel' | 'resume' | 'fork';
type Fixture = 'sleeping' | 'executing' | 'enqueued' | 'delayed' | 'success' | 'error' | 'cancelled' | 'maxRecovery';
/** What an accepted action does to the run. */
type Effect =
  /** DBOS CANCELLED, app.runs canceled. */
  | 'cancelled'
  /** Resume of an ENQUEUED run: DBOS re-enqueues it in its place, so with every slot held it is still ENQUEUED. */
  | 'stays-queued'
  /** Resume of a DELAYED run: the rest of its delay is skipped, it is queued now and starts in turn. */
  | 'delay-ends'
  /** Leaves CANCELLED / MAX_RECOVERY_ATTEMPTS_EXCEEDED: back on its queue (or already running or done). */
  | 'requeued'
  /** A new workflow forked from it; the run itself is unchanged. */
  | 'forked';
type Expected = { readonly answer: 202; readonly effect: Effect; readonly dryRun: string } | { readonly answer: 409; readonly message: (id: string) => string };

// The README's 409 messages (control plane table), written out here rather than taken from the code.
const cannotCancel = (status: string) => (id: string) => `workflow ${id} is ${status}; only PENDING, ENQUEUED, DELAYED workflows can be cancelled`;
const cannotResume = (status: string) => (id: string) =>
  `workflow ${id} is ${status}; only CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED, ENQUEUED, DELAYED workflows can be resumed`;
const cannotFork = (status: string) => (id: string) =>
  `workflow ${id} is ${status}; only finished workflows (SUCCESS, ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED) can be forked`;
const accept = (effect: Effect, dryRun: string): Expected => ({ answer: 202, effect, dryRun });
const conflict = (message: (id: string) => string): Expected => ({ answer: 409, message });
const CANCEL = accept('cancelled', 'would cancel');
const FORK = accept('forked', 'would fork at step 1');

interface Row {
  readonly fixture: Fixture;
  readonly status: string;
  readonly cancel: Expected;
  readonly resume: Expected;
  readonly fork: Expected;
}

// prettier-ignore
const MATRIX: readonly Row[] = [
  { fixture: 'enqueued',    status: 'ENQUEUED',                       cancel: CANCEL, resume: accept('stays-queued', 'would resume (it stays queued on its queue, in its place)'), fork: conflict(cannotFork('ENQUEUED')) },
  { fixture: 'delayed',     status: 'DELAYED',                        cancel: CANCEL, resume: accept('delay-ends', 'would resume (its delay ends: queued now, it starts in turn)'), fork: conflict(cannotFork('DELAYED')) },
  { fixture: 'sleeping',    status: 'PENDING',                        cancel: CANCEL, resume: conflict(cannotResume('PENDING')),                                   fork: conflict(cannotFork('PENDING')) },
  { fixture: 'executing',   status: 'PENDING',                        cancel: CANCEL, resume: conflict(cannotResume('PENDING')),                                   fork: conflict(cannotFork('PENDING')) },
  { fixture: 'success',     status: 'SUCCESS',                        cancel: conflict(cannotCancel('SUCCESS')), resume: conflict(cannotResume('SUCCESS')),        fork: FORK },
  { fixture: 'error',       status: 'ERROR',                          cancel: conflict(cannotCancel('ERROR')),   resume: conflict(cannotResume('ERROR')),          fork: FORK },
  { fixture: 'cancelled',   status: 'CANCELLED',                      cancel: conflict(cannotCancel('CANCELLED')), resume: accept('requeued', 'would resume'), fork: FORK },
  { fixture: 'maxRecovery', status: 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', cancel: conflict(cannotCancel('MAX_RECOVERY_ATTEMPTS_EXCEEDED')), resume: accept('requeued', 'would resume'), fork: FORK },
];
const OPS: readonly Op[] = ['cancel', 'resume', 'fork'];
const CHANNELS = ['api', 'cli'] as const;
type Channel = (typeof CHANNELS)[number];
/** Rows acted on first: once a held run is cancelled a queue slot frees and a queued run may start. */
const QUEUED: readonly Fixture[] = ['enqueued', 'delayed'];

/** A downstream server that holds every request until released: its runs stay mid-ExecuteST. */
class HoldingServer {
  private readonly held: ServerResponse[] = [];
  readonly paths: string[] = [];
  private server: Server | undefined;
  prefix = '';

  async start(): Promise<void> {
    this.server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      this.paths.push(request.url ?? '');
      this.held.push(response);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.prefix = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/held`;
  }

  async close(): Promise<void> {
    for (const response of this.held.splice(0)) if (!response.writableEnded) response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('state rules: every DBOS status × every action, through the API and the CLI', () => {
  let t: TestApp;
  const holding = new HoldingServer();
  /** targets[fixture][channel][op]: a run of its own for each action (an accepted one changes it). */
  const targets = new Map<string, string>();
  /** Each target's audit rows once its fixture is ready (a cancelled fixture has its cancel's row). */
  const opsBefore = new Map<string, string[]>();
  const key = (fixture: Fixture, channel: Channel, o: Op): string => `${fixture}/${channel}/${o}`;
  const target = (fixture: Fixture, channel: Channel, o: Op): string => targets.get(key(fixture, channel, o))!;

  const status = async (id: string): Promise<string | undefined> => (await DBOS.getWorkflowStatus(id))?.status;
  const awaitStatus = (id: string, want: readonly string[], timeoutMs = 30_000): Promise<string> =>
    waitFor(
      `${id} to be ${want.join('|')}`,
      async () => {
        const s = await status(id);
        return s !== undefined && want.includes(s) ? s : undefined;
      },
      timeoutMs,
      50,
    );
  const opsRows = async (id: string): Promise<{ op: string; action_id: string | null }[]> =>
    (
      await sql<{
        op: string;
        action_id: string | null;
      }>`SELECT inline ->> 'op' AS op, action_id FROM app.artifacts WHERE step_id = 'OPS' AND run_id = ${id}`.execute(t.db)
    ).rows;
  const forksOf = async (id: string): Promise<string[]> =>
    (await sql<{ workflow_uuid: string }>`SELECT workflow_uuid FROM dbos.workflow_status WHERE forked_from = ${id}`.execute(t.db)).rows.map(
      (r) => r.workflow_uuid,
    );

  const startRun = (tasks: unknown[], constraints: Record<string, unknown> = {}): Promise<string> => startRunOf(t, tasks, constraints, 'state matrix');
  const echo = [{ connector: 'echo', args: { value: 'matrix' } }];
  // A delayed run waits DELAYED on the queue; cancelled and resumed, it runs its first steps and
  // sleeps the rest of its delay (counted from its creation) in this process: PENDING, in DBOS.sleep.
  const sleeping = async (): Promise<string> => {
    const id = await startRun(echo, { delayMs: 3_600_000 });
    await awaitStatus(id, ['DELAYED']);
    for (const verb of ['cancel', 'resume']) {
      const res = await t.request('POST', `/api/ops/wf/${id}/${verb}`, { actor: 'matrix', reason: 'fixture' }, op);
      if (res.status !== 202) throw new Error(`fixture ${verb} of ${id} answered ${res.status}: ${res.text}`);
    }
    await waitFor(`${id} to sleep`, async () => {
      const steps = (await t.request('GET', `/api/runs/${id}/steps`)).body.steps as { name: string }[] | undefined;
      return (await status(id)) === 'PENDING' && steps?.some((s) => s.name === 'DBOS.sleep') ? true : undefined;
    });
    return id;
  };
  const held = (label: string): Promise<string> =>
    startRun([{ connector: 'http', args: { method: 'POST', url: `${holding.prefix}/${label}`, body: { label } } }], {
      taskTimeoutMs: 3_600_000,
      maxAttempts: 1,
    });

  const cli = (args: string[], ids: readonly string[]): Promise<ScriptResult> =>
    runScript(OPS_CLI, [...args, '--actor', 'matrix', '--reason', 'state matrix'], cliEnv(t.database.url), ids.join('\n') + '\n');
  const cliArgs = (o: Op, dryRun: boolean): string[] => [...(o === 'fork' ? ['fork', '--step', '1'] : [o]), ...(dryRun ? ['--dry-run'] : [])];
  const lineOf = (stdout: string, id: string): string =>
    stdout.split('\n').find((line) => line.startsWith(`${id} `) || line.startsWith(`${id}\t`)) ?? `(no line for ${id})`;

  beforeAll(async () => {
    if (!existsSync(OPS_CLI)) throw new Error(`${OPS_CLI} is missing: run npm run build first`);
    await holding.start();
    // Every run through the queue (no direct start), so the queue's worker slots can be filled.
    t = await startTestApp({ OPS_API_TOKENS: `matrix:operator:${OPERATOR}`, HTTP_CONNECTOR_ALLOWLIST: holding.prefix, RUN_DIRECT_START: 'off' });
    const each = async (fixture: Fixture, make: (label: string) => Promise<string>): Promise<void> => {
      for (const channel of CHANNELS) for (const o of OPS) targets.set(key(fixture, channel, o), await make(key(fixture, channel, o)));
    };
    const all = (fixture: Fixture): string[] => CHANNELS.flatMap((c) => OPS.map((o) => target(fixture, c, o)));

    // Finished runs.
    await each('success', () => startRun(echo));
    await each('error', () => startRun([{ connector: 'fault', args: { mode: 'permanent' } }]));
    await Promise.all(all('success').map((id) => awaitStatus(id, ['SUCCESS'])));
    await Promise.all(all('error').map((id) => awaitStatus(id, ['ERROR'])));
    // DELAYED: DBOS's own enqueue delay, on a run row made as POST /api/runs makes it.
    const workflow = t.app.get(IntentWorkflow, { strict: false });
    const runs = t.app.get(RunsRepository, { strict: false });
    const delayed = async (): Promise<string> => {
      const intent = await t.request('POST', '/api/intents', { goal: 'state matrix delayed', inputs: { tasks: echo }, constraints: {} });
      const id = newRunId(undefined);
      await runs.start({ id, intentId: intent.body.intentId, idempotencyKey: null, lineageRoot: id, queue: DEFAULT_QUEUE, traceId: null });
      await DBOS.startWorkflow(workflow.workflow, { workflowID: id, queueName: DEFAULT_QUEUE, enqueueOptions: { delaySeconds: 3600 } })({
        intentId: intent.body.intentId,
        lineageRoot: id,
      });
      return id;
    };
    // Cancelled before they ran; MAX_RECOVERY_ATTEMPTS_EXCEEDED planted on cancelled runs (see above).
    for (const fixture of ['cancelled', 'maxRecovery'] as const) {
      await each(fixture, async () => {
        const id = await delayed();
        const res = await t.request('POST', `/api/ops/wf/${id}/cancel`, { actor: 'matrix', reason: 'fixture' }, op);
        if (res.status !== 202) throw new Error(`fixture cancel of ${id} answered ${res.status}: ${res.text}`);
        await awaitStatus(id, ['CANCELLED']);
        return id;
      });
    }
    await sql`UPDATE dbos.workflow_status SET status = 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', recovery_attempts = 101 WHERE workflow_uuid = ANY(${all('maxRecovery')}::text[])`.execute(
      t.db,
    );
    // PENDING: in a durable sleep, or mid-ExecuteST with the effect held unanswered.
    await each('sleeping', () => sleeping());
    await each('executing', (label) => held(label));
    // ENQUEUED: every worker slot of the queue taken by a held run, then more runs queue behind them.
    // The sleeping runs are PENDING on the queue too, but a run asleep takes no worker slot.
    const slots = QUEUES[DEFAULT_QUEUE].workerConcurrency;
    const asleep = all('sleeping');
    const busy = async (): Promise<number> => {
      const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM dbos.workflow_status
        WHERE queue_name = ${DEFAULT_QUEUE} AND status = 'PENDING' AND workflow_uuid <> ALL(${asleep}::text[])`.execute(t.db);
      return Number(rows[0]!.n);
    };
    for (let blocker = 0, free = slots - (await busy()); blocker < free; blocker++) await held(`blocker-${blocker}`);
    await waitFor('every queue slot to be held mid-ExecuteST', async () => ((await busy()) >= slots ? true : undefined));
    await each('enqueued', () => startRun(echo));
    await each('delayed', delayed);
    for (const row of MATRIX) for (const id of all(row.fixture)) expect([row.fixture, id, await status(id)]).toEqual([row.fixture, id, row.status]);
    for (const id of targets.values())
      opsBefore.set(
        id,
        (await opsRows(id)).map((r) => r.op),
      );
  });

  afterAll(async () => {
    await holding.close();
    await t?.close();
  });

  /** What an accepted action must have done to `id` (the row's status was `from`). */
  async function expectEffect(id: string, from: string, effect: Effect, forksBefore: readonly string[]): Promise<void> {
    switch (effect) {
      case 'cancelled':
        await awaitStatus(id, ['CANCELLED']);
        await waitFor(`app.runs ${id} to be canceled`, async () => ((await t.request('GET', `/api/runs/${id}`)).body.status === 'canceled' ? true : undefined));
        break;
      case 'stays-queued':
        // Every slot is still held: the run keeps waiting its turn (the action is only recorded).
        expect(await status(id)).toBe('ENQUEUED');
        break;
      case 'delay-ends':
        await awaitStatus(id, ['ENQUEUED', 'PENDING', 'SUCCESS']);
        break;
      case 'requeued':
        await awaitStatus(id, ['ENQUEUED', 'PENDING', 'SUCCESS']);
        break;
      case 'forked': {
        const forks = await waitFor(`a fork of ${id}`, async () => {
          const now = (await forksOf(id)).filter((f) => !forksBefore.includes(f));
          return now.length > 0 ? now : undefined;
        });
        expect(forks).toHaveLength(1);
        expect((await t.request('GET', `/api/runs/${forks[0]}`)).body).toMatchObject({ runId: forks[0], forkedFrom: id });
        expect(await status(id)).toBe(from);
        break;
      }
    }
  }

  /** Every cell is checked even when one fails: the failures are reported together at the end. */
  async function check(
    row: Row,
    channel: Channel,
    o: Op,
    id: string,
    answer: { code: number; message?: string; line?: string },
    failures: string[],
  ): Promise<void> {
    try {
      await checkCell(row, channel, o, id, answer);
    } catch (error) {
      failures.push(`${row.fixture} ${row.status} ${o} via ${channel}${answer.line ? ` (${answer.line})` : ''}: ${(error as Error).message}`);
    }
  }

  async function checkCell(row: Row, channel: Channel, o: Op, id: string, answer: { code: number; message?: string; line?: string }): Promise<void> {
    const want = row[o];
    const label = `${row.fixture} ${row.status} ${o} via ${channel}`;
    if (want.answer === 409) {
      expect([label, answer.code, answer.message]).toEqual([label, 409, want.message(id)]);
      // Nothing changed: same status, no audit row, no fork.
      expect([label, await status(id), (await opsRows(id)).map((r) => r.op), await forksOf(id)]).toEqual([label, row.status, opsBefore.get(id), []]);
    } else {
      expect([label, answer.code]).toEqual([label, 202]);
      await expectEffect(id, row.status, want.effect, []);
      expect([label, (await opsRows(id)).map((r) => r.op)]).toEqual([label, [...opsBefore.get(id)!, o]]);
    }
  }

  it('--dry-run predicts every answer and changes nothing', async () => {
    for (const o of OPS) {
      const ids = MATRIX.map((row) => target(row.fixture, 'api', o));
      const res = await cli(cliArgs(o, true), ids);
      for (const row of MATRIX) {
        const id = target(row.fixture, 'api', o);
        const want = row[o];
        const expected = `${id} ${row.status} → ${want.answer === 202 ? want.dryRun : `conflict: ${want.message(id)}`}`;
        expect([row.fixture, o, lineOf(res.stdout, id)]).toEqual([row.fixture, o, expect.stringContaining(expected)]);
        expect([row.fixture, o, await status(id), (await opsRows(id)).map((r) => r.op)]).toEqual([row.fixture, o, row.status, opsBefore.get(id)]);
      }
    }
  });

  for (const phase of ['queued runs first', 'then every other status'] as const) {
    const rows = MATRIX.filter((row) => QUEUED.includes(row.fixture) === (phase === 'queued runs first'));

    it(`API: ${phase} (${rows.map((r) => r.fixture).join(', ')})`, async () => {
      const failures: string[] = [];
      for (const row of rows) {
        for (const o of OPS) {
          const id = target(row.fixture, 'api', o);
          const res = await t.request('POST', `/api/ops/wf/${id}/${o}`, { actor: 'matrix', reason: 'state matrix', ...(o === 'fork' ? { stepN: 1 } : {}) }, op);
          if (res.status === 409 && (res.body?.error !== 'conflict' || res.body?.status !== row.status))
            failures.push(`${row.fixture} ${o} via api: 409 body ${JSON.stringify(res.body)}`);
          await check(row, 'api', o, id, { code: res.status, message: res.body?.message }, failures);
        }
      }
      expect(failures).toEqual([]);
    }, 180_000);

    it(`CLI: ${phase} (${rows.map((r) => r.fixture).join(', ')})`, async () => {
      const failures: string[] = [];
      for (const o of OPS) {
        const ids = rows.map((row) => target(row.fixture, 'cli', o));
        const res = await cli(cliArgs(o, false), ids);
        for (const row of rows) {
          const id = target(row.fixture, 'cli', o);
          const line = lineOf(res.stdout, id);
          const want = row[o];
          const message = want.answer === 409 ? /→ conflict: (.*?)(?: \(hint: .*\))?$/.exec(line)?.[1] : undefined;
          const code = line.startsWith(`${id} ${row.status} → conflict: `) ? 409 : /→ (failed|invalid|not found)/.test(line) ? 500 : 202;
          await check(row, 'cli', o, id, { code, ...(message !== undefined ? { message } : {}), line }, failures);
        }
        const exit = rows.some((row) => row[o].answer === 409) ? 1 : 0;
        if (res.code !== exit) failures.push(`${o} via cli exited ${res.code} (want ${exit}): ${res.stderr}`);
      }
      expect(failures).toEqual([]);
    }, 180_000);
  }
});
