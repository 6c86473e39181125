import { type DbosSystemDatabase, dbosMethods, NOW_MS, systemTable } from './dbos-system.js';

type Queue = Parameters<DbosSystemDatabase['findAndMarkStartableWorkflows']>[0];

/**
 * A queue whose claim is this worker's business alone: no budget shared with other executors
 * (global or partition concurrency, rate limits), so DBOS takes its rows with `FOR UPDATE SKIP
 * LOCKED` in READ COMMITTED, and no partitions.
 */
function claimsAlone(queue: Queue, queuePartitionKey: string | undefined): boolean {
  return (
    queuePartitionKey === undefined &&
    queue.concurrency === undefined &&
    queue.rateLimit === undefined &&
    queue.partitionConcurrency === undefined &&
    queue.partitionRateLimit === undefined &&
    queue.partitionWorkerConcurrency === undefined &&
    queue.workerConcurrency !== undefined
  );
}

/**
 * DBOS's claim as one statement ($1 ENQUEUED, $2 the queue, $3 this version, $4 PENDING, $5 this
 * executor, $6 the owner token, $7 this application's name, $8 how many; `scope` is DBOS's
 * application filter, with its parameter as $9 when the application has a name): the version DBOS
 * treats as latest, the oldest startable rows of the queue in priority order, locked and skipped as
 * DBOS locks and skips them, flipped to PENDING with DBOS's columns, and their IDs in DBOS's order.
 */
function claimSql(schema: string, scope: string): string {
  const status = systemTable(schema, 'workflow_status');
  return `
    WITH latest AS (
      SELECT version_name FROM ${systemTable(schema, 'application_versions')}
       WHERE ${scope}
       ORDER BY version_timestamp DESC LIMIT 1
    ),
    picked AS (
      SELECT workflow_uuid, priority, created_at FROM ${status}
       WHERE status = $1
         AND queue_name = $2
         AND (application_version = $3
              OR (application_version IS NULL AND NOT EXISTS (SELECT 1 FROM latest WHERE version_name <> $3)))
         AND ${scope}
       ORDER BY priority ASC, created_at ASC
       LIMIT $8
       FOR UPDATE SKIP LOCKED
    ),
    flipped AS (
      UPDATE ${status} AS w
         SET status = $4,
             owner_xid = $6,
             executor_id = $5,
             application_version = $3,
             started_at_epoch_ms = ${NOW_MS},
             rate_limited = FALSE,
             application_name = COALESCE(w.application_name, $7),
             recovery_attempts = w.recovery_attempts + 1,
             updated_at = ${NOW_MS},
             workflow_deadline_epoch_ms = CASE
               WHEN w.workflow_timeout_ms IS NOT NULL AND w.workflow_deadline_epoch_ms IS NULL
               THEN ${NOW_MS} + w.workflow_timeout_ms
               ELSE w.workflow_deadline_epoch_ms
             END
        FROM picked
       -- Unqualified names are the status row's: picked has none of them.
       WHERE w.workflow_uuid = picked.workflow_uuid AND w.status = $1 AND ${scope}
       RETURNING w.workflow_uuid
    )
    SELECT picked.workflow_uuid FROM picked JOIN flipped USING (workflow_uuid)
     ORDER BY picked.priority ASC, picked.created_at ASC`;
}

/**
 * DBOS 5.3 polls a queue (`SystemDatabase.findAndMarkStartableWorkflows`) as a transaction of four
 * statements even when it finds nothing: `BEGIN`, the latest application version, the startable rows
 * `FOR UPDATE SKIP LOCKED`, `COMMIT` (and the `UPDATE` that claims them when there are some). An idle
 * worker polling the `intents` queue every 50 ms sent 80 statements a second for nothing; and when
 * the worker has no room, DBOS still sends `BEGIN` and `COMMIT`.
 *
 * For a queue this worker claims alone (see claimsAlone: the service's `intents` queue without
 * RUN_GLOBAL_CONCURRENCY, and `ops`), the poll here is one statement, or none when the worker has no
 * room: the same rows claimed with the same columns, in the same order, locked the same way (a data
 * -modifying `WITH` is one transaction, and READ COMMITTED is what DBOS uses for such a queue). Every
 * other queue (shared budgets, partitions: their isolation and `NOWAIT` matter) goes to DBOS's own
 * method. Installed on the launched executor's system database; `queue-claim.int-spec.ts` holds it to
 * DBOS's method, still on the prototype.
 */
export function claimQueuedWorkflowsInOneStatement(system: DbosSystemDatabase): void {
  const dbos = dbosMethods(system);
  // DBOS's application filter, after the statement's eight parameters: TRUE without a name, else
  // `(application_name = ANY($9) OR application_name IS NULL)` with the names as $9.
  const filterParams: unknown[] = new Array(8).fill(null);
  const sql = claimSql(system.schemaName, system.appNameFilter('application_name', system.appName, filterParams));
  const scopeParams = filterParams.slice(8);
  system.findAndMarkStartableWorkflows = async (
    queue,
    executorID,
    appVersion,
    queuePartitionKey,
    localRunningCount = 0,
    partitionLocalRunningCount = 0,
    ownerXid = null,
  ): Promise<string[]> => {
    if (!claimsAlone(queue, queuePartitionKey)) {
      return dbos.findAndMarkStartableWorkflows.call(
        system,
        queue,
        executorID,
        appVersion,
        queuePartitionKey,
        localRunningCount,
        partitionLocalRunningCount,
        ownerXid,
      );
    }
    const room = Math.max(0, queue.workerConcurrency! - localRunningCount);
    if (room === 0) return [];
    const params = ['ENQUEUED', queue.name, appVersion, 'PENDING', executorID, ownerXid, system.appName ?? null, room, ...scopeParams];
    const connection = await system.connect();
    try {
      const { rows } = await connection.query<{ workflow_uuid: string }>(sql, params);
      return rows.map((row) => row.workflow_uuid);
    } finally {
      connection.release();
    }
  };
}
