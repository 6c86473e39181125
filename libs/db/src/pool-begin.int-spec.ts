import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { createPool, sendTogether } from './pool.js';

/** Counts the writes a pooled client makes to its socket while `body` runs. */
async function writesDuring(client: pg.PoolClient, body: () => Promise<void>): Promise<number> {
  const stream = (client as unknown as { connection: { stream: { _writeGeneric: (...args: unknown[]) => unknown } } }).connection.stream;
  const original = stream._writeGeneric;
  let writes = 0;
  stream._writeGeneric = function (this: unknown, ...args: unknown[]) {
    writes++;
    return original.apply(this, args);
  };
  try {
    await body();
  } finally {
    stream._writeGeneric = original;
  }
  return writes;
}

describe.each([false, true])('a BEGIN sent ahead of its first statement (prepare %s)', (prepare) => {
  let database: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = createPool(database.url, { max: 1, name: 'begin-ahead', prepare });
    await pool.query('CREATE TABLE t (n integer)');
  });
  afterAll(async () => {
    await pool?.end().catch(() => undefined);
    await database?.drop();
  });

  it('goes out in the same write as that statement, and opens the transaction it runs in', async () => {
    const client = await pool.connect();
    try {
      let xids: string[] = [];
      const writes = await writesDuring(client, async () => {
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const first = await client.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x, $1::int AS n', [1]);
        const second = await client.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x');
        xids = [first.rows[0]!.x, second.rows[0]!.x];
        await client.query('INSERT INTO t VALUES ($1)', [1]);
        await client.query('ROLLBACK');
      });
      // BEGIN + first, second, INSERT, ROLLBACK.
      expect(writes).toBe(4);
      expect(xids[0]).toBe(xids[1]);
      expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]!.n).toBe(0);
      expect(client.getTransactionStatus()).toBe('I');
    } finally {
      client.release();
    }
  });

  it('commits what the transaction wrote, once', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query('INSERT INTO t VALUES ($1)', [2]);
      await client.query('COMMIT');
      expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE n = 2')).rows[0]!.n).toBe(1);
    } finally {
      client.release();
    }
  });

  it('that fails makes the next statement fail with its error', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await expect(client.query('SELECT 1 / $1::int', [0])).rejects.toThrow(/division by zero/);
      // Inside the aborted transaction BEGIN fails too: the statement after it reports that error.
      await client.query('BEGIN');
      await expect(client.query('SELECT $1::int AS n', [1])).rejects.toThrow(/current transaction is aborted/);
      await client.query('ROLLBACK');
      expect((await client.query<{ n: number }>('SELECT $1::int AS n', [7])).rows[0]!.n).toBe(7);
    } finally {
      client.release();
    }
  });

  it('leaves a BEGIN with no statement after it harmless to the connection', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(client.getTransactionStatus()).toBe('T');
      await client.query('ROLLBACK');
      expect(client.getTransactionStatus()).toBe('I');
    } finally {
      client.release();
    }
  });
});

describe.each([false, true])('statements sent together (prepare %s)', (prepare) => {
  let database: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = createPool(database.url, { max: 1, name: 'send-together', prepare });
    await pool.query('CREATE TABLE t (n integer PRIMARY KEY)');
  });
  afterAll(async () => {
    await pool?.end().catch(() => undefined);
    await database?.drop();
  });

  it('go out in one write and are answered one by one, in order', async () => {
    const client = await pool.connect();
    try {
      let answers: number[] = [];
      const writes = await writesDuring(client, async () => {
        sendTogether(client);
        const begun = client.query('BEGIN');
        const inserted = client.query('INSERT INTO t VALUES ($1) RETURNING n', [1]);
        const counted = client.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE n = $1', [1]);
        const committed = client.query('COMMIT');
        await begun;
        answers = [(await inserted).rowCount ?? -1, (await counted).rows[0]!.n];
        expect((await committed).command).toBe('COMMIT');
      });
      expect(writes).toBe(1);
      expect(answers).toEqual([1, 1]);
      expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]!.n).toBe(1);
    } finally {
      client.release();
    }
  });

  it('inside a transaction: an error stays with its statement, the ones after it fail, and the COMMIT rolls back', async () => {
    const client = await pool.connect();
    try {
      sendTogether(client);
      const begun = client.query('BEGIN');
      const inserted = client.query('INSERT INTO t VALUES ($1)', [2]);
      const duplicate = client.query('INSERT INTO t VALUES ($1)', [2]).then(
        () => 'inserted',
        (error: { code?: string }) => error.code,
      );
      const after = client.query('SELECT $1::int AS n', [3]).then(
        () => 'answered',
        (error: { code?: string }) => error.code,
      );
      const committed = client.query('COMMIT');
      await begun;
      await inserted;
      expect(await duplicate).toBe('23505');
      expect(await after).toBe('25P02');
      expect((await committed).command).toBe('ROLLBACK');
      expect(client.getTransactionStatus()).toBe('I');
      expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE n = 2')).rows[0]!.n).toBe(0);
    } finally {
      client.release();
    }
  });
});
