import { DBOS } from '@dbos-inc/dbos-sdk';
import { runTransactionalInternalStep } from '@dbos-inc/dbos-sdk/internal/dbos';
import type { CompiledQuery, QueryResult } from 'kysely';
import type { PoolClient } from 'pg';
import { withStepSpan } from './dbos-telemetry.js';
import { timedStep } from './service-metrics.js';

/** Where a step's SQL runs: inside the step's checkpoint transaction, or on the app pool. */
export interface StepSql {
  /** True when the statements commit in the same transaction as the step's DBOS checkpoint. */
  readonly withCheckpoint: boolean;
  execute<R>(query: CompiledQuery<R>): Promise<R[]>;
}

function onClient(client: PoolClient): StepSql {
  return {
    withCheckpoint: true,
    async execute<R>(query: CompiledQuery<R>): Promise<R[]> {
      const result = await client.query<R & object>(query.sql, query.parameters as unknown[]);
      return result.rows;
    },
  };
}

/** What runAppStep needs of the app database: any Kysely instance. */
export interface QueryExecutor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

function onPool(db: QueryExecutor): StepSql {
  return {
    withCheckpoint: false,
    async execute<R>(query: CompiledQuery<R>): Promise<R[]> {
      return (await db.executeQuery(query)).rows;
    },
  };
}

export interface AppStepOptions {
  /** The app database (Kysely). */
  readonly db: QueryExecutor;
  /**
   * True when the app schema and the DBOS system schema live in one database (the default). The
   * step's statements then run on DBOS's own connection, in the transaction that records the
   * step's checkpoint: the app writes and the checkpoint commit together or not at all.
   */
  readonly sharedDatabase: boolean;
}

/**
 * A DBOS step whose only effects are app-database statements (no external calls, no retries).
 *
 * - Shared database: one transaction holds the step's cancellation check, its checkpoint lookup,
 *   `body`'s statements and the checkpoint itself (DBOS 5.3's transactional step, the mechanism
 *   behind its own schedule operations). A crash before the commit leaves nothing; after it, the
 *   step replays from its checkpoint and `body` never runs again. One commit per step.
 * - Separate system database: a plain `DBOS.runStep` and `body` runs on the app pool. `body` must
 *   then keep its writes to one statement keyed so that a replay writes nothing twice, since the
 *   checkpoint commits separately, after it.
 *
 * With tracing on, the step gets its own span (workflowID, step.name, appVersion) either way; its
 * time goes to durable_ops.step.duration either way.
 */
export function runAppStep<T>(name: string, options: AppStepOptions, body: (sql: StepSql) => Promise<T>): Promise<T> {
  if (!options.sharedDatabase) return timedStep(name, () => DBOS.runStep(() => body(onPool(options.db)), { name }));
  return withStepSpan(name, () =>
    runTransactionalInternalStep(async (client) => {
      if (!client) throw new Error(`${name} must run inside a workflow, outside any step`);
      return body(onClient(client));
    }, name),
  );
}
