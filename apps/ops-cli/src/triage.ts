import { DBOS } from '@dbos-inc/dbos-sdk';
import type { INestApplicationContext } from '@nestjs/common';
import type { Selectable } from 'kysely';
import type { WorkflowDetail, WorkflowStepView } from '#contracts';
import { OpsService } from '#control-plane';
import type { RunStepsTable } from '#db';
import { SystemDatabase } from '#dbos';
import { RunsRepository } from '#runs';
import { failedStep } from './decisions.js';
import type { Io } from './io.js';

/** What GET /healthz said, or why it could not be asked. */
export type Health =
  | { readonly up: true; readonly ok: boolean; readonly httpStatus: number; readonly body: Record<string, unknown> | undefined }
  | { readonly up: false; readonly reason: string };

/** A local step mark (app.run_steps), as triage shows it. */
export type Mark = Readonly<Pick<Selectable<RunStepsTable>, 'step_id' | 'attempt' | 'phase' | 'output' | 'started_at' | 'finished_at'>>;

export interface QueueInfo {
  readonly name: string;
  readonly enqueuedAhead: number;
  readonly enqueued: number;
  readonly pending: number;
}

/** The liveness of the workflow's executor (app.v_ops_executors); undefined when it has none or the view is missing. */
export interface ExecutorInfo {
  readonly executorId: string;
  readonly role: string | null;
  readonly alive: boolean;
  readonly lastSeen: Date | null;
  readonly runsHeld: number;
}

export interface TriageFacts {
  readonly id: string;
  readonly now: Date;
  readonly healthUrl: string;
  readonly health: Health;
  readonly detail: WorkflowDetail;
  readonly steps: readonly WorkflowStepView[];
  readonly marks: readonly Mark[];
  readonly queue: QueueInfo | undefined;
  readonly delayUntil: Date | undefined;
  readonly executor?: ExecutorInfo | undefined;
}

export interface Verdict {
  readonly verdict: string;
  readonly next: string[];
}

/** The service's health endpoint; never throws: a service that is down is a finding, not a crash. */
export async function checkHealth(url: string, timeoutMs = 3000): Promise<Health> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    return { up: true, ok: response.ok, httpStatus: response.status, body };
  } catch (error) {
    return { up: false, reason: unreachable(error, url) };
  }
}

