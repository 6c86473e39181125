import fc from 'fast-check';
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_TASK_TIMEOUT_MS,
  ExplicitTaskPlanner,
  applyConstraints,
  decide,
  notBeforeMs,
  taskKey,
  type IntentPayload,
} from './planner.js';

const echo = (value: unknown) => ({ connector: 'echo', args: { value } });

function intentWith(tasks: IntentPayload['inputs']['tasks'], constraints: IntentPayload['constraints'] = {}) {
  return { id: `it_${'a'.repeat(32)}`, goal: 'say hello', payload: { inputs: { tasks }, constraints } };
}

describe('taskKey', () => {
  const root = 'run_root';
  const task = { connector: 'http', args: { method: 'POST', url: 'http://127.0.0.1/x', body: { a: 1, b: [1, 2] } } };

  it('is deterministic and looks like a task key', () => {
    const key = taskKey(root, 0, task);
    expect(key).toMatch(/^tk_[0-9a-f]{40}$/);
    expect(taskKey(root, 0, structuredClone(task))).toBe(key);
  });

  it('differs by lineage root, index, connector and args', () => {
    const key = taskKey(root, 0, task);
    expect(taskKey('run_other', 0, task)).not.toBe(key);
    expect(taskKey(root, 1, task)).not.toBe(key);
    expect(taskKey(root, 0, { ...task, connector: 'echo' })).not.toBe(key);
    expect(taskKey(root, 0, { ...task, args: { ...task.args, url: 'http://127.0.0.1/y' } })).not.toBe(key);
    expect(taskKey(root, 0, { ...task, args: { ...task.args, body: { a: 1, b: [2, 1] } } })).not.toBe(key);
  });

  it('does not depend on the order of object keys in args, at any depth', () => {
    const reordered = { args: { body: { b: [1, 2], a: 1 }, url: 'http://127.0.0.1/x', method: 'POST' }, connector: 'http' };
    expect(taskKey(root, 0, reordered)).toBe(taskKey(root, 0, task));
  });

  it('does not depend on key order for any args (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string(), fc.nat(100), (args, lineage, index) => {
        const reversed = Object.fromEntries(Object.entries(args).reverse());
        return taskKey(lineage, index, { connector: 'echo', args }) === taskKey(lineage, index, { connector: 'echo', args: reversed });
      }),
    );
  });

  it('does not let the lineage root and index run together (root "a1", index 2 vs root "a", index 12)', () => {
    expect(taskKey('a1', 2, task)).not.toBe(taskKey('a', 12, task));
  });
});

describe('ExplicitTaskPlanner', () => {
  const planner = new ExplicitTaskPlanner();

  it('plans the explicit task list in order, each with its index and task key', () => {
    const tasks = [echo('one'), { connector: 'fault', args: { mode: 'permanent' } }, echo('one')];
    const plan = planner.plan(intentWith(tasks), 'run_1');
    expect(plan).toEqual({
      intentId: `it_${'a'.repeat(32)}`,
      goal: 'say hello',
      lineageRoot: 'run_1',
      tasks: tasks.map((task, index) => ({ index, connector: task.connector, args: task.args, taskKey: taskKey('run_1', index, task) })),
    });
  });

  it('gives identical tasks at different positions different keys', () => {
    const plan = planner.plan(intentWith([echo('same'), echo('same')]), 'run_1');
    expect(plan.tasks[0]?.taskKey).not.toBe(plan.tasks[1]?.taskKey);
  });

  it('gives a fork (same lineage root) the same keys and another lineage different ones', () => {
    const intent = intentWith([echo('x'), echo('y')]);
    const keys = (root: string) => planner.plan(intent, root).tasks.map((t) => t.taskKey);
    expect(keys('run_1')).toEqual(keys('run_1'));
    const other = keys('run_2');
    expect(other.some((k) => keys('run_1').includes(k))).toBe(false);
  });
});

