import { type DynamicModule, Module } from '@nestjs/common';
import type { OpsToken } from '#common';
import { OpsActionWorkflow } from './ops-action.workflow.js';
import { OpsAuditRepository } from './ops-audit.repository.js';
import { OPS_TOKENS, OpsAuthGuard, OpsTokens } from './ops-auth.js';
import { OpsController } from './ops.controller.js';
import { OpsRepository } from './ops.repository.js';
import { OpsService } from './ops.service.js';

export interface ControlPlaneOptions {
  readonly tokens: readonly OpsToken[];
  /** false for a worker or the CLI: the service and its workflow without the routes. */
  readonly serveHttp?: boolean;
}

/** The operator's plane: the six /api/ops/wf routes, bearer auth, fail-closed audit. */
@Module({})
export class ControlPlaneModule {
  static forRoot(options: ControlPlaneOptions): DynamicModule {
    const serveHttp = options.serveHttp !== false;
    return {
      module: ControlPlaneModule,
      controllers: serveHttp ? [OpsController] : [],
      providers: [{ provide: OPS_TOKENS, useValue: options.tokens }, OpsTokens, OpsAuthGuard, OpsRepository, OpsAuditRepository, OpsActionWorkflow, OpsService],
      exports: [OpsService],
    };
  }
}
