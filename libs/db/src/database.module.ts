import { type DynamicModule, Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Kysely, PostgresDialect } from 'kysely';
import { migrate } from './migrator.js';
import type pg from 'pg';
import { createPool, warmPool } from './pool.js';
import type { DB } from './schema.js';

export const DATABASE_OPTIONS = Symbol('DATABASE_OPTIONS');

export interface DatabaseOptions {
  readonly url: string;
  /** Most connections the app pool opens (default 10). */
  readonly poolSize?: number;
  /** Connections opened at boot, after the migrations, and kept open (default 0: opened on demand). */
  readonly warmConnections?: number;
  /** Named prepared statements (default off; the service turns them on, see DATABASE_PREPARED_STATEMENTS). */
  readonly preparedStatements?: boolean;
}

/** The app database's pg pool, behind Database. */
const APP_POOL = Symbol('APP_POOL');

/** The app database handle every repository takes. */
@Injectable()
export class Database extends Kysely<DB> {}

@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  constructor(
    @Inject(DATABASE_OPTIONS) private readonly options: DatabaseOptions,
    @Inject(APP_POOL) private readonly pool: pg.Pool,
    private readonly db: Database,
  ) {}

  async onModuleInit(): Promise<void> {
    const result = await migrate(this.options.url);
    if (result.applied.length > 0) this.logger.log(`applied migrations: ${result.applied.join(', ')}`);
    if (this.options.warmConnections) await warmPool(this.pool, this.options.warmConnections);
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
          provide: APP_POOL,
          useFactory: () =>
            createPool(options.url, {
              max: options.poolSize ?? 10,
              min: options.warmConnections ?? 0,
              name: 'durable-ops',
              prepare: options.preparedStatements ?? false,
            }),
        },
        {
          provide: Database,
          inject: [APP_POOL],
          useFactory: (pool: pg.Pool) => new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }) as Database,
        },
        DatabaseLifecycle,
      ],
      exports: [Database],
    };
  }
}
