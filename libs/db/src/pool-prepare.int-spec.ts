import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { createPool, PREPARED_PER_CONNECTION, warmPool } from './pool.js';

/** The statements the pool's (single) connection has prepared, as Postgres lists them. */
async function prepared(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements ORDER BY statement');
  return rows.map((r) => r.statement);
}

describe('pools', () => {
  let database: TestDatabase;
  const pools: pg.Pool[] = [];
  const pool = (options: Parameters<typeof createPool>[1]): pg.Pool => {
    const created = createPool(database.url, options);
    pools.push(created);
    return created;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const p of pools) await p.end().catch(() => undefined);
    await database?.drop();
  });

  describe('with prepare on', () => {
    it('run a parameterised statement as a named prepared statement, parsed once per connection', async () => {
      const p = pool({ max: 1, name: 'prepare-on', prepare: true });
      for (const n of [1, 2, 3]) {
        const { rows } = await p.query<{ n: number }>('SELECT $1::int + 1 AS n', [n]);
        expect(rows).toEqual([{ n: n + 1 }]);
      }
      const byConfig = await p.query<{ s: string }>({ text: 'SELECT upper($1::text) AS s', values: ['kept'] });
      expect(byConfig.rows).toEqual([{ s: 'KEPT' }]);
      expect(await prepared(p)).toEqual(['SELECT $1::int + 1 AS n', 'SELECT upper($1::text) AS s']);
    });

    it('leave statements without parameters, and ones already named, as they are', async () => {
      const p = pool({ max: 1, name: 'prepare-plain', prepare: true });
      await p.query('SELECT 1');
      await p.query({ name: 'mine', text: 'SELECT $1::int AS n', values: [7] });
      expect(await prepared(p)).toEqual(['SELECT $1::int AS n']);
      const { rows } = await p.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
      expect(rows).toEqual([{ name: 'mine' }]);
    });

    it(`prepare at most ${PREPARED_PER_CONNECTION} distinct statements per connection; the rest run unnamed, with the same results`, async () => {
      const p = pool({ max: 1, name: 'prepare-cap', prepare: true });
      const client = await p.connect();
      try {
        for (let i = 0; i < PREPARED_PER_CONNECTION + 20; i++) {
          const { rows } = await client.query<{ n: number }>(`SELECT $1::int + ${i} AS n`, [1]);
          expect(rows[0]!.n).toBe(1 + i);
        }
        const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements');
        expect(rows[0]!.n).toBe(PREPARED_PER_CONNECTION);
      } finally {
        client.release();
      }
    });

    it('report a failing statement as an error and run it again once fixed (nothing stays half-prepared)', async () => {
      const p = pool({ max: 1, name: 'prepare-error', prepare: true });
      await expect(p.query('SELECT * FROM missing_table WHERE id = $1', [1])).rejects.toThrow(/missing_table/);
      await p.query('CREATE TABLE missing_table (id int)');
      const { rows } = await p.query('SELECT * FROM missing_table WHERE id = $1', [1]);
      expect(rows).toEqual([]);
    });
  });

  it('with prepare off, run every statement unnamed', async () => {
    const p = pool({ max: 1, name: 'prepare-off' });
    await p.query('SELECT $1::int + 1 AS n', [1]);
    expect(await prepared(p)).toEqual([]);
  });

  it('warmPool opens the connections up front, and min keeps them', async () => {
    const p = pool({ max: 6, min: 4, name: 'warm-pool' });
    await warmPool(p, 4);
    expect(p.totalCount).toBe(4);
    expect(p.idleCount).toBe(4);
    const { rows } = await p.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'warm-pool'");
    expect(rows[0]!.n).toBe(4);
  });

  it('warmPool fails when the server refuses connections', async () => {
    const p = createPool(database.url.replace(/\/[^/]+$/, '/no_such_database_here'), { max: 2, name: 'warm-missing' });
    pools.push(p);
    await expect(warmPool(p, 2)).rejects.toThrow(/no_such_database_here/);
  });
});
