import { afterEach, describe, expect, it } from '@jest/globals';
import { oracleViolations } from './checks.js';
import { EffectServer } from './effect-server.js';
import { Prng } from './prng.js';

/** The chaos harness's own verdicts: they must fail on the harm, or a passing round proves nothing. */
describe('oracleViolations', () => {
  it('passes only an oracle that ran, exited 0 and printed its verdict', () => {
    expect(oracleViolations({ available: true, exitCode: 0, output: 'x\nall 9 invariants hold' })).toEqual([]);
    expect(oracleViolations({ available: false, exitCode: null, output: 'dist/apps/ops-cli/src/main.js does not exist' })).toEqual([
      'the oracle (ops verify) could not run: dist/apps/ops-cli/src/main.js does not exist',
    ]);
    expect(oracleViolations({ available: true, exitCode: 1, output: 'violated: 06' })).toEqual(['ops verify exited 1:\nviolated: 06']);
    expect(oracleViolations({ available: true, exitCode: 2, output: 'cannot judge' })).toHaveLength(1);
    expect(oracleViolations({ available: true, exitCode: null, output: '' })).toHaveLength(1);
    expect(oracleViolations({ available: true, exitCode: 0, output: '' })).toHaveLength(1);
  });
});

describe('EffectServer.effectBudget: effects counted at the server', () => {
  let server: EffectServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  async function start(faultRate = 0): Promise<EffectServer> {
    server = await new EffectServer({ rng: new Prng('budget'), minLatencyMs: 0, maxLatencyMs: 0, faultRate }).start();
    return server;
  }
  const send = (s: EffectServer, key: string): Promise<number> =>
    fetch(s.url(`batch/${key}`), { method: 'POST', headers: { 'idempotency-key': key, 'content-type': 'application/json' }, body: '{}' }).then((r) => r.status);

  it('one effect per task passes', async () => {
    const s = await start();
    for (const key of ['a1', 'a2']) await send(s, key);
    expect(s.effectBudget(new Map([['run-a', ['a1', 'a2']]]))).toEqual({ violations: [], resent: 0 });
  });

  it('allows re-sending the task a run had in flight at a crash, once per crash', async () => {
    const s = await start();
    await send(s, 'a1');
    await send(s, 'a2');
    s.crashed();
    await send(s, 'a2');
    await send(s, 'a3');
    expect(s.effectBudget(new Map([['run-a', ['a1', 'a2', 'a3']]]))).toEqual({ violations: [], resent: 1 });
    await send(s, 'a2');
    expect(s.effectBudget(new Map([['run-a', ['a1', 'a2', 'a3']]])).violations).toEqual([expect.stringContaining('effect a2 was made 3 times')]);
  });

  it('refuses a task that had completed before the crash being sent again', async () => {
    const s = await start();
    await send(s, 'a1');
    await send(s, 'a2');
    s.crashed();
    await send(s, 'a1');
    expect(s.effectBudget(new Map([['run-a', ['a1', 'a2']]])).violations).toEqual([
      expect.stringContaining('effect a1 was made 2 times (2 requests, 0 answered 503; 1 of the repeats was not the task in flight at a crash)'),
    ]);
  });

  it('refuses two effects without any crash, and judges each run by its own last task', async () => {
    const s = await start();
    await send(s, 'a1');
    await send(s, 'b1');
    await send(s, 'a1');
    expect(s.effectBudget(new Map([['run-a', ['a1']]])).violations).toHaveLength(1);
    s.crashed();
    await send(s, 'b1');
    // b1 was run-b's task in flight; a1's repeat came before the crash: still a violation.
    const verdict = s.effectBudget(
      new Map([
        ['run-a', ['a1']],
        ['run-b', ['b1']],
      ]),
    );
    expect(verdict.violations).toEqual([expect.stringContaining('run run-a: effect a1')]);
    expect(verdict.resent).toBe(1);
  });

  /** Sends `key` and hangs up before the answer (latency 200 ms): as a killed process's request is left. */
  const sendAndDie = async (s: EffectServer, key: string): Promise<void> => {
    const abort = new AbortController();
    const sent = fetch(s.url(`batch/${key}`), { method: 'POST', headers: { 'idempotency-key': key }, body: '{}', signal: abort.signal }).catch(() => 0);
    while (![...s.keys.values()].some((r) => r.key === key && r.requests > 0)) await new Promise((resolve) => setImmediate(resolve));
    abort.abort();
    await sent;
    // The server finds its client gone once its latency is over.
    while (s.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  it('a request the killed process sent, read only after the crash was declared, counts before it', async () => {
    server = await new EffectServer({ rng: new Prng('budget'), minLatencyMs: 200, maxLatencyMs: 200, faultRate: 0 }).start();
    const s = server;
    await send(s, 'a1');
    s.crashed();
    // Read just after the crash, never answered: the killed process's request of a2, in flight at the kill.
    await sendAndDie(s, 'a2');
    expect(s.keys.get('a2')?.byEpoch).toEqual([1, 0]);
    await send(s, 'a2');
    expect(s.effectBudget(new Map([['run-a', ['a1', 'a2']]]))).toEqual({ violations: [], resent: 1 });
  });

  it('an unanswered request read longer after a crash than lateArrivalMs stays in its epoch: a repeat of it is a second effect', async () => {
    server = await new EffectServer({ rng: new Prng('budget'), minLatencyMs: 200, maxLatencyMs: 200, faultRate: 0, lateArrivalMs: 0 }).start();
    const s = server;
    await send(s, 'a1');
    s.crashed();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await sendAndDie(s, 'a2');
    await send(s, 'a2');
    expect(s.effectBudget(new Map([['run-a', ['a1', 'a2']]])).violations).toEqual([expect.stringContaining('effect a2 was made 2 times')]);
  });

  it('a retry after an injected 503 is not a second effect', async () => {
    const s = await start(1);
    expect(await send(s, 'a1')).toBe(503);
    expect(await send(s, 'a1')).toBe(200);
    expect(s.effectBudget(new Map([['run-a', ['a1']]]))).toEqual({ violations: [], resent: 0 });
  });
});