function unreachable(error: unknown, url: string): string {
  // Duck-typed: fetch's errors may come from another realm (Jest's VM), where instanceof Error fails.
  const e = error as { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
  let where = url;
  try {
    where = new URL(url).host;
  } catch {
    // not a URL: show it as given
  }
  if (typeof e?.cause?.code === 'string') return `${e.cause.code} ${where}`;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within the timeout from ${where}`;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return `${message}${typeof e?.cause?.message === 'string' ? `: ${e.cause.message}` : ''} (${where})`;
}

export function healthUrl(env: NodeJS.ProcessEnv, port: number): string {
  const base = env.OPS_API_URL?.trim() || `http://127.0.0.1:${env.PORT?.trim() || port}`;
  return `${base.replace(/\/+$/, '')}/healthz`;
}

/** Collects everything the 10-minute triage looks at. Throws NotFound for an unknown workflow. */
export async function gatherTriage(app: INestApplicationContext, id: string, url: string): Promise<TriageFacts> {
  const ops = app.get(OpsService);
  const [health, detail] = await Promise.all([checkHealth(url), ops.get(id)]);
  const runs = app.get(RunsRepository);
  const system = app.get(SystemDatabase);
  const [steps, marks, status] = await Promise.all([ops.steps(id), runs.marksWithOutput(id), DBOS.getWorkflowStatus(id)]);
  let queue: QueueInfo | undefined;
  if (detail.queue && ['ENQUEUED', 'PENDING', 'DELAYED'].includes(detail.status)) {
    const createdAtMs = String(Date.parse(detail.createdAt));
    const counts = await system
      .selectFrom('dbos.workflow_status')
      .select((eb) => [
        eb.fn.countAll<string>().filterWhere('status', '=', 'ENQUEUED').as('enqueued'),
        eb.fn.countAll<string>().filterWhere('status', '=', 'PENDING').as('pending'),
        eb.fn
          .countAll<string>()
          .filterWhere((w) => w.and([w('status', '=', 'ENQUEUED'), w('created_at', '<', createdAtMs)]))
          .as('ahead'),
      ])
      .where('queue_name', '=', detail.queue)
      .where('status', 'in', ['ENQUEUED', 'PENDING'])
      .executeTakeFirst();
    queue = { name: detail.queue, enqueued: Number(counts?.enqueued ?? 0), pending: Number(counts?.pending ?? 0), enqueuedAhead: Number(counts?.ahead ?? 0) };
  }
  let executor: ExecutorInfo | undefined;
  if (detail.executorId) {
    const row = await system
      .selectFrom('app.v_ops_executors')
      .select(['executor', 'role', 'alive', 'last_seen', 'runs_held'])
      .where('executor', '=', detail.executorId)
      .executeTakeFirst();
    if (row) executor = { executorId: row.executor, role: row.role, alive: row.alive, lastSeen: row.last_seen, runsHeld: Number(row.runs_held) };
  }
  return {
    id,
    now: new Date(),
    executor,
    healthUrl: url,
    health,
    detail,
    steps: steps.steps,
    marks,
    queue,
    delayUntil: status?.delayUntilEpochMS !== undefined ? new Date(status.delayUntilEpochMS) : undefined,
  };
}

function since(from: Date, to: Date): string {
  const s = Math.round((to.getTime() - from.getTime()) / 1000);
  const abs = Math.abs(s);
  const text = abs < 120 ? `${abs} s` : abs < 7200 ? `${Math.round(abs / 60)} min` : `${Math.round(abs / 3600)} h`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

function duration(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`;
}

/** A DBOS.sleep in progress: its checkpoint's completedAt is the wake-up deadline, still ahead. */
export function sleepingStep(facts: Pick<TriageFacts, 'steps' | 'now'>): WorkflowStepView | undefined {
  return facts.steps.find((s) => s.name === 'DBOS.sleep' && s.completedAt !== null && Date.parse(s.completedAt) > facts.now.getTime());
}

function serviceIsUp(health: Health): boolean {
  return health.up && health.ok;
}

function quoteId(id: string): string {
  return /^[\w.@:+-]+$/.test(id) ? id : `'${id.replaceAll("'", "'\\''")}'`;
}

/** The verdict and the next action, from the facts alone (unit-tested). */
export function verdictOf(facts: TriageFacts): Verdict {
  const { detail } = facts;
  const id = quoteId(facts.id);
  const down = !serviceIsUp(facts.health);
  const serviceNote = down
    ? `the service is ${facts.health.up ? 'degraded' : 'down'} (${facts.healthUrl}): start it (npm start / the api+worker containers); nothing runs until a worker is up`
    : undefined;
  const failed = failedStep(facts.steps);
  switch (detail.status) {
    case 'SUCCESS':
      return { verdict: 'succeeded: nothing to do', next: ['nothing to do'] };
    case 'ERROR': {
      if (!failed) {
        const last = facts.steps.at(-1)?.stepN ?? 1;
        return {
          verdict: `failed outside any step: ${detail.error ?? 'no error recorded'}`,
          next: [`fix the cause, then fork it at the step to redo (the last recorded step is ${last}):`, `  echo ${id} | mise run ops:fork-batch ${last}`],
        };
      }
      return {
        verdict: `failed at step ${failed.stepN} (${failed.name}): ${failed.error?.message ?? detail.error ?? 'error'}`,
        next: [
          `fix the cause (the connector, its config or the fault flag), then fork at step ${failed.stepN}, reusing steps 1..${failed.stepN - 1} from checkpoints:`,
          `  echo ${id} | mise run ops:retry-from-step -- ${failed.stepN} --dry-run    # preview`,
          `  echo ${id} | mise run ops:retry-from-step ${failed.stepN}`,
          '(resume does not redo failed work)',
          ...(serviceNote ? [serviceNote] : []),
        ],
      };
    }
    case 'CANCELLED':
      return {
        verdict: `cancelled${detail.ops.some((o) => o.op === 'cancel') ? ` by ${detail.ops.filter((o) => o.op === 'cancel').at(-1)!.actor}` : ''}`,
        next: [
          `resume it (same workflow ID, continues from its last checkpoint):`,
          `  echo ${id} | mise run ops:resume-batch`,
          ...(serviceNote ? [serviceNote] : []),
        ],
      };
    case 'MAX_RECOVERY_ATTEMPTS_EXCEEDED':
      return {
        verdict: `gave up after ${detail.recoveryAttempts} recovery attempts (it crashed its worker every time, or kept being interrupted)`,
        next: [
          'find out why it keeps dying (logs around its steps), then resume it:',
          `  echo ${id} | mise run ops:resume-batch`,
          `or fork it from a step: echo ${id} | mise run ops:fork-batch ${failed?.stepN ?? facts.steps.at(-1)?.stepN ?? 1}`,
          ...(serviceNote ? [serviceNote] : []),
        ],
      };
    case 'PENDING': {
      const sleeping = sleepingStep(facts);
      const running = facts.steps.find((s) => s.status === 'running');
      const what = sleeping
        ? `sleeping (durable DBOS.sleep, step ${sleeping.stepN}) until ${sleeping.completedAt} (${since(new Date(sleeping.completedAt!), facts.now)})`
        : running
          ? `running step ${running.stepN} (${running.name}) since ${running.startedAt ?? '?'}`
          : `pending on executor ${detail.executorId ?? '?'} (last update ${since(new Date(detail.updatedAt), facts.now)})`;
      const gone = facts.executor && !facts.executor.alive ? facts.executor : undefined;
      const otherExecutor = gone
        ? `its executor ${gone.executorId} is gone (${gone.lastSeen ? `last seen ${since(gone.lastSeen, facts.now)}` : 'never registered'}): any live worker takes its runs over at its next sweep (EXECUTOR_SWEEP_SCHEDULE) — make sure one is running`
        : undefined;
      return {
        verdict: what,
        next: [
          serviceNote ?? (sleeping ? `wait: it wakes at ${sleeping.completedAt} by itself (the sleep survives restarts)` : 'wait: it is in progress'),
          ...(otherExecutor ? [otherExecutor] : []),
          `to stop it instead: echo ${id} | mise run ops:cancel-batch`,
        ],
      };
    }
    case 'ENQUEUED':
      return {
        verdict: `waiting in queue ${detail.queue ?? '?'}${facts.queue ? ` (${facts.queue.enqueuedAhead} enqueued before it, ${facts.queue.pending} running)` : ''}`,
        next: [serviceNote ?? 'wait: a worker dequeues it in turn', `to drop it: echo ${id} | mise run ops:cancel-batch`],
      };
    case 'DELAYED':
      return {
        verdict: `delayed${facts.delayUntil ? ` until ${facts.delayUntil.toISOString()} (${since(facts.delayUntil, facts.now)})` : ''}, then enqueued on ${detail.queue ?? '?'}`,
        next: [
          serviceNote ?? 'wait: it is enqueued when its delay ends',
          `to end its delay now (it then waits its turn in the queue): echo ${id} | mise run ops:resume-batch`,
          `to drop it: echo ${id} | mise run ops:cancel-batch`,
        ],
      };
    default:
      return { verdict: `unknown status ${detail.status}`, next: ['check the DBOS version and the workflow in dbos.workflow_status'] };
  }
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd());
}

