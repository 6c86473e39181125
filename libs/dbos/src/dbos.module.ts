import { type DynamicModule, Global, Module } from '@nestjs/common';
import { DBOS_OPTIONS, DbosService, type DbosOptions } from './dbos.service.js';

@Global()
@Module({})
export class DbosModule {
  static forRoot(options: DbosOptions): DynamicModule {
    return {
      module: DbosModule,
      providers: [{ provide: DBOS_OPTIONS, useValue: options }, DbosService],
      exports: [DbosService],
    };
  }
}
