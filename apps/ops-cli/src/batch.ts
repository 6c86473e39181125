import { DBOS } from '@dbos-inc/dbos-sdk';
import { Conflict, NotFound, ValidationFailed } from '#common';
import { WORKFLOW_ID } from '#contracts';
import type { OpsPrincipal, OpsService } from '#control-plane';
import { type ActionVerdict, decide, failedStep, lastStepN, retryConflict } from './decisions.js';
import { type Io, messageOf } from './io.js';
import { RateLimiter, type Sleep } from './rate-limit.js';

export type BatchCommand =
  | { readonly op: 'cancel' }
  | { readonly op: 'resume' }
  | { readonly op: 'fork'; readonly stepN: number; readonly appVersion?: string | undefined }
  | { readonly op: 'retry-from-step'; readonly stepN: number; readonly appVersion?: string | undefined };

export interface BatchOptions {
  readonly actor: string;
  readonly reason: string;
  readonly dryRun: boolean;
  /** Control actions per second, at most. */
  readonly rate: number;
}

export const OUTCOMES = ['done', 'conflict', 'not found', 'invalid', 'failed'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type Tally = Record<Outcome, number>;

export interface BatchResult {
  readonly tally: Tally;
  /** IDs never attempted because the operator interrupted the batch. */
  readonly skipped: number;
}

export interface BatchDeps {
  readonly ops: OpsService;
  readonly principal: OpsPrincipal;
  readonly io: Io;
  /** Versions launched on the system database, for a dry-run fork with an appVersion. */
  readonly appVersions?: () => Promise<readonly string[]>;
  readonly sleep?: Sleep;
  /** True once the operator asked to stop (Ctrl-C): the batch stops after the current ID. */
  readonly interrupted?: () => boolean;
}

/** Progress every this many IDs (when stderr is not a terminal), for batches longer than this. */
const PROGRESS_EVERY = 10;

function describeAccepted(cmd: BatchCommand, result: { actionId: string; forkedWorkflowID?: string; stepN?: number }): string {
  switch (cmd.op) {
    case 'cancel':
      return `cancelled (action ${result.actionId})`;
    case 'resume':
      return `resumed (action ${result.actionId})`;
    case 'fork':
    case 'retry-from-step':
      return `forked at step ${result.stepN ?? cmd.stepN} as ${result.forkedWorkflowID ?? '?'} (action ${result.actionId})`;
  }
}

function conflictLine(message: string, hint: string | undefined): string {
  return hint ? `conflict: ${message} (hint: ${hint})` : `conflict: ${message}`;
}

export function summaryLine(tally: Tally, dryRun: boolean): string {
  const counts = OUTCOMES.map((o) => (o === 'done' && dryRun ? `would do ${tally[o]}` : `${o} ${tally[o]}`)).join(' / ');
  return dryRun ? `dry run, nothing changed: ${counts}` : counts;
}

/**
 * Runs one control action over many workflow IDs through OpsService (same rules, same OPS rows as the
 * HTTP routes), one at a time, paced by `rate`. A problem with one ID is reported and counted, never
 * thrown: the batch goes on. `--dry-run` reads (OpsService.get/steps) and predicts; it changes nothing.
 */
export async function runBatch(ids: readonly string[], cmd: BatchCommand, options: BatchOptions, deps: BatchDeps): Promise<BatchResult> {
  const { ops, principal, io } = deps;
  const tally: Tally = { done: 0, conflict: 0, 'not found': 0, invalid: 0, failed: 0 };
  const limiter = new RateLimiter(options.rate, Date.now, deps.sleep);
  const input = { actor: options.actor, reason: options.reason };
  let versions: readonly string[] | undefined;
  const knownVersions = async (): Promise<readonly string[]> =>
    (versions ??= await (deps.appVersions ?? (async () => (await DBOS.listApplicationVersions()).map((v) => v.versionName)))());

  const showProgress = ids.length > PROGRESS_EVERY;
  let progressShown = false;
  const progressText = (n: number): string => `${options.dryRun ? 'dry run ' : ''}${n}/${ids.length}: ${OUTCOMES.map((o) => `${o} ${tally[o]}`).join(', ')}`;
  const out = (line: string): void => {
    if (progressShown) {
      io.errRaw('\r\x1b[K');
      progressShown = false;
    }
    io.out(line);
  };

  let attempted = 0;
  for (const id of ids) {
    if (deps.interrupted?.()) break;
    attempted++;
    let status = '';
    const at = (): string => (status ? `${id} ${status}` : id);
    try {
      if (!WORKFLOW_ID.test(id)) throw new ValidationFailed([{ path: 'id', message: 'id must be a workflow ID: 1..200 printable ASCII characters' }]);
      if (!options.dryRun) await limiter.next();
      const detail = await ops.get(id);
      status = detail.status;
      const name = detail.name;

      if (options.dryRun) {
        const decision = await predict(id, status, name, cmd);
        if (decision.outcome === 'accept') {
          out(`${at()} → would ${decision.action}`);
          tally.done++;
        } else {
          out(`${at()} → ${conflictLine(decision.message, decision.hint)}`);
          tally.conflict++;
        }
      } else {
        out(`${at()} → ${await act(id, status, cmd)}`);
        tally.done++;
      }
    } catch (error) {
      if (error instanceof NotFound) {
        out(`${id} → not found`);
        tally['not found']++;
      } else if (error instanceof Conflict) {
        out(`${error.status ? `${id} ${error.status}` : at()} → ${conflictLine(error.message, error.hint)}`);
        tally.conflict++;
      } else if (error instanceof ValidationFailed) {
        out(`${at()} → invalid: ${error.message}`);
        tally.invalid++;
      } else {
        out(`${at()} → failed: ${messageOf(error)}`);
        tally.failed++;
      }
    }

    if (showProgress) {
      if (io.stderrIsTTY) {
        io.errRaw(`\r\x1b[K${progressText(attempted)}`);
        progressShown = true;
      } else if (attempted % PROGRESS_EVERY === 0 && attempted < ids.length) {
        io.err(progressText(attempted));
      }
    }
  }
  if (progressShown) io.errRaw('\r\x1b[K');
  return { tally, skipped: ids.length - attempted };

  /** The dry run's prediction, from reads only. */
  async function predict(id: string, status: string, name: string | null, command: BatchCommand): Promise<ActionVerdict> {
    switch (command.op) {
      case 'cancel':
      case 'resume':
        return decide(command.op, { id, status, name, lastStepN: 1 });
      case 'fork':
      case 'retry-from-step': {
        const steps = (await ops.steps(id)).steps;
        if (command.op === 'retry-from-step') {
          const conflict = retryConflict(id, status, command.stepN, failedStep(steps));
          if (conflict) return conflict;
        }
        const fork = { stepN: command.stepN, appVersion: command.appVersion };
        return decide('fork', { id, status, name, lastStepN: lastStepN(steps) }, fork, command.appVersion !== undefined ? await knownVersions() : undefined);
      }
    }
  }

  /** The real action, through OpsService. */
  async function act(id: string, status: string, command: BatchCommand): Promise<string> {
    switch (command.op) {
      case 'cancel':
        return describeAccepted(command, await ops.cancel(id, input, principal));
      case 'resume':
        return describeAccepted(command, await ops.resume(id, input, principal));
      case 'fork':
      case 'retry-from-step': {
        if (command.op === 'retry-from-step') {
          const conflict = retryConflict(id, status, command.stepN, failedStep((await ops.steps(id)).steps));
          if (conflict?.outcome === 'conflict') throw new Conflict(conflict.message, status, conflict.hint);
        }
        const fork = { ...input, stepN: command.stepN, ...(command.appVersion !== undefined ? { appVersion: command.appVersion } : {}) };
        return describeAccepted(command, await ops.fork(id, fork, principal));
      }
    }
  }
}
