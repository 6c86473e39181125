import { type DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, AuthModule } from '#common';
import { ControlPlaneModule } from '#control-plane';
import { DataPlaneModule } from '#data-plane';
import { DatabaseModule, type ResolvedDatabases, sameDatabase } from '#db';
import { DbosModule, SYSTEM_POOL_SIZE } from '#dbos';
import { ProofModule } from '#proof';

/** App pool: HTTP handlers, and ExecuteST's receipt statements (the other steps use DBOS's connection). */
const APP_POOL_SIZE = 10;
/** DBOS connections an api-only process keeps open: one per concurrent enqueue it typically serves. */
const API_SYSTEM_CONNECTIONS = 8;

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, databases: ResolvedDatabases): DynamicModule {
    const serveHttp = config.appRole !== 'worker';
    return {
      module: AppModule,
      imports: [
        // Both pools open at their working size at boot (see warmPool): an api process's DBOS pool only
        // serves enqueues and reads, so it warms API_SYSTEM_CONNECTIONS of them.
        DatabaseModule.forRoot({
          url: databases.appDatabaseUrl,
          poolSize: APP_POOL_SIZE,
          warmConnections: APP_POOL_SIZE,
          preparedStatements: config.preparedStatements,
        }),
        DbosModule.forRoot({
          systemDatabaseUrl: databases.systemDatabaseUrl,
          appVersion: config.appVersion,
          executorId: config.executorId,
          logLevel: config.logLevel,
          warmConnections: config.appRole === 'api' ? API_SYSTEM_CONNECTIONS : SYSTEM_POOL_SIZE,
          preparedStatements: config.preparedStatements,
          ...(config.appRole === 'api' ? { listenQueues: [] } : {}),
        }),
        DataPlaneModule.forRoot({
          httpConnectorAllowlist: config.httpConnectorAllowlist,
          serveHttp,
          sharedDatabase: sameDatabase(databases.appDatabaseUrl, databases.systemDatabaseUrl),
        }),
        AuthModule.forRoot(config.apiTokens),
        ControlPlaneModule.forRoot({ serveHttp }),
        ProofModule.forRoot({ tickSchedule: config.opsTickSchedule }),
      ],
    };
  }
}
