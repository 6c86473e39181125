import { Injectable } from '@nestjs/common';
import { Database } from '#db';

@Injectable()
export class SettingsRepository {
  constructor(private readonly db: Database) {}

  async get(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('app.settings').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }
}
