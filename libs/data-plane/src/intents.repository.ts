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

/** The intents a process keeps in memory: at most this many bytes of payload JSON, none larger than a tenth of it. */
export const INTENT_CACHE_BYTES = 8 * 1024 * 1024;

@Injectable()
export class IntentsRepository {
  constructor(private readonly db: Database) {}

  /**
   * Intents are immutable (content-addressed, never updated or deleted): a row read once stands for
   * the process's lifetime. POST /api/runs and CompileST read an intent from here, so a run of an
   * intent this process has seen costs no read of it. Emptied when full (a new intent per run then
   * costs one read each, as without the cache).
   */
  private readonly cache = new Map<string, IntentRow>();
  private cachedBytes = 0;

  /** The intent from this process's cache, or read (on `onStep` inside a step's transaction) and cached. */
  async findCached(id: string, onStep?: StepSql): Promise<IntentRow | undefined> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = await this.find(id, onStep);
    if (row) this.remember(row);
    return row;
  }

  private remember(row: IntentRow): void {
    const bytes = JSON.stringify(row.payload).length + row.goal.length;
    if (bytes > INTENT_CACHE_BYTES / 10) return;
    if (this.cachedBytes + bytes > INTENT_CACHE_BYTES) {
      this.cache.clear();
      this.cachedBytes = 0;
    }
    this.cache.set(row.id, row);
    this.cachedBytes += bytes;
  }

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
