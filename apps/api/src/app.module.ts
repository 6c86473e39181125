import { type DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, AuthModule } from '#common';
import { ControlPlaneModule } from '#control-plane';
import { DataPlaneModule, INTENT_WORKFLOW_NAME } from '#data-plane';
import { DatabaseModule, type ResolvedDatabases, sameDatabase } from '#db';
import { DEFAULT_QUEUE, DbosModule, SYSTEM_POOL_SIZE } from '#dbos';
import { ProofModule } from '#proof';
import { TelemetryModule, type TelemetryModuleOptions } from './telemetry.module.js';

/** App pool: HTTP handlers, and ExecuteST's receipt statements (the other steps use DBOS's connection). */
const APP_POOL_SIZE = 10;
/** DBOS connections an api-only process keeps open: one per concurrent enqueue it typically serves. */
const API_SYSTEM_CONNECTIONS = 8;

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, databases: ResolvedDatabases, telemetry: TelemetryModuleOptions = {}): DynamicModule {
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
          runs: config.runs,
          ...(config.appRole === 'api' ? { listenQueues: [] } : {}),
          role: config.appRole,
          // Only processes that execute runs take over a gone executor's; an api process never does.
          ...(config.appRole === 'api' ? {} : { takeoverSchedule: config.executorSweepSchedule }),
          // A run started without a queue is recovered onto the queue only workers dequeue.
          recoveryQueues: { [INTENT_WORKFLOW_NAME]: DEFAULT_QUEUE },
        }),
        DataPlaneModule.forRoot({
          httpConnectorAllowlist: config.httpConnectorAllowlist,
          serveHttp,
          sharedDatabase: sameDatabase(databases.appDatabaseUrl, databases.systemDatabaseUrl),
        }),
        AuthModule.forRoot(config.apiTokens),
        ControlPlaneModule.forRoot({ serveHttp }),
        ProofModule.forRoot({ tickSchedule: config.opsTickSchedule }),
        TelemetryModule.forRoot(telemetry),
      ],
    };
  }
}
