import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { SystemDatabase } from '#dbos';

export interface WorkflowFilter {
  readonly statuses?: readonly string[] | undefined;
  readonly name?: string | undefined;
  readonly queue?: string | undefined;
  readonly createdAfterMs?: number | undefined;
  readonly createdBeforeMs?: number | undefined;
}

const SUMMARY_COLUMNS = [
  'workflow_uuid',
  'status',
  'name',
  'queue_name',
  'application_version',
  'executor_id',
  'created_at',
  'updated_at',
  'recovery_attempts',
  'forked_from',
] as const;

/** The control plane's reads of DBOS's system tables (system DB); the run record is RunsRepository's. */
@Injectable()
export class OpsRepository {
  constructor(private readonly system: SystemDatabase) {}

  /** Keyset page over (created_at DESC, workflow_uuid DESC), served by the durable_ops_wf_* indexes. */
  listWorkflows(filter: WorkflowFilter, limit: number, after: { createdAtMs: string; id: string } | undefined) {
    let query = this.system.selectFrom('dbos.workflow_status').select(SUMMARY_COLUMNS);
    if (filter.statuses?.length) query = query.where('status', 'in', [...filter.statuses]);
    if (filter.name) query = query.where('name', '=', filter.name);
    if (filter.queue) query = query.where('queue_name', '=', filter.queue);
    if (filter.createdAfterMs !== undefined) query = query.where('created_at', '>=', String(filter.createdAfterMs));
    if (filter.createdBeforeMs !== undefined) query = query.where('created_at', '<', String(filter.createdBeforeMs));
    if (after) query = query.where(sql<boolean>`(created_at, workflow_uuid) < (${after.createdAtMs}::bigint, ${after.id})`);
    return query.orderBy('created_at', 'desc').orderBy('workflow_uuid', 'desc').limit(limit).execute();
  }

  workflow(id: string) {
    return this.system
      .selectFrom('dbos.workflow_status')
      .select([...SUMMARY_COLUMNS, 'completed_at'])
      .where('workflow_uuid', '=', id)
      .executeTakeFirst();
  }

  /** The highest recorded functionID, or undefined when the workflow has recorded no step. */
  async lastFunctionId(id: string): Promise<number | undefined> {
    const row = await this.system
      .selectFrom('dbos.operation_outputs')
      .select((eb) => eb.fn.max('function_id').as('last'))
      .where('workflow_uuid', '=', id)
      .executeTakeFirst();
    return row?.last ?? undefined;
  }

  /** Step names with functionID below `before`, in order: what a fork reuses. */
  stepNamesBefore(id: string, before: number) {
    return this.system
      .selectFrom('dbos.operation_outputs')
      .select(['function_id', 'function_name'])
      .where('workflow_uuid', '=', id)
      .where('function_id', '<', before)
      .orderBy('function_id')
      .execute();
  }
}
