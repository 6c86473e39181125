import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import pg from 'pg';

const logger = new Logger('Database');

export interface PoolOptions {
  readonly max: number;
  /** Connections kept open however long they idle (default 0); warmPool opens them. */
  readonly min?: number;
  /** application_name, shown in pg_stat_activity. */
  readonly name: string;
  /** Session settings sent at connect, e.g. `-c idle_in_transaction_session_timeout=60000`. */
  readonly options?: string;
  /** Run parameterised statements as named prepared statements (see PreparingClient). Default: off. */
  readonly prepare?: boolean;
}

/**
 * Idle connections above `min` close after a minute, not pg's ten seconds: opening one costs a
 * backend start, and a service that idles for a few seconds should not pay it again on every
 * request of the next burst.
 */
export const POOL_IDLE_TIMEOUT_MS = 60_000;

/**
 * A pg pool that survives its server: an idle connection the server drops (restart, failover,
 * `pg_terminate_backend`) is logged and replaced on next use. Without an `error` listener the pool
 * re-emits it as an unhandled event and the process dies. Its connections are ServiceClients.
 */
export function createPool(connectionString: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    Client: options.prepare ? PreparingClient : ServiceClient,
    connectionString,
    max: options.max,
    min: options.min ?? 0,
    idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
    application_name: options.name,
    ...(options.options ? { options: options.options } : {}),
  });
  pool.on('error', (error) => logger.warn(`${options.name}: an idle connection was closed by the server (${error.message}); it will be replaced`));
  return pool;
}

/**
 * Opens connections until `count` are open, and returns them to the pool. A pool that grows in the
 * middle of a burst makes its callers wait for backend starts (a fork, authentication, catalog
 * loading: 20–150 ms on a loaded 2-core machine, measured in the benchmark), so a service warms its
 * pools to their working size at boot and keeps them there (`min`).
 */
