import { type DynamicModule, Module } from '@nestjs/common';
import { RunsModule } from '#runs';
import { HealthController } from './health.controller.js';
import { OpsTickRepository } from './ops-tick.repository.js';
import { OPS_TICK_SCHEDULE, OpsTickWorkflow } from './ops-tick.workflow.js';

export interface ProofOptions {
  /** Six-field cron of the scheduled ops tick. */
  readonly tickSchedule: string;
}

/** The proof plane: health, the scheduled tick (reconcile + snapshot); views and invariants live in db/. */
@Module({})
export class ProofModule {
  static forRoot(options: ProofOptions): DynamicModule {
    return {
      module: ProofModule,
      imports: [RunsModule],
      controllers: [HealthController],
      providers: [{ provide: OPS_TICK_SCHEDULE, useValue: options.tickSchedule }, OpsTickRepository, OpsTickWorkflow],
    };
  }
}
