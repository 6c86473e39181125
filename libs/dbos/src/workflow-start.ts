import { Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { type DbosSystemDatabase, dbosMethods, systemTable } from './dbos-system.js';

type InitStatus = Parameters<DbosSystemDatabase['initWorkflowStatus']>[0];
type Started = Awaited<ReturnType<DbosSystemDatabase['initWorkflowStatus']>>;

interface StatusRow {
  status: string;
  name: string;
  class_name: string | null;
  config_name: string | null;
  queue_name: string | null;
  creator_xid: string | null;
  serialization: string | null;
}

/**
 * DBOS 5.3's two writes of a new workflow (`insertWorkflowStatus`) as one statement: the status row
 * upserted column for column as DBOS writes it, and the `workflow_input` row beside it. The upsert's
 * no-op update hands an existing row back unchanged, for the caller to inspect.
 */
function insertStatusSql(schema: string): string {
  return `
    WITH status AS (
      INSERT INTO ${systemTable(schema, 'workflow_status')} (
        workflow_uuid, status, name, class_name, config_name, queue_name, authenticated_user, assumed_role,
        authenticated_roles, executor_id, application_version, application_id, recovery_attempts,
        workflow_timeout_ms, workflow_deadline_epoch_ms, inputs, deduplication_id, priority, queue_partition_key,
        forked_from, parent_workflow_id, serialization, creator_xid, delay_until_epoch_ms, attributes,
        schedule_name, debounce_deadline_epoch_ms, is_debounced, application_name, owner_xid)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL, $16, $17, $18, $19, $20, $21, $22,
              $23, $24, $25, $26, $27, $28, $29)
      ON CONFLICT (workflow_uuid) DO UPDATE SET creator_xid = workflow_status.creator_xid
      RETURNING status, name, class_name, config_name, queue_name, creator_xid, serialization
    ),
    input AS (
      INSERT INTO ${systemTable(schema, 'workflow_input')} (workflow_uuid, inputs) SELECT $1, $30 FROM status
      ON CONFLICT (workflow_uuid) DO NOTHING
    )
    SELECT * FROM status`;
}

function statusValues(s: InitStatus, creatorXid: string | null): unknown[] {
  const queuedOrDelayed = s.status === 'ENQUEUED' || s.status === 'DELAYED';
  return [
    s.workflowUUID,
    s.status,
    s.workflowName,
    // NULL, not '', when unset: other DBOS languages read these rows too.
    s.workflowClassName === '' ? null : s.workflowClassName,
    s.workflowConfigName === '' ? null : s.workflowConfigName,
    s.queueName ?? null,
    s.authenticatedUser,
    s.assumedRole,
    JSON.stringify(s.authenticatedRoles),
    s.executorId,
    s.applicationVersion ?? null,
    s.applicationID,
    queuedOrDelayed ? 0 : 1,
    s.timeoutMS ?? null,
    s.deadlineEpochMS ?? null,
    s.deduplicationID ?? null,
    s.priority,
    s.queuePartitionKey ?? null,
    s.forkedFrom ?? null,
    s.parentWorkflowID ?? null,
    s.serialization,
    creatorXid,
    s.delayUntilEpochMS ?? null,
    s.attributes ? JSON.stringify(s.attributes) : null,
    s.scheduleName ?? null,
    s.debounceDeadlineEpochMS ?? null,
    s.isDebounced ?? false,
    s.applicationName ?? null,
    // A direct start runs at once: its creator token also owns the execution.
    s.status === 'PENDING' ? creatorXid : null,
    s.input ?? null,
  ];
}

/**
 * DBOS 5.3 writes a new workflow (`SystemDatabase.initWorkflowStatus` without a caller's client: every
 * `DBOS.startWorkflow`, direct or onto a queue) as a transaction of four statements: `BEGIN`, the
 * status row's upsert, the `workflow_input` row, then `COMMIT` — or `ROLLBACK` when the row already
 * existed and was created by someone else. Here the two writes are one statement (a data-modifying
 * `WITH` is its own transaction): one statement per run instead of four, the same rows, the same
 * answer and the same errors. One difference, on purpose: for an ID that already existed, the
 * statement commits where DBOS's transaction rolls back. What it commits changes nothing: the
 * upsert's update sets `creator_xid` to itself and the input insert does nothing on conflict (only the
 * row's version moves). With a caller's client (a child workflow, DBOSClient inside a transaction),
 * DBOS's own method runs. Installed on the launched executor's system database; a DBOS upgrade must
 * re-check it against `#initWorkflowStatusInternal` (workflow-start.int-spec.ts holds it to that).
 */
export function initWorkflowStatusInOneStatement(system: DbosSystemDatabase): void {
  const dbos = dbosMethods(system);
  const insert = insertStatusSql(system.schemaName);
  system.initWorkflowStatus = async (initStatus, creatorXid, client, reusePolicy = 'return-existing'): Promise<Started> => {
    if (client !== undefined) return dbos.initWorkflowStatus.call(system, initStatus, creatorXid, client, reusePolicy);
    const connection = await system.connect();
    let row: StatusRow | undefined;
    try {
      row = (await connection.query<StatusRow>(insert, statusValues(initStatus, creatorXid))).rows[0];
    } catch (error) {
      if ((error as { code?: string }).code === '23505') {
        throw new DBOSErrors.DBOSQueueDuplicatedError(initStatus.workflowUUID, initStatus.queueName ?? '', initStatus.deduplicationID ?? '');
      }
      throw error;
    } finally {
      connection.release();
    }
    if (!row) throw new Error(`Attempt to insert workflow ${initStatus.workflowUUID} failed`);
    if (reusePolicy === 'reject' && (creatorXid === null || row.creator_xid !== creatorXid)) {
      throw new DBOSErrors.DBOSWorkflowIDInUseError(initStatus.workflowUUID, row.status, row.name);
    }
    const conflict = (what: string, stored: string, given: string): DBOSErrors.DBOSConflictingWorkflowError =>
      new DBOSErrors.DBOSConflictingWorkflowError(
        initStatus.workflowUUID,
        `Workflow already exists with a different ${what}: ${stored}, but the provided ${what} is: ${given}`,
      );
    if (row.name !== initStatus.workflowName) throw conflict('function name', row.name, initStatus.workflowName);
    const className = row.class_name ?? '';
    const configName = row.config_name ?? '';
    if (className !== initStatus.workflowClassName) throw conflict('class name', className, initStatus.workflowClassName);
    if (configName !== (initStatus.workflowConfigName || '')) throw conflict('class configuration', configName, initStatus.workflowConfigName);
    if ((row.queue_name ?? undefined) !== (initStatus.queueName ?? undefined)) {
      system.logger.warn(
        `Workflow (${initStatus.workflowUUID}) already exists in queue: ${row.queue_name}, but the provided queue name is: ${initStatus.queueName}. The queue is not updated.`,
      );
    }
    initStatus.serialization = row.serialization;
    return { status: row.status, shouldExecuteOnThisExecutor: creatorXid === row.creator_xid, serialization: row.serialization };
  };
}
