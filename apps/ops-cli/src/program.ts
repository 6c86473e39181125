import { Command, CommanderError, Option } from 'commander';
import { type AppConfig, ConfigError, loadConfig, NotFound, ValidationFailed, validateContract } from '#common';
import { CancelWorkflowRequest, ForkWorkflowRequest, ListWorkflowsQuery, WORKFLOW_ID, WORKFLOW_STATUSES } from '#contracts';
import { OpsService } from '#control-plane';
import { type BatchCommand, runBatch, summaryLine } from './batch.js';
import { bootCli, cliPrincipal, type CliContext } from './cli.module.js';
import { parseIds, readStdin } from './ids.js';
import { type Io, messageOf, UsageError } from './io.js';
import { LIST_FORMATS, type ListFormat, listAll, printList } from './list.js';
import { gatherTriage, healthUrl, printTriage } from './triage.js';

/** Exit codes: 0 all done, 1 something was not done (or a failure), 2 a usage or configuration problem. */
export const EXIT_OK = 0;
export const EXIT_NOT_ALL_DONE = 1;
export const EXIT_USAGE = 2;

interface BatchFlags {
  ids?: string;
  actor?: string;
  reason?: string;
  dryRun?: boolean;
  rate: string;
  appVersion?: string;
}

interface ListFlags {
  status: string[];
  name?: string;
  queue?: string;
  createdAfter?: string;
  createdBefore?: string;
  limit?: string;
  max: string;
  format?: string;
}

function env(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
}

function positiveInt(value: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new UsageError(`${what} must be an integer 1..${max} (got "${value}")`);
  return Number(value);
}

/** A string of digits becomes a number; anything else goes to the contract as it is, to be refused there. */
function numeric(value: string): number | string {
  return /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
}

function contract<T extends object>(cls: new () => T, value: object, what: string): T {
  try {
    return validateContract(cls, value);
  } catch (error) {
    if (error instanceof ValidationFailed) throw new UsageError(`invalid ${what}: ${error.message}`);
    throw error;
  }
}

async function withCli<T>(config: AppConfig, use: (cli: CliContext) => Promise<T>): Promise<T> {
  const cli = await bootCli(config);
  try {
    return await use(cli);
  } finally {
    await cli.close();
  }
}

function batchOptions(command: Command): Command {
  return command
    .option('--ids <ids>', 'workflow IDs, comma separated (default: read from stdin, one per line or whitespace separated; # starts a comment)')
    .option('--actor <actor>', 'who acts, for the OPS audit row (default: $OPS_ACTOR, then ops-batch)')
    .option('--reason <reason>', 'why, for the OPS audit row (default: $OPS_REASON, then batch-<op>)')
    .option('--dry-run', 'print what would happen to each ID and change nothing')
    .option('--rate <n>', 'at most this many actions per second', '10');
}

/** The ops CLI. `run` resolves to the process exit code; it never calls process.exit itself. */
export function buildProgram(io: Io, setCode: (code: number) => void): Command {
  const program = new Command('ops-cli')
    .description(
      'Durable Ops operator CLI: the control plane (OpsService, same rules and OPS audit rows as /api/ops/wf) acting directly on the database — works while the HTTP service is down.',
    )
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride();

  program
    .command('list')
    .description('list workflows, newest first, paging through every match (filters as GET /api/ops/wf)')
    .option(
      '--status <status>',
      `repeatable (or comma separated): ${WORKFLOW_STATUSES.join(' ')}`,
      (v: string, prev: string[]) => [...prev, ...v.split(',')],
      [],
    )
    .option('--name <name>', 'workflow name, e.g. IntentWorkflow')
    .option('--queue <queue>', 'queue name, e.g. intents')
    .option('--created-after <time>', 'ISO 8601 time')
    .option('--created-before <time>', 'ISO 8601 time')
    .option('--limit <n>', 'page size, 1..200', '100')
    .option('--max <n>', 'stop after this many workflows', '1000')
    .addOption(new Option('--format <format>', 'output (default: table on a terminal, ids otherwise)').choices(LIST_FORMATS))
    .action(async (flags: ListFlags) => {
      const max = positiveInt(flags.max, '--max');
      const query = contract(
        ListWorkflowsQuery,
        {
          ...(flags.status.length > 0 ? { status: flags.status.map((s) => s.trim().toUpperCase()) } : {}),
          ...(flags.name !== undefined ? { name: flags.name } : {}),
          ...(flags.queue !== undefined ? { queue: flags.queue } : {}),
          ...(flags.createdAfter !== undefined ? { createdAfter: flags.createdAfter } : {}),
          ...(flags.createdBefore !== undefined ? { createdBefore: flags.createdBefore } : {}),
          limit: numeric(flags.limit ?? '100'),
        },
        'list filter',
      );
      const format: ListFormat = (flags.format as ListFormat | undefined) ?? (io.stdoutIsTTY ? 'table' : 'ids');
      const result = await withCli(loadConfig(), (cli) => listAll(cli.app.get(OpsService), query, max));
      printList(io, result, format, max);
      setCode(EXIT_OK);
    });

  const batch = async (label: string, cmd: BatchCommand, flags: BatchFlags): Promise<void> => setCode(await runBatchCommand(io, label, cmd, flags));

  batchOptions(
    program.command('cancel').alias('cancel-batch').description('cancel PENDING / ENQUEUED / DELAYED workflows (takes effect at their next step)'),
  ).action((flags: BatchFlags) => batch('cancel', { op: 'cancel' }, flags));

  batchOptions(
    program
      .command('resume')
      .alias('resume-batch')
      .description('resume CANCELLED / MAX_RECOVERY_ATTEMPTS_EXCEEDED workflows, or start ENQUEUED / DELAYED ones now (same workflow ID)'),
  ).action((flags: BatchFlags) => batch('resume', { op: 'resume' }, flags));

  batchOptions(
    program
      .command('fork')
      .description('fork finished workflows at step N (1-based; steps before N are reused from checkpoints)')
      .requiredOption('--step <n>', 'the stepN to re-execute from')
      .option('--app-version <version>', 'run the forks on this application version'),
  ).action((flags: BatchFlags & { step: string }) => batch('fork', forkCommand('fork', flags.step, flags.appVersion), flags));

  batchOptions(
    program
      .command('fork-batch')
      .description('fork finished workflows at <step> (positional form of fork)')
      .argument('<step>', 'the stepN to re-execute from')
      .argument('[appVersion]', 'run the forks on this application version'),
  ).action((step: string, appVersion: string | undefined, flags: BatchFlags) => batch('fork', forkCommand('fork', step, appVersion), flags));

  batchOptions(
    program
      .command('retry-from-step')
      .description("fork failed workflows at <step>, after checking that <step> is the workflow's failed step or earlier")
      .argument('<step>', 'the stepN to re-execute from')
      .option('--app-version <version>', 'run the forks on this application version'),
  ).action((step: string, flags: BatchFlags) => batch('retry-from-step', forkCommand('retry-from-step', step, flags.appVersion), flags));

  program
    .command('triage')
    .description('the 10-minute triage of one workflow: health, DBOS status, steps, local marks, OPS history, last error, verdict and next action')
    .argument('<id>', 'workflow (run) ID')
    .action(async (id: string) => {
      if (!WORKFLOW_ID.test(id)) throw new UsageError('id must be a workflow ID: 1..200 printable ASCII characters');
      const config = loadConfig();
      const url = healthUrl(process.env, config.port);
      const code = await withCli(config, async (cli) => {
        try {
          printTriage(io, await gatherTriage(cli.app, id, url));
          return EXIT_OK;
        } catch (error) {
          if (!(error instanceof NotFound)) throw error;
          io.err(`triage: workflow ${id} not found`);
          return EXIT_NOT_ALL_DONE;
        }
      });
      setCode(code);
    });

  program
    .command('verify')
    .description('the SQL oracle: check every invariant in db/invariants; exit 1 on a violation, 2 when the app and system databases differ')
    .action(async () => {
      // Loaded only here: the oracle needs neither Nest nor DBOS.
      const { runVerify } = await import('./verify.js');
      setCode(await runVerify(loadConfig(), io));
    });

  return program;
}

