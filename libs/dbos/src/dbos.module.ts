import { type DynamicModule, Global, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Kysely, PostgresDialect } from 'kysely';
import { createPool } from '#db';
import { DBOS_OPTIONS, DbosService, type DbosOptions } from './dbos.service.js';
import { SystemDatabase, type SystemDB } from './system-database.js';

@Injectable()
class SystemDatabaseLifecycle implements OnApplicationShutdown {
  constructor(private readonly db: SystemDatabase) {}

  async onApplicationShutdown(): Promise<void> {
    await this.db.destroy();
  }
}

@Global()
@Module({})
export class DbosModule {
  static forRoot(options: DbosOptions): DynamicModule {
    return {
      module: DbosModule,
      providers: [
        { provide: DBOS_OPTIONS, useValue: options },
        DbosService,
        {
          provide: SystemDatabase,
          useFactory: () =>
            new Kysely<SystemDB>({
              dialect: new PostgresDialect({
                pool: createPool(options.systemDatabaseUrl, { max: 5, name: 'durable-ops-ops', prepare: options.preparedStatements ?? false }),
              }),
            }) as SystemDatabase,
        },
        SystemDatabaseLifecycle,
      ],
      exports: [DbosService, SystemDatabase],
    };
  }
}
