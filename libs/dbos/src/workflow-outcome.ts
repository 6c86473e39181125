import { currentOwnerXid } from '@dbos-inc/dbos-sdk/internal/context';
import { type DbosSystemDatabase, dbosMethods, NOW_MS, systemTable } from './dbos-system.js';

/**
 * The SQL of a workflow's success: the status row moved from PENDING (still owned by the execution,
 * when `owned`) to SUCCESS with DBOS's columns, and the output row written only if it moved.
 * Answers whether it did.
 */
function recordOutputSql(schema: string, owned: boolean): string {
  return `
    WITH done AS (
      UPDATE ${systemTable(schema, 'workflow_status')}
         SET status = 'SUCCESS', updated_at = ${NOW_MS}, deduplication_id = NULL, completed_at = ${NOW_MS}, owner_xid = NULL
       WHERE workflow_uuid = $1 AND status = 'PENDING'${owned ? ' AND owner_xid = $3' : ''}
      RETURNING workflow_uuid
    ),
    written AS (
      INSERT INTO ${systemTable(schema, 'workflow_output')} (workflow_uuid, output, error)
      SELECT workflow_uuid, $2, NULL FROM done
      ON CONFLICT (workflow_uuid) DO UPDATE SET output = EXCLUDED.output, error = EXCLUDED.error
    )
    SELECT count(*)::int AS recorded FROM done`;
}

/**
 * DBOS 5.3 records a workflow's success (`SystemDatabase.recordWorkflowOutput`) as a transaction of
 * four statements sent one after the other: `BEGIN`, the status `UPDATE` (from PENDING, owned by the
 * execution), the `workflow_output` row if the update landed, `COMMIT`. Here the same two writes
 * are one statement (a data-modifying CTE is one transaction): one round trip per run instead of
 * three, the same rows, the same answer (false, and no output row, when the outcome was not this
 * execution's to write). Installed on the launched executor's system database; a DBOS upgrade must
 * re-check it against `#recordWorkflowOutcome` (workflow-outcome.int-spec.ts holds it to that).
 */
export function recordWorkflowOutputInOneStatement(system: DbosSystemDatabase): void {
  const owned = recordOutputSql(system.schemaName, true);
  const unowned = recordOutputSql(system.schemaName, false);
  system.recordWorkflowOutput = async (workflowID, status, ownerXid) => {
    const owner = ownerXid ?? currentOwnerXid(workflowID);
    const output = status.output ?? null;
    const client = await system.connect();
    try {
      const { rows } =
        owner === undefined
          ? await client.query<{ recorded: number }>(unowned, [workflowID, output])
          : await client.query<{ recorded: number }>(owned, [workflowID, output, owner]);
      return rows[0]?.recorded === 1;
    } finally {
      client.release();
    }
  };
}

/**
 * DBOS 5.3's `DBOS.shutdown` does not wait for the workflows running in the process (its default), and
 * one that reaches its next step afterwards fails there ("`DBOS.launch()` must be called before running
 * steps"): an error of the stop, not of the workflow, which DBOS would still record as the workflow's
 * outcome, ERROR (the chaos soak caught the ops tick so, stopped a second into its run). While the
 * process stops, a workflow's error is not recorded: the workflow stays PENDING under this executor
 * ID, which the next process with that ID recovers (or a live one takes over), and it runs again from
 * its last checkpoint, as after a crash. DBOS, told the error was not recorded, waits for the recorded
 * outcome instead, until the process exits.
 */
export function recordNoErrorWhileStopping(system: DbosSystemDatabase, stopping: () => boolean): void {
  const dbos = dbosMethods(system);
  system.recordWorkflowError = async (workflowID, status, ownerXid) =>
    stopping() ? false : dbos.recordWorkflowError.call(system, workflowID, status, ownerXid);
}
