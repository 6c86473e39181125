import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { Database, type ReceiptStatus } from '#db';

export interface ReceiptKey {
  readonly taskKey: string;
  readonly runId: string;
  readonly lineageRoot: string;
  readonly taskIndex: number;
  readonly connector: string;
}

export interface Receipt {
  status: ReceiptStatus;
  attempts: number;
  output: unknown;
  /** The run whose execution produced the effect (for a succeeded receipt). */
  run_id: string;
}

/** One row per task effect (task_key), shared by every run of a lineage. */
@Injectable()
export class ReceiptsRepository {
  constructor(private readonly db: Database) {}

  /** Creates the receipt or counts one more sighting of it; returns what it holds. */
  async open(key: ReceiptKey): Promise<Receipt> {
    return this.db
      .insertInto('app.task_receipts')
      .values({
        task_key: key.taskKey,
        run_id: key.runId,
        lineage_root: key.lineageRoot,
        task_index: key.taskIndex,
        connector: key.connector,
        status: 'pending',
      })
      .onConflict((oc) => oc.column('task_key').doUpdateSet({ seen_count: sql`app.task_receipts.seen_count + 1`, updated_at: sql`now()` }))
      .returning(['status', 'attempts', 'output', 'run_id'])
      .executeTakeFirstOrThrow();
  }

  /** Counts an attempt durably before the effect is tried; returns its 1-based number. */
  async beginAttempt(taskKey: string): Promise<number> {
    const row = await this.db
      .updateTable('app.task_receipts')
      .set({ attempts: sql`attempts + 1`, updated_at: sql`now()` })
      .where('task_key', '=', taskKey)
      .returning('attempts')
      .executeTakeFirstOrThrow();
    return row.attempts;
  }

  async succeed(taskKey: string, runId: string, output: unknown): Promise<void> {
    await this.db
      .updateTable('app.task_receipts')
      .set({ status: 'succeeded', output: JSON.stringify(output ?? null), error: null, run_id: runId, updated_at: sql`now()` })
      .where('task_key', '=', taskKey)
      .where('status', '<>', 'succeeded')
      .execute();
  }

  async fail(taskKey: string, error: { name: string; message: string }): Promise<void> {
    await this.db
      .updateTable('app.task_receipts')
      .set({ status: 'failed', error: JSON.stringify(error), updated_at: sql`now()` })
      .where('task_key', '=', taskKey)
      .where('status', '<>', 'succeeded')
      .execute();
  }
}
