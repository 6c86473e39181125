import { describe, expect, it } from '@jest/globals';
import { applyConstraints, decide } from './planner.js';

/** The decision's reason lists every cause, in order, separated by "; " (a mutant that joined them with "" survived). */
describe('decide: the reason of a decision with several causes', () => {
  it('joins the causes with "; "', () => {
    const now = Date.parse('2026-01-01T00:00:00.000Z');
    const constraints = { delayMs: 1000, notBefore: '2026-01-01T00:00:05.000Z', dryRun: true };
    const decision = decide(constraints, applyConstraints(constraints), now);
    expect(decision.reason).toBe('dry run: tasks are planned, not executed; delayMs 1000; notBefore 2026-01-01T00:00:05.000Z');
    expect(decision).toMatchObject({ execute: false, delayMs: 5000 });
  });
});