function oneLine(value: unknown, max = 100): string {
  if (value === null || value === undefined) return '';
  const text = (typeof value === 'string' ? value : JSON.stringify(value)).replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function iso(d: Date | null): string {
  return d ? d.toISOString() : '-';
}

/** The triage as readable plain text, one section per triage step, verdict last. */
export function renderTriage(facts: TriageFacts): string[] {
  const { detail } = facts;
  const lines: string[] = [];
  const heading = (title: string): void => void lines.push('', `== ${title}`);
  lines.push(`Triage of ${facts.id} at ${facts.now.toISOString()}`);

  heading(`1. Service health (GET ${facts.healthUrl})`);
  if (!facts.health.up) lines.push(`  service down (${facts.health.reason})`);
  else {
    const b = facts.health.body ?? {};
    const state = facts.health.ok ? 'up' : `degraded (HTTP ${facts.health.httpStatus})`;
    lines.push(
      `  ${state}: appVersion ${oneLine(b.appVersion) || '?'}, executor ${oneLine(b.executorID) || '?'}, DBOS launched ${oneLine(b.dbosLaunched) || '?'}, database reachable ${oneLine(b.databaseReachable) || '?'}`,
    );
  }

  heading('2. DBOS status');
  const field = (name: string, value: string): void => void lines.push(`  ${name.padEnd(14)}${value}`);
  field('workflow', detail.workflowID);
  field('name', detail.name);
  field('status', detail.status);
  field('queue', detail.queue ?? '-');
  field('appVersion', detail.appVersion ?? '-');
  field('executor', detail.executorId ?? '-');
  if (facts.executor)
    field(
      'liveness',
      `${facts.executor.alive ? 'alive' : 'GONE'}${facts.executor.role ? ` (${facts.executor.role})` : ''}, ${
        facts.executor.alive ? 'holds its liveness lock' : facts.executor.lastSeen ? `last seen ${since(facts.executor.lastSeen, facts.now)}` : 'never seen'
      }, ${facts.executor.runsHeld} run(s) PENDING on it (app.v_ops_executors)`,
    );
  field('attempts', `${detail.recoveryAttempts} (DBOS recovery_attempts: starts and recoveries)`);
  field('created', `${detail.createdAt} (${since(new Date(detail.createdAt), facts.now)})`);
  field('updated', `${detail.updatedAt} (${since(new Date(detail.updatedAt), facts.now)})`);
  if (detail.completedAt) field('completed', detail.completedAt);
  if (facts.delayUntil) field('delayed until', facts.delayUntil.toISOString());
  if (detail.forkedFrom) field('forked from', detail.forkedFrom);
  if (facts.queue)
    field(
      'queue depth',
      `${facts.queue.name}: ${facts.queue.enqueued} enqueued (${facts.queue.enqueuedAhead} before this one), ${facts.queue.pending} running`,
    );
  field('error', detail.error ?? '-');
  if (detail.run) {
    field('run', `${detail.run.status}, next action ${detail.run.nextAction}, last step ${detail.run.lastStep ?? '-'} (app.runs)`);
  }

  heading('3. Steps (DBOS checkpoints; stepN = functionId + 1)');
  if (facts.steps.length === 0) lines.push('  (no step recorded)');
  else {
    lines.push(
      ...table([
        ['stepN', 'name', 'status', 'started', 'duration', 'error'],
        ...facts.steps.map((s) => {
          const sleeping = s.name === 'DBOS.sleep' && s.completedAt !== null && Date.parse(s.completedAt) > facts.now.getTime();
          return [
            String(s.stepN),
            s.name,
            sleeping ? 'sleeping' : s.status,
            s.startedAt ?? '-',
            sleeping ? `until ${s.completedAt}` : duration(s.durationMs),
            s.error ? oneLine(`${s.error.name}: ${s.error.message}`) : s.childWorkflowID ? `child ${s.childWorkflowID}` : '',
          ];
        }),
      ]),
    );
  }

  heading('4. Local marks (app.run_steps)');
  if (facts.marks.length === 0) lines.push(`  (none${detail.run ? '' : ': not an IntentWorkflow run'})`);
  else {
    lines.push(
      ...table([
        ['step', 'attempt', 'phase', 'started', 'finished', 'output'],
        ...facts.marks.map((m) => [m.step_id, String(m.attempt), m.phase, iso(m.started_at), iso(m.finished_at), oneLine(m.output, 80)]),
      ]),
    );
  }

  heading('5. Control actions (OPS audit rows)');
  if (detail.ops.length === 0) lines.push('  (none)');
  else {
    lines.push(
      ...table([
        ['at', 'op', 'actor', 'principal', 'reason'],
        ...detail.ops.map((o) => [
          o.at,
          o.op + (o.stepN !== undefined ? ` @${o.stepN}` : ''),
          o.actor,
          o.principal,
          oneLine(o.reason, 60) + (o.forkedWorkflowID ? ` → ${o.forkedWorkflowID}` : ''),
        ]),
      ]),
    );
  }

  heading('6. Last error');
  const failed = failedStep(facts.steps);
  if (failed?.error) lines.push(`  step ${failed.stepN} (${failed.name}): ${failed.error.name}: ${failed.error.message}`);
  if (detail.error && detail.error !== failed?.error?.message) lines.push(`  workflow: ${detail.error}`);
  if (!failed?.error && !detail.error) lines.push('  (none)');

  const { verdict, next } = verdictOf(facts);
  lines.push('', `VERDICT: ${verdict}`, `NEXT ACTION: ${next[0] ?? ''}`, ...next.slice(1).map((l) => `  ${l}`));
  return lines;
}

export function printTriage(io: Io, facts: TriageFacts): void {
  for (const line of renderTriage(facts)) io.out(line);
}
