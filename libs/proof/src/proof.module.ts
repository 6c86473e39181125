import { Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';

/** The proof plane: health now; views, invariants, the scheduled tick and telemetry gates join it. */
@Module({ controllers: [HealthController] })
export class ProofModule {}
