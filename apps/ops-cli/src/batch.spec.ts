import { describe, expect, it } from '@jest/globals';
import { Conflict, NotFound, ValidationFailed } from '#common';
import { type BatchCommand, runBatch, summaryLine } from './batch.js';
import type { Io } from './io.js';
import { RateLimiter } from './rate-limit.js';

function memoryIo(stderrIsTTY = false): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (line) => void stdout.push(line),
    err: (line) => void stderr.push(line),
    errRaw: (text) => void stderr.push(text),
    stdoutIsTTY: false,
    stderrIsTTY,
  };
}

const ERROR_STEPS = [
  { stepN: 1, name: 'CompileST', error: null },
  { stepN: 2, name: 'ApplyPatchST', error: null },
  { stepN: 3, name: 'DecideST', error: null },
  { stepN: 4, name: 'ExecuteST', error: { name: 'PermanentTaskError', message: 'boom' } },
];

/** An OpsService stand-in: statuses per ID; records every action it is asked to take. */
function fakeOps(statuses: Record<string, string>) {
  const calls: string[] = [];
  const status = (id: string): string => {
    const s = statuses[id];
    if (!s) throw new NotFound(`workflow ${id} not found`);
    if (s === 'EXPLODE') throw new Error('connection reset');
    return s;
  };
  const ops = {
    calls,
    get: (id: string) => Promise.resolve().then(() => ({ workflowID: id, status: status(id), name: 'IntentWorkflow', ops: [] })),
    steps: (id: string) => Promise.resolve().then(() => ({ workflowID: id, steps: status(id) === 'SUCCESS' ? ERROR_STEPS.slice(0, 3) : ERROR_STEPS })),
    cancel: (id: string) =>
      Promise.resolve().then(() => {
        calls.push(`cancel ${id}`);
        if (!['PENDING', 'ENQUEUED', 'DELAYED'].includes(status(id))) throw new Conflict(`workflow ${id} is ${status(id)}`, status(id), 'fork it');
        return { accepted: true, workflowID: id, op: 'cancel', actionId: `act_${id}` };
      }),
    resume: (id: string) =>
      Promise.resolve().then(() => {
        calls.push(`resume ${id}`);
        throw new ValidationFailed([{ path: 'actor', message: 'actor must be printable text' }]);
      }),
    fork: (id: string, input: { stepN: number }) =>
      Promise.resolve().then(() => {
        calls.push(`fork ${id} ${input.stepN}`);
        return { accepted: true, workflowID: id, op: 'fork', actionId: `act_${id}`, forkedWorkflowID: `run_fork_of_${id}`, stepN: input.stepN };
      }),
  };
  return ops;
}

const options = { actor: 'ops-batch', reason: 'batch-test', dryRun: false, rate: 1000 };
const principal = { principal: 'cli:tester', role: 'operator' as const };

async function batch(ids: string[], cmd: BatchCommand, statuses: Record<string, string>, overrides: Partial<typeof options> = {}, io = memoryIo()) {
  const ops = fakeOps(statuses);
  const result = await runBatch(ids, cmd, { ...options, ...overrides }, { ops: ops as never, principal, io, sleep: () => Promise.resolve() });
  return { ...result, io, calls: ops.calls };
}

