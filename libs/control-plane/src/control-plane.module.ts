import { type DynamicModule, Module } from '@nestjs/common';
import { RunsModule } from '#runs';
import { OpsActionWorkflow } from './ops-action.workflow.js';
import { OpsAuditRepository } from './ops-audit.repository.js';
import { assertEveryActionAudited } from './ops-auth.js';
import { OpsController } from './ops.controller.js';
import { OpsRepository } from './ops.repository.js';
import { OpsService } from './ops.service.js';

export interface ControlPlaneOptions {
  /** false for a worker or the CLI: the service and its workflow without the routes. */
  readonly serveHttp?: boolean;
}

/**
 * The operator's plane: the six /api/ops/wf routes, fail-closed audit. Its routes need the global
 * AuthModule (token registry and RolesGuard).
 */
@Module({})
export class ControlPlaneModule {
  static forRoot(options: ControlPlaneOptions): DynamicModule {
    const serveHttp = options.serveHttp !== false;
    // Fails the boot if a state-changing route is not declared an audited action.
    if (serveHttp) assertEveryActionAudited(OpsController);
    return {
      module: ControlPlaneModule,
      imports: [RunsModule],
      controllers: serveHttp ? [OpsController] : [],
      providers: [OpsRepository, OpsAuditRepository, OpsActionWorkflow, OpsService],
      exports: [OpsService],
    };
  }
}
