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

  /**
   * Before a task's effect, one statement: creates the receipt or counts one more sighting of it,
   * and counts the attempt about to be made (durably, before the effect) unless the receipt already
   * succeeded or `attempting` is false (a task that can no longer run). Returns what it holds; its
   * `attempts` is the 1-based number of the attempt about to be made.
   * The outcome is written with the step's mark (RunsRepository.recordStep).
   */
  async claim(key: ReceiptKey, attempting: boolean): Promise<Receipt> {
    const step = attempting ? 1 : 0;
    return this.db
      .insertInto('app.task_receipts')
      .values({
        task_key: key.taskKey,
        run_id: key.runId,
        lineage_root: key.lineageRoot,
        task_index: key.taskIndex,
        connector: key.connector,
        status: 'pending',
        attempts: step,
      })
      .onConflict((oc) =>
        oc.column('task_key').doUpdateSet({
          seen_count: sql`app.task_receipts.seen_count + 1`,
          attempts: sql`app.task_receipts.attempts + CASE WHEN app.task_receipts.status = 'succeeded' THEN 0 ELSE ${step}::integer END`,
          updated_at: sql`now()`,
        }),
      )
      .returning(['status', 'attempts', 'output', 'run_id'])
      .executeTakeFirstOrThrow();
  }
}
