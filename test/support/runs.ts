import type { TestApp } from './test-app.js';
import { waitFor } from './wait.js';

/** One echo task, no constraints: the shortest successful run. */
export const ECHO_INTENT = { goal: 'echo', inputs: { tasks: [{ connector: 'echo', args: { value: 'hi' } }] }, constraints: {} };

/** Creates the intent, starts a run of it and waits until DBOS says SUCCESS or ERROR; answers GET /api/runs/:id. */
export async function runToEnd(t: TestApp, intent: unknown = ECHO_INTENT): Promise<{ runId: string; run: any }> {
  const created = await t.request('POST', '/api/intents', intent);
  if (created.status !== 201 && created.status !== 200) throw new Error(`POST /api/intents answered ${created.status}: ${created.text}`);
  const started = await t.request('POST', '/api/runs', { intentId: created.body.intentId });
  if (started.status !== 202) throw new Error(`POST /api/runs answered ${started.status}: ${started.text}`);
  const runId = started.body.runId as string;
  const run = await waitFor(`run ${runId} to settle`, async () => {
    const view = (await t.request('GET', `/api/runs/${runId}`)).body;
    return view.dbosStatus === 'SUCCESS' || view.dbosStatus === 'ERROR' ? view : undefined;
  });
  return { runId, run };
}

/** The run's local step marks, oldest first, as "StepId:phase". */
export async function stepMarks(t: TestApp, runId: string): Promise<string[]> {
  const rows = await t.db
    .selectFrom('app.run_steps')
    .select(['step_id', 'phase'])
    .where('run_id', '=', runId)
    .orderBy('finished_at')
    .orderBy('attempt')
    .execute();
  return rows.map((r) => `${r.step_id}:${r.phase}`);
}

/** Creates an intent with these tasks and starts a run of it; answers the run ID (202 or throws). */
export async function startRun(t: TestApp, tasks: unknown[], constraints: Record<string, unknown> = {}, goal = 'test'): Promise<string> {
  const intent = await t.request('POST', '/api/intents', { goal, inputs: { tasks }, constraints });
  const run = await t.request('POST', '/api/runs', { intentId: intent.body.intentId });
  if (run.status !== 202) throw new Error(`POST /api/runs answered ${run.status}: ${run.text}`);
  return run.body.runId as string;
}

/** Waits until GET /api/ops/wf/:id (read with `headers`) reports one of `want`; answers that body. */
export function opsStatus(t: TestApp, id: string, want: readonly string[], headers: Record<string, string>, timeoutMs = 30_000): Promise<any> {
  return waitFor(
    `${id} to reach ${want.join('|')}`,
    async () => {
      const res = await t.request('GET', `/api/ops/wf/${id}`, undefined, headers);
      return want.includes(res.body?.status) ? res.body : undefined;
    },
    timeoutMs,
  );
}