describe('runBatch', () => {
  it('maps every outcome to its count and line, and goes on after a problem', async () => {
    const { tally, io, calls } = await batch(
      ['run_wait', 'run_done', 'run_gone', 'bad id', 'run_boom'],
      { op: 'cancel' },
      {
        run_wait: 'PENDING',
        run_done: 'SUCCESS',
        run_boom: 'EXPLODE',
      },
    );
    expect(tally).toEqual({ done: 1, conflict: 1, 'not found': 1, invalid: 1, failed: 1 });
    expect(io.stdout).toEqual([
      'run_wait PENDING → cancelled (action act_run_wait)',
      'run_done SUCCESS → conflict: workflow run_done is SUCCESS (hint: fork it)',
      'run_gone → not found',
      'bad id → invalid: id: id must be a workflow ID: 1..200 printable ASCII characters',
      'run_boom → failed: connection reset',
    ]);
    expect(calls).toEqual(['cancel run_wait', 'cancel run_done']);
    expect(summaryLine(tally, false)).toBe('done 1 / conflict 1 / not found 1 / invalid 1 / failed 1');
  });

  it('reports a ValidationFailed from the service as invalid', async () => {
    const { tally, io } = await batch(['run_c'], { op: 'resume' }, { run_c: 'CANCELLED' });
    expect(tally.invalid).toBe(1);
    expect(io.stdout).toEqual(['run_c CANCELLED → invalid: actor: actor must be printable text']);
  });

  it('dry run: predicts from reads and takes no action', async () => {
    const statuses = { run_err: 'ERROR', run_ok: 'SUCCESS', run_wait: 'PENDING' };
    const fork = await batch(['run_err', 'run_ok', 'run_wait', 'run_gone'], { op: 'retry-from-step', stepN: 4 }, statuses, { dryRun: true });
    expect(fork.calls).toEqual([]);
    expect(fork.io.stdout).toEqual([
      'run_err ERROR → would fork at step 4',
      expect.stringMatching(/^run_ok SUCCESS → conflict: workflow run_ok is SUCCESS and has no failed step/),
      expect.stringMatching(/^run_wait PENDING → conflict: workflow run_wait is PENDING; only finished workflows/),
      'run_gone → not found',
    ]);
    expect(summaryLine(fork.tally, true)).toBe('dry run, nothing changed: would do 1 / conflict 2 / not found 1 / invalid 0 / failed 0');

    const cancel = await batch(['run_wait'], { op: 'cancel' }, statuses, { dryRun: true });
    expect(cancel.calls).toEqual([]);
    expect(cancel.io.stdout).toEqual(['run_wait PENDING → would cancel']);
  });

  it('retry-from-step forks at or before the failed step only', async () => {
    const ok = await batch(['run_err'], { op: 'retry-from-step', stepN: 4 }, { run_err: 'ERROR' });
    expect(ok.calls).toEqual(['fork run_err 4']);
    expect(ok.io.stdout).toEqual(['run_err ERROR → forked at step 4 as run_fork_of_run_err (action act_run_err)']);
    const late = await batch(['run_err'], { op: 'retry-from-step', stepN: 5 }, { run_err: 'ERROR' });
    expect(late.calls).toEqual([]);
    expect(late.tally.conflict).toBe(1);
    expect(late.io.stdout[0]).toContain('step 5 is after the failed step of run_err (step 4, ExecuteST)');
  });

  it('prints progress every 10 IDs on a long batch (stderr, not a terminal)', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `run_${i}`);
    const { io } = await batch(ids, { op: 'cancel' }, Object.fromEntries(ids.map((id) => [id, 'PENDING'])));
    expect(io.stderr).toEqual(['10/25: done 10, conflict 0, not found 0, invalid 0, failed 0', '20/25: done 20, conflict 0, not found 0, invalid 0, failed 0']);
    expect(io.stdout).toHaveLength(25);
  });

  it('redraws one progress line with \\r on a terminal, cleared before each output line', async () => {
    const ids = Array.from({ length: 11 }, (_, i) => `run_${i}`);
    const { io } = await batch(ids, { op: 'cancel' }, Object.fromEntries(ids.map((id) => [id, 'PENDING'])), {}, memoryIo(true));
    expect(io.stderr[0]).toBe('\r\x1b[K1/11: done 1, conflict 0, not found 0, invalid 0, failed 0');
    expect(io.stderr.at(-1)).toBe('\r\x1b[K');
  });

  it('stops after the current ID when interrupted', async () => {
    const ops = fakeOps({ run_a: 'PENDING', run_b: 'PENDING' });
    let n = 0;
    const result = await runBatch(['run_a', 'run_b'], { op: 'cancel' }, options, {
      ops: ops as never,
      principal,
      io: memoryIo(),
      interrupted: () => n++ > 0,
    });
    expect(result).toEqual({ tally: { done: 1, conflict: 0, 'not found': 0, invalid: 0, failed: 0 }, skipped: 1 });
  });
});

describe('RateLimiter', () => {
  it('spaces actions 1/rate s apart, the first at once', async () => {
    let now = 0;
    const waits: number[] = [];
    const limiter = new RateLimiter(
      4,
      () => now,
      (ms) => {
        waits.push(ms);
        now += ms;
        return Promise.resolve();
      },
    );
    await limiter.next();
    await limiter.next();
    now += 100; // the action took 100 ms
    await limiter.next();
    now += 300; // slower than the rate: no wait
    await limiter.next();
    expect(waits).toEqual([250, 150]);
  });

  it('paces a real batch: 5 actions at 20/s take at least 200 ms', async () => {
    const ops = fakeOps(Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((id) => [`run_${id}`, 'PENDING'])));
    const started = Date.now();
    await runBatch(['run_a', 'run_b', 'run_c', 'run_d', 'run_e'], { op: 'cancel' }, { ...options, rate: 20 }, { ops: ops as never, principal, io: memoryIo() });
    expect(Date.now() - started).toBeGreaterThanOrEqual(195);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new RateLimiter(0)).toThrow(RangeError);
    expect(() => new RateLimiter(Number.NaN)).toThrow(RangeError);
  });
});