describe('applyConstraints', () => {
  it('fills the defaults', () => {
    expect(applyConstraints({})).toEqual({ maxAttempts: 3, taskTimeoutMs: 30_000, dryRun: false });
    expect(DEFAULT_MAX_ATTEMPTS).toBe(3);
    expect(DEFAULT_TASK_TIMEOUT_MS).toBe(30_000);
  });

  it('keeps given values, including falsy-looking ones', () => {
    expect(applyConstraints({ maxAttempts: 1, taskTimeoutMs: 500, dryRun: true })).toEqual({ maxAttempts: 1, taskTimeoutMs: 500, dryRun: true });
    expect(applyConstraints({ maxAttempts: 10, dryRun: false }).maxAttempts).toBe(10);
  });

  it('ignores the scheduling constraints', () => {
    expect(applyConstraints({ delayMs: 5000, notBefore: '2030-01-01T00:00:00Z' })).toEqual({ maxAttempts: 3, taskTimeoutMs: 30_000, dryRun: false });
  });
});

describe('decide', () => {
  const now = Date.parse('2025-06-01T12:00:00.000Z');
  const run = applyConstraints({});

  it('executes now when nothing delays it', () => {
    expect(decide({}, run, now)).toEqual({ execute: true, delayMs: 0, notBefore: null, decidedAt: '2025-06-01T12:00:00.000Z', reason: 'execute now' });
  });

  it('turns delayMs into the delay', () => {
    const decision = decide({ delayMs: 1500 }, run, now);
    expect(decision).toMatchObject({ execute: true, delayMs: 1500, notBefore: null });
    expect(decision.reason).toContain('delayMs 1500');
  });

  it('waits until a notBefore in the future', () => {
    const notBefore = '2025-06-01T12:00:05.250Z';
    const decision = decide({ notBefore }, run, now);
    expect(decision).toMatchObject({ execute: true, delayMs: 5250, notBefore });
    expect(decision.reason).toBe(`notBefore ${notBefore}`);
  });

  it('does not wait for a notBefore in the past', () => {
    const notBefore = '2025-06-01T11:00:00Z';
    const decision = decide({ notBefore }, run, now);
    expect(decision).toMatchObject({ execute: true, delayMs: 0, notBefore });
    expect(decision.reason).toContain('already passed');
  });

  it('takes the later of delayMs and notBefore', () => {
    expect(decide({ delayMs: 10_000, notBefore: '2025-06-01T12:00:03Z' }, run, now).delayMs).toBe(10_000);
    expect(decide({ delayMs: 1_000, notBefore: '2025-06-01T12:00:03Z' }, run, now).delayMs).toBe(3_000);
    expect(decide({ delayMs: 2_000, notBefore: '2025-06-01T11:00:00Z' }, run, now).delayMs).toBe(2_000);
  });

  it('honours a notBefore with a time-zone offset', () => {
    expect(decide({ notBefore: '2025-06-01T14:00:01+02:00' }, run, now).delayMs).toBe(1_000);
  });

  it('does not execute a dry run, and says why', () => {
    const decision = decide({ dryRun: true, delayMs: 100 }, applyConstraints({ dryRun: true }), now);
    expect(decision.execute).toBe(false);
    expect(decision.reason).toContain('dry run');
  });

  it('is a pure function of its inputs (the checkpointed clock)', () => {
    const constraints = { delayMs: 100, notBefore: '2025-06-01T12:00:01Z' };
    expect(decide(constraints, run, now)).toEqual(decide(constraints, run, now));
    expect(decide(constraints, run, now + 500).delayMs).toBe(500);
  });

  it("counts the delay from the run's creation: a run that already waited it out on the queue does not sleep again", () => {
    const created = now - 1_500;
    expect(decide({ delayMs: 1_500 }, run, now, created).delayMs).toBe(0);
    expect(decide({ delayMs: 2_000 }, run, now, created).delayMs).toBe(500);
    expect(decide({ notBefore: '2025-06-01T12:00:01Z', delayMs: 1_000 }, run, now, created).delayMs).toBe(1_000);
  });
});

describe('notBeforeMs', () => {
  const origin = Date.parse('2025-06-01T12:00:00Z');
  it('is the creation plus delayMs, or notBefore when later', () => {
    expect(notBeforeMs({}, origin)).toBe(origin);
    expect(notBeforeMs({ delayMs: 1_500 }, origin)).toBe(origin + 1_500);
    expect(notBeforeMs({ delayMs: 1_500, notBefore: '2025-06-01T12:00:03Z' }, origin)).toBe(origin + 3_000);
    expect(notBeforeMs({ delayMs: 5_000, notBefore: '2025-06-01T12:00:03Z' }, origin)).toBe(origin + 5_000);
    expect(notBeforeMs({ notBefore: '2025-06-01T11:00:00Z' }, origin)).toBe(origin);
  });
});
