import { type DynamicModule, Module } from '@nestjs/common';
import { RunsModule } from '#runs';
import { ConnectorRegistry } from './connectors/connector.registry.js';
import { EchoConnector } from './connectors/echo.connector.js';
import { FaultConnector } from './connectors/fault.connector.js';
import { HttpConnector } from './connectors/http.connector.js';
import { ExecuteStep } from './execute.step.js';
import { IntentSteps, SHARED_DATABASE } from './intent.steps.js';
import { IntentWorkflow } from './intent.workflow.js';
import { IntentsController } from './intents.controller.js';
import { IntentsRepository } from './intents.repository.js';
import { IntentsService } from './intents.service.js';
import { RunsController } from './runs.controller.js';
import { RunsService } from './runs.service.js';
import { SettingsRepository } from './settings.repository.js';

export interface DataPlaneOptions {
  readonly httpConnectorAllowlist: readonly string[];
  /** false for a worker process: it runs workflows but serves no data-plane routes. */
  readonly serveHttp?: boolean;
  /** The app and DBOS system schemas share one database (see runAppStep). */
  readonly sharedDatabase: boolean;
}

/** The product-facing plane: intents, runs and the IntentWorkflow that executes them. */
@Module({})
export class DataPlaneModule {
  static forRoot(options: DataPlaneOptions): DynamicModule {
    return {
      module: DataPlaneModule,
      imports: [RunsModule],
      controllers: options.serveHttp === false ? [] : [IntentsController, RunsController],
      providers: [
        { provide: SHARED_DATABASE, useValue: options.sharedDatabase },
        IntentsRepository,
        SettingsRepository,
        IntentsService,
        RunsService,
        IntentSteps,
        ExecuteStep,
        IntentWorkflow,
        {
          provide: ConnectorRegistry,
          inject: [SettingsRepository],
          useFactory: (settings: SettingsRepository) =>
            new ConnectorRegistry([new EchoConnector(), new HttpConnector(options.httpConnectorAllowlist), new FaultConnector((key) => settings.get(key))]),
        },
      ],
      exports: [IntentWorkflow],
    };
  }
}
