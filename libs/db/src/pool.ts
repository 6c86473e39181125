import { Logger } from '@nestjs/common';
import pg from 'pg';

const logger = new Logger('Database');

export interface PoolOptions {
  readonly max: number;
  /** Connections kept open however long they idle (default 0). */
  readonly min?: number;
  /** application_name, shown in pg_stat_activity. */
  readonly name: string;
  /** Session settings sent at connect, e.g. `-c idle_in_transaction_session_timeout=60000`. */
  readonly options?: string;
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
 * re-emits it as an unhandled event and the process dies.
 */
export function createPool(connectionString: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
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
