import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '#common';
import { ControlPlaneModule } from '#control-plane';
import { DataPlaneModule } from '#data-plane';
import { DatabaseModule, type ResolvedDatabases, sameDatabase } from '#db';
import { DbosModule } from '#dbos';
import { ProofModule } from '#proof';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, databases: ResolvedDatabases): DynamicModule {
    const serveHttp = config.appRole !== 'worker';
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRoot({ url: databases.appDatabaseUrl }),
        DbosModule.forRoot({
          systemDatabaseUrl: databases.systemDatabaseUrl,
          appVersion: config.appVersion,
          executorId: config.executorId,
          logLevel: config.logLevel,
          ...(config.appRole === 'api' ? { listenQueues: [] } : {}),
        }),
        DataPlaneModule.forRoot({
          httpConnectorAllowlist: config.httpConnectorAllowlist,
          serveHttp,
          sharedDatabase: sameDatabase(databases.appDatabaseUrl, databases.systemDatabaseUrl),
        }),
        ControlPlaneModule.forRoot({ tokens: config.opsApiTokens, serveHttp }),
        ProofModule.forRoot({ tickSchedule: config.opsTickSchedule }),
      ],
    };
  }
}
