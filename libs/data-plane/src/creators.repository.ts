import { Injectable } from '@nestjs/common';
import { Database } from '#db';

/** Who created a run: written beside the start path, so starting a run stays one statement. */
@Injectable()
export class CreatorsRepository {
  constructor(private readonly db: Database) {}

  /** Once: a replay of the same idempotencyKey (another principal included) changes nothing. */
  async recordRunCreator(runId: string, principal: string): Promise<void> {
    await this.db.updateTable('app.runs').set({ created_by: principal }).where('id', '=', runId).where('created_by', 'is', null).execute();
  }
}
