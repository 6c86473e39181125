import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '#common';
import { oracleEntry } from './checks.js';
import { openPostgresServer, type PostgresServer } from '../harness/index.js';
import { type ActionOutcome, DEFAULT_ROUND, ROUND_KINDS, type RoundConfig, type RoundKind, type RoundResult, runRound } from './round.js';

/**
 * `mise run wf:intent:chaos` (one round) and `mise run wf:intent:chaos:soak -f N` (N rounds):
 * kill -9 the BUILT service mid-ExecuteST, in a durable sleep and mid control action; bring it back
 * with the same executor ID, or as a new process (new executor ID and port), or not at all (a lost
 * worker; rounds take these kinds in turn); cancel and resume sleeping runs; and prove exactly-once
 * with SQL, the effect server's counts and the SQL oracle (which must run). Exit 0 when every round
 * passes, 1 on the first failing round (with the reasons), 2 on bad arguments or nothing built.
 *
 *   node dist-tools/tools/chaos/main.js [--rounds N | -f N] [--seed S] [--keep-failed]
 *
 * Each round uses a throwaway database on DATABASE_URL's server (or an embedded Postgres under
 * .data/pg-chaos when DATABASE_URL is unset). Every random choice comes from --seed (printed), so a
 * failure's kill points can be replayed with the same seed.
 */
const USAGE = `usage: node dist-tools/tools/chaos/main.js [--rounds N | -f N] [--seed S] [--kind K]... [--fault-rate R] [--keep-failed] [--keep-going]
  --rounds N, -f N  rounds to run (default 1); the last one given wins
  --kind K          only rounds of kind K (${ROUND_KINDS.join(', ')}; repeatable; default all, in turn)
  --seed S          seed of every random choice (default: random, printed)
  --fault-rate R    probability 0..1 that a batch effect's first request is answered 503 (default ${DEFAULT_ROUND.faultRate})
  --keep-failed     keep the database of a failed round for inspection
  --keep-going      run every round even after a failure (exit 1 at the end if any failed)`;

interface Args {
  rounds: number;
  keepGoing: boolean;
  seed: string;
  config: RoundConfig;
}

class UsageError extends Error {}

export function parseArgs(argv: readonly string[]): Args {
  let rounds = 1;
  let seed: string | undefined;
  let keepFailed = false;
  let faultRate = DEFAULT_ROUND.faultRate;
  let keepGoing = false;
  const kinds: RoundKind[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--rounds':
      case '-f': {
        const raw = value();
        if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) throw new UsageError(`${flag} must be a number of rounds 1..1000 (got "${raw}")`);
        rounds = Number(raw);
        break;
      }
      case '--seed':
        seed = value();
        break;
      case '--fault-rate': {
        const raw = value();
        if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(raw)) throw new UsageError(`--fault-rate must be a probability 0..1 (got "${raw}")`);
        faultRate = Number(raw);
        break;
      }
      case '--kind': {
        const raw = value();
        if (!(ROUND_KINDS as readonly string[]).includes(raw)) throw new UsageError(`--kind must be one of ${ROUND_KINDS.join(', ')} (got "${raw}")`);
        kinds.push(raw as RoundKind);
        break;
      }
      case '--keep-failed':
        keepFailed = true;
        break;
      case '--keep-going':
        keepGoing = true;
        break;
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  return {
    rounds,
    keepGoing,
    seed: seed ?? randomBytes(4).toString('hex'),
    config: { ...DEFAULT_ROUND, keepFailed, faultRate, ...(kinds.length > 0 ? { kinds } : {}) },
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

const children = new Set<() => void>();

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message) console.error(`chaos: ${error.message}`);
    console.error(USAGE);
    return error.message ? 2 : 0;
  }
  const serviceEntry = join(projectRoot(), 'dist', 'apps', 'api', 'src', 'main.js');
  if (!existsSync(serviceEntry)) {
    console.error(`chaos: ${serviceEntry} does not exist; run npm run build first`);
    return 2;
  }
  if (!existsSync(oracleEntry())) {
    console.error(`chaos: ${oracleEntry()} (the SQL oracle, ops verify) does not exist; run npm run build first`);
    return 2;
  }
  const server: PostgresServer = await openPostgresServer(process.env.DATABASE_URL?.trim() || undefined, 'pg-chaos');
  children.add(() => void server.stop());
  const began = Date.now();
  console.log(
    `chaos: ${args.rounds} round(s), seed ${args.seed} (replay: --seed ${args.seed} --rounds ${args.rounds}), 503 rate ${args.config.faultRate}; ${server.description}; kinds ${args.config.kinds.join(', ')} in turn; oracle ops verify (required)`,
  );
  const results: RoundResult[] = [];
  try {
    for (let round = 1; round <= args.rounds; round++) {
      const result = await runRound(server, round, args.seed, args.config);
      results.push(result);
      console.log(`round ${round}/${args.rounds} [${result.kind}] ${result.ok ? 'PASS' : 'FAIL'} in ${seconds(result.durationMs)}`);
      for (const line of result.lines) console.log(`   ${line}`);
      if (!result.ok) {
        console.error(`chaos: round ${round} FAILED (seed ${args.seed}); reasons:`);
        for (const reason of result.failures) console.error(`   - ${reason}`);
        if (!args.keepGoing) break;
      }
    }
  } finally {
    await server.stop();
  }
  const passed = results.filter((r) => r.ok);
  const outcomes = (pick: (r: RoundResult) => ActionOutcome | undefined): string => {
    const counts = new Map<string, number>();
    for (const r of results) {
      const o = pick(r);
      if (o) counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    return [...counts].map(([o, n]) => `${o} ${n}`).join(', ') || '-';
  };
  const total = Date.now() - began;
  console.log(
    `chaos: ${passed.length}/${args.rounds} round(s) passed${
      results.length > passed.length
        ? ` (failed: ${results
            .filter((r) => !r.ok)
            .map((r) => r.round)
            .join(', ')})`
        : ''
    } in ${seconds(total)} (mean ${seconds(total / Math.max(1, results.length))}/round); ` +
      `${results.reduce((n, r) => n + r.kills, 0)} kill -9s; effects re-sent after a crash: ${results.reduce((n, r) => n + r.resent, 0)} key(s) in total ` +
      `[${results.map((r) => r.resent).join(' ')}]; cancel: ${outcomes((r) => r.cancel)}; fork: ${outcomes((r) => r.fork)}; seed ${args.seed}`,
  );
  return passed.length === args.rounds ? 0 : 1;
}

function abort(signal: string): void {
  console.error(`chaos: ${signal}: stopping`);
  for (const stop of children) stop();
  process.exit(130);
}
process.on('SIGINT', () => abort('SIGINT'));
process.on('SIGTERM', () => abort('SIGTERM'));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
