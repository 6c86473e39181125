import { Injectable } from '@nestjs/common';
import { Kysely } from 'kysely';

/** The DBOS system tables the ops kit reads (read-only; DBOS owns their writes). */
export interface WorkflowStatusTable {
  workflow_uuid: string;
  status: string;
  name: string;
  class_name: string | null;
  queue_name: string | null;
  executor_id: string | null;
  application_version: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  recovery_attempts: string | null;
  forked_from: string | null;
  parent_workflow_id: string | null;
  serialization: string | null;
}

export interface OperationOutputsTable {
  workflow_uuid: string;
  function_id: number;
  function_name: string;
  error: string | null;
  child_workflow_id: string | null;
  started_at_epoch_ms: string | null;
  completed_at_epoch_ms: string | null;
}

/** app.v_ops_executors (db/system): executor liveness. */
export interface OpsExecutorsView {
  executor: string;
  role: string | null;
  alive: boolean;
  last_seen: Date | null;
  runs_held: string;
  workflows_held: string;
}

export interface SystemDB {
  'app.v_ops_executors': OpsExecutorsView;
  'dbos.workflow_status': WorkflowStatusTable;
  'dbos.operation_outputs': OperationOutputsTable;
}

/** Kysely over the DBOS system database (where dbos.* and the ops views live). */
@Injectable()
export class SystemDatabase extends Kysely<SystemDB> {}
