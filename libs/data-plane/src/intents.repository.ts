import { Injectable } from '@nestjs/common';
import { type Selectable, sql } from 'kysely';
import { Database, type IntentsTable } from '#db';
import type { StepSql } from '#dbos';
import type { Keyset } from '#contracts';
import type { IntentPayload } from './planner.js';

type IntentColumns = Pick<Selectable<IntentsTable>, 'id' | 'goal' | 'created_at'>;

export type IntentRow = IntentColumns & Pick<Selectable<IntentsTable>, 'payload'> & { created_key: string };

/** An intent's payload: validated (IntentsService.create) before it was stored, so read back as such. */
export function intentPayload(row: IntentRow): IntentPayload {
  return row.payload as IntentPayload;
}

export type IntentSummaryRow = IntentColumns & { created_key: string; task_count: number };

const createdKey = sql<string>`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('created_key');

@Injectable()
export class IntentsRepository {
  constructor(private readonly db: Database) {}

  /** True when this call created the row; false when the same intent already existed. */
  async insert(intent: { id: string; goal: string; payload: IntentPayload; hash: string; createdBy: string }): Promise<boolean> {
    const inserted = await this.db
      .insertInto('app.intents')
      .values({ id: intent.id, goal: intent.goal, payload: JSON.stringify(intent.payload), intent_hash: intent.hash, created_by: intent.createdBy })
      .onConflict((oc) => oc.column('intent_hash').doNothing())
      .returning('id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  /** On `onStep`, the read happens inside a step's own transaction (see runAppStep). */
  async find(id: string, onStep?: StepSql): Promise<IntentRow | undefined> {
    const query = this.db.selectFrom('app.intents').select(['id', 'goal', 'payload', 'created_at', createdKey]).where('id', '=', id);
    if (!onStep) return query.executeTakeFirst();
    const [row] = await onStep.execute(query.compile());
    return row;
  }

  /** A page of summaries: the payload itself is never read for a list. */
  list(limit: number, after: Keyset | undefined): Promise<IntentSummaryRow[]> {
    let query = this.db
      .selectFrom('app.intents')
      .select(['id', 'goal', 'created_at', createdKey, sql<number>`jsonb_array_length(payload->'inputs'->'tasks')`.as('task_count')]);
    if (after) query = query.where(sql<boolean>`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id})`);
    return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  }
}
