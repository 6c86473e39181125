import 'reflect-metadata';
import { Controller, Delete, Get, Post } from '@nestjs/common';
import { AuditedAction, assertEveryActionAudited } from './ops-auth.js';
import { OpsController } from './ops.controller.js';

@Controller('x')
class Unaudited {
  @Get() read(): void {}
  @AuditedAction('cancel') @Post('a') audited(): void {}
  @Post('b') forgotten(): void {}
  @Delete('c') removed(): void {}
}

describe('assertEveryActionAudited (the boot-time check)', () => {
  it('passes the control plane as it is: every POST is an @AuditedAction', () => {
    expect(() => assertEveryActionAudited(OpsController)).not.toThrow();
  });

  it('names every state-changing route without @AuditedAction, and only those', () => {
    expect(() => assertEveryActionAudited(Unaudited)).toThrow(
      'control-plane routes that change state must be @AuditedAction: Unaudited.forgotten (POST), Unaudited.removed (DELETE)',
    );
  });
});
