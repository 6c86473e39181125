import { type DynamicModule, Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Kysely, PostgresDialect } from 'kysely';
import { migrate } from './migrator.js';
import { createPool } from './pool.js';
import type { DB } from './schema.js';

export const DATABASE_OPTIONS = Symbol('DATABASE_OPTIONS');

export interface DatabaseOptions {
  readonly url: string;
  readonly poolSize?: number;
}

/** The app database handle every repository takes. */
@Injectable()
export class Database extends Kysely<DB> {}

@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  constructor(
    @Inject(DATABASE_OPTIONS) private readonly options: DatabaseOptions,
    private readonly db: Database,
  ) {}

  async onModuleInit(): Promise<void> {
    const result = await migrate(this.options.url);
    if (result.applied.length > 0) this.logger.log(`applied migrations: ${result.applied.join(', ')}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.db.destroy();
  }
}

@Global()
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseOptions): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        { provide: DATABASE_OPTIONS, useValue: options },
        {
          provide: Database,
          useFactory: () =>
            new Kysely<DB>({
              dialect: new PostgresDialect({
                pool: createPool(options.url, { max: options.poolSize ?? 10, min: 2, name: 'durable-ops' }),
              }),
            }) as Database,
        },
        DatabaseLifecycle,
      ],
      exports: [Database],
    };
  }
}
