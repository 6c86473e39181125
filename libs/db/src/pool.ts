import { Logger } from '@nestjs/common';
import pg from 'pg';

const logger = new Logger('Database');

/**
 * A pg pool that survives its server: an idle connection the server drops (restart, failover,
 * `pg_terminate_backend`) is logged and replaced on next use. Without an `error` listener the pool
 * re-emits it as an unhandled event and the process dies.
 */
export function createPool(connectionString: string, max: number, applicationName: string): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: applicationName });
  pool.on('error', (error) => logger.warn(`${applicationName}: an idle connection was closed by the server (${error.message}); it will be replaced`));
  return pool;
}