function forkCommand(op: 'fork' | 'retry-from-step', step: string, appVersion: string | undefined): BatchCommand {
  return { op, stepN: numeric(step) as number, ...(appVersion !== undefined ? { appVersion } : {}) };
}

/** One batch command: IDs, validated options, then OpsService per ID, paced; summary and exit code. */
async function runBatchCommand(io: Io, label: string, cmd: BatchCommand, flags: BatchFlags): Promise<number> {
  const actor = flags.actor ?? env('OPS_ACTOR') ?? 'ops-batch';
  const reason = flags.reason ?? env('OPS_REASON') ?? `batch-${label}`;
  let command = cmd;
  if (cmd.op === 'fork' || cmd.op === 'retry-from-step') {
    const body = contract(
      ForkWorkflowRequest,
      { actor, reason, stepN: cmd.stepN, ...(cmd.appVersion !== undefined ? { appVersion: cmd.appVersion } : {}) },
      'options',
    );
    command = { ...cmd, stepN: body.stepN };
  } else {
    contract(CancelWorkflowRequest, { actor, reason }, 'options');
  }
  const rate = Number(flags.rate);
  if (!/^\d+(\.\d+)?$/.test(flags.rate) || !(rate > 0) || rate > 1000)
    throw new UsageError(`--rate must be a number of actions per second, above 0 and at most 1000 (got "${flags.rate}")`);

  let ids: string[];
  if (flags.ids !== undefined) ids = parseIds(flags.ids, /[\s,]+/);
  else if (process.stdin.isTTY) throw new UsageError('no workflow IDs: pass --ids a,b,c or pipe them on stdin (one per line)');
  else ids = parseIds(await readStdin());
  const dryRun = flags.dryRun === true;
  if (ids.length === 0) {
    io.err('no workflow IDs given: nothing to do');
    io.out(summaryLine({ done: 0, conflict: 0, 'not found': 0, invalid: 0, failed: 0 }, dryRun));
    return EXIT_OK;
  }

  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    io.err('\ninterrupted: stopping after the current workflow (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await withCli(loadConfig(), (cli) =>
      runBatch(ids, command, { actor, reason, dryRun, rate }, { ops: cli.app.get(OpsService), principal: cliPrincipal(), io, interrupted: () => interrupted }),
    );
    if (result.skipped > 0) io.err(`interrupted: ${result.skipped} workflow ID${result.skipped === 1 ? '' : 's'} not attempted`);
    io.out(summaryLine(result.tally, dryRun));
    const allDone = result.skipped === 0 && result.tally.done === ids.length;
    return allDone ? EXIT_OK : EXIT_NOT_ALL_DONE;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Parses argv, runs the command, and resolves to the exit code. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'node' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version' ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof UsageError || error instanceof ConfigError) {
      io.err(`ops-cli: ${error.message}`);
      return EXIT_USAGE;
    }
    io.err(`ops-cli: ${messageOf(error)}`);
    if (process.env.LOG_LEVEL === 'debug' && error instanceof Error && error.stack) io.err(error.stack);
    return EXIT_NOT_ALL_DONE;
  }
}
