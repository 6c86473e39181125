import { Module } from '@nestjs/common';
import { ReceiptsRepository } from './receipts.repository.js';
import { RunsRepository } from './runs.repository.js';

/** The run record's repositories, shared by the three planes (each imports this module). */
@Module({
  providers: [RunsRepository, ReceiptsRepository],
  exports: [RunsRepository, ReceiptsRepository],
})
export class RunsModule {}