export async function warmPool(pool: pg.Pool, count: number): Promise<void> {
  const clients = await Promise.allSettled(Array.from({ length: count }, () => pool.connect()));
  for (const client of clients) if (client.status === 'fulfilled') client.value.release();
  const failed = clients.find((client) => client.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Distinct statements one connection prepares at most; any further statement runs unnamed. */
export const PREPARED_PER_CONNECTION = 100;

/** Statement texts whose names the process remembers (the names of the rest are hashed on each use). */
const NAMES_CACHED = 1_000;
const statementNames = new Map<string, string>();

/** A statement's prepared name: a hash of its text, computed once per text (a SHA-1 per query showed in profiles). */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `p_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    if (statementNames.size < NAMES_CACHED) statementNames.set(text, name);
  }
  return name;
}

/** A parameterless BEGIN, as DBOS (`BEGIN ISOLATION LEVEL READ COMMITTED`) and Kysely (`begin`) send it. */
const BEGIN = /^\s*begin(?:\s+isolation\s+level\s+[a-z ]+)?\s*;?\s*$/i;

function isBegin(config: unknown, values: unknown): boolean {
  if (values !== undefined && !(Array.isArray(values) && values.length === 0)) return false;
  if (typeof config === 'string') return BEGIN.test(config);
  if (config === null || typeof config !== 'object' || 'submit' in config || 'name' in config) return false;
  const { text, values: given } = config as { text?: unknown; values?: unknown };
  return typeof text === 'string' && (given === undefined || (Array.isArray(given) && given.length === 0)) && BEGIN.test(text);
}

type QueryResultLike = pg.QueryResult<Record<string, unknown>>;

/**
 * A pg client that sends a transaction's BEGIN in the same write as the transaction's first
 * statement: one round trip per transaction less (DBOS opens one per step checkpoint, per workflow
 * start and end). pg runs in pipeline mode (each statement still ends with its own Sync, so an
 * error stays with its statement), BEGIN answers at once, and the socket is corked until the
 * caller's next statement has been written (or, at the latest, the end of the current tick).
 *
 * If BEGIN itself fails (in practice only on a connection that is already broken or inside an
 * aborted transaction, where the next statement fails too), the next statement's promise rejects
 * with BEGIN's error, so the caller rolls back as it would have at BEGIN.
 */
/** pg.Client's own query, called with whatever overload the caller used. */
const clientQuery = Object.getOwnPropertyDescriptor(pg.Client.prototype, 'query')!.value as (this: pg.Client, ...args: unknown[]) => unknown;

type Callback = (error: Error | null, result?: unknown) => void;

class ServiceClient extends pg.Client {
  /** The BEGIN sent ahead of the next statement; that statement reports its failure. */
  private begun: Promise<QueryResultLike> | undefined;

  constructor(config?: string | pg.ClientConfig) {
    super(typeof config === 'string' ? { connectionString: config, pipeline: true } : { ...config, pipeline: true });
  }

  /**
   * pg's query, every overload passed through (the pool only ever calls it, never reads this type):
   * the arguments reach pg.Client's own query untouched, but for a BEGIN sent ahead.
   */
  override query(config: unknown, values?: unknown, callback?: unknown): never {
    if (callback === undefined && typeof values !== 'function' && isBegin(config, values)) return this.beginAhead(config) as never;
    const begun = this.begun;
    if (!begun) return this.send(config, values, callback) as never;
    // The statement after a BEGIN sent ahead fails with BEGIN's error, if BEGIN failed.
    this.begun = undefined;
    if (typeof values === 'function' || typeof callback === 'function') {
      // Callback style (pg-pool's pool.query).
      const given = (typeof values === 'function' ? values : callback) as Callback;
      const after: Callback = (error, result) => {
        begun.then(
          () => given(error, result),
          (beginError: unknown) => given(beginError as Error),
        );
      };
      return (typeof values === 'function' ? this.send(config, after) : this.send(config, values, after)) as never;
    }
    return (this.send(config, values) as Promise<unknown>).then(
      async (value: unknown) => {
        await begun;
        return value;
      },
      async (error: unknown) => {
        await begun;
        throw error;
      },
    ) as never;
  }

  protected send(config: unknown, values?: unknown, callback?: unknown): unknown {
    return Reflect.apply(clientQuery, this, [config, values, callback]);
  }

  private beginAhead(config: unknown): Promise<QueryResultLike> {
    const stream = (this as unknown as { connection: { stream: { cork?: () => void; uncork?: () => void } } }).connection.stream;
    stream.cork?.();
    process.nextTick(() => stream.uncork?.());
    const begun = Reflect.apply(clientQuery, this, [config]) as Promise<QueryResultLike>;
    begun.catch(() => undefined);
    this.begun = begun;
    return Promise.resolve({ command: 'BEGIN', rowCount: null, oid: 0, rows: [], fields: [] });
  }
}

/**
 * The statements the caller issues on `client` before its next await go out in one socket write (the
 * socket is corked until the end of the current tick). With pipeline mode (every client of
 * createPool) they are sent without waiting for each other's answers and still answered one by one,
 * in order; each ends with its own Sync, so an error stays with its statement, and inside a
 * transaction the statements after it fail and a COMMIT rolls back. Any other client sends them one
 * after the other, with the same results.
 */
export function sendTogether(client: pg.ClientBase): void {
  const stream = (client as unknown as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  if (!stream?.cork || !stream.uncork) return;
  stream.cork();
  process.nextTick(() => stream.uncork?.());
}

/**
 * A ServiceClient that runs every parameterised statement as a named prepared statement (the name
 * is a hash of its text): Postgres parses and analyses it once per connection instead of on every run.
 */
class PreparingClient extends ServiceClient {
  private readonly prepared = new Set<string>();

  protected override send(config: unknown, values?: unknown, callback?: unknown): unknown {
    const named = this.asNamed(config, values);
    if (!named) return super.send(config, values, callback);
    const given = (typeof values === 'function' ? values : callback) as Callback | undefined;
    if (!(named instanceof pg.Query)) return super.send(named, given);
    if (given) {
      named.callback = given;
      return super.send(named);
    }
    return new Promise((resolve, reject) => {
      named.callback = (error, result) => (error ? reject(error) : resolve(result));
      super.send(named);
    });
  }

  /**
   * The statement as a named one, or undefined to send it as given. A text with its values only (the
   * common case) becomes a pg.Query made from the text: given a config object, pg copies its every
   * property descriptor on each query, a cost that showed in profiles.
   */
  private asNamed(config: unknown, values: unknown): pg.QueryConfig | NamedQuery | undefined {
    let text: string;
    let params: unknown[];
    let rest: object = {};
    if (typeof config === 'string') {
      if (!Array.isArray(values)) return undefined;
      text = config;
      params = values;
    } else if (
      config !== null &&
      typeof config === 'object' &&
      !('submit' in config) &&
      !('name' in config) &&
      'text' in config &&
      typeof config.text === 'string'
    ) {
      const given = 'values' in config && Array.isArray(config.values) ? (config.values as unknown[]) : Array.isArray(values) ? values : undefined;
      if (!given) return undefined;
      ({ text } = config);
      params = given;
      rest = config;
    } else return undefined;
    if (params.length === 0) return undefined;
    const name = statementName(text);
    if (!this.prepared.has(name)) {
      if (this.prepared.size >= PREPARED_PER_CONNECTION) return undefined;
      this.prepared.add(name);
    }
    if (Object.keys(rest).every((key) => key === 'text' || key === 'values')) {
      const query = new pg.Query(text, params) as NamedQuery;
      query.name = name;
      return query;
    }
    return { ...rest, name, text, values: params };
  }
}

/** A pg.Query with the properties pg reads off it (its types leave them out). */
type NamedQuery = pg.Query & { name?: string; callback?: Callback };
