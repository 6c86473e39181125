-- The checkpoint of a step of the service's workflows (libs/dbos/src/app-step.ts): an app step's, in the
-- transaction that holds the step's own statements; an effect step's (ExecuteST), in a transaction of its own. Re-applied at every boot, like the other files here (same editing rules as
-- 0002_ops_views.sql).
--
-- It does what DBOS 5.3's transactional step does after its callback (recordOperationResultInternal):
-- lock the workflow's row and check that this execution still owns it, then insert the step's
-- operation_outputs row. Unlike DBOS, it raises instead of returning, so the client can send it and
-- the COMMIT together: a failed check aborts the transaction and the COMMIT rolls it back.
--   DO409  the workflow is no longer owned by this execution (cancelled, or resumed elsewhere); DBOS
--          raises DBOSWorkflowConflictError for the same case.
--   23505  the step already has a checkpoint (another execution recorded it first); DBOS raises
--          DBOSStepNondeterminismError for the same case. As in DBOS, a row with the same completion
--          time is not a conflict: it is this call's own, committed before a retry of the same call.
-- p_owner NULL skips the ownership check, as DBOS does for an execution without an ownership token.
CREATE OR REPLACE FUNCTION app.record_step_checkpoint(
  p_workflow_id text,
  p_function_id integer,
  p_function_name text,
  p_output text,
  p_started_ms bigint,
  p_completed_ms bigint,
  p_serialization text,
  p_owner text,
  p_application_name text
)
  RETURNS void
  LANGUAGE plpgsql
AS $body$
DECLARE
  v_completed_ms bigint;
BEGIN
  IF p_owner IS NOT NULL THEN
    PERFORM 1
       FROM dbos.workflow_status AS ws
      WHERE ws.workflow_uuid = p_workflow_id AND ws.owner_xid = p_owner
        FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'workflow % is no longer owned by this execution', p_workflow_id USING ERRCODE = 'DO409';
    END IF;
  END IF;
  INSERT INTO dbos.operation_outputs
    (workflow_uuid, function_id, output, error, function_name, child_workflow_id,
     started_at_epoch_ms, completed_at_epoch_ms, serialization, application_name, retention_timestamp)
  VALUES (p_workflow_id, p_function_id, p_output, NULL, p_function_name, NULL,
     p_started_ms, p_completed_ms, p_serialization, p_application_name, (EXTRACT(EPOCH FROM now()) * 1000)::bigint)
  ON CONFLICT (workflow_uuid, function_id) DO UPDATE SET completed_at_epoch_ms = operation_outputs.completed_at_epoch_ms
  RETURNING completed_at_epoch_ms INTO v_completed_ms;
  -- A row with this very completion time is this call's own, committed before a retry of the same call.
  IF v_completed_ms IS DISTINCT FROM p_completed_ms THEN
    RAISE EXCEPTION 'step % of workflow % already has a checkpoint', p_function_id, p_workflow_id USING ERRCODE = '23505';
  END IF;
END
$body$;
