import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { sql } from 'kysely';
import { Database } from '#db';
import { DbosService } from '#dbos';

export class Health {
  @ApiProperty({ enum: ['ok', 'degraded'] }) status!: 'ok' | 'degraded';
  @ApiProperty() dbosLaunched!: boolean;
  @ApiProperty() databaseReachable!: boolean;
  @ApiProperty() appVersion!: string;
  @ApiProperty() executorID!: string;
  @ApiProperty({ description: 'Seconds since the process started' }) uptimeSeconds!: number;
}

@ApiTags('proof')
@Controller('healthz')
export class HealthController {
  constructor(
    private readonly db: Database,
    private readonly dbos: DbosService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Alive: DBOS launched and the database reachable' })
  @ApiOkResponse({ type: Health })
  @ApiServiceUnavailableResponse({ type: Health })
  async health(@Res({ passthrough: true }) res: FastifyReply): Promise<Health> {
    const databaseReachable = await sql`SELECT 1`
      .execute(this.db)
      .then(() => true)
      .catch(() => false);
    const ok = databaseReachable && this.dbos.launched;
    res.status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return {
      status: ok ? 'ok' : 'degraded',
      dbosLaunched: this.dbos.launched,
      databaseReachable,
      appVersion: this.dbos.appVersion,
      executorID: this.dbos.executorId,
      uptimeSeconds: Math.round(process.uptime()),
    };
  }
}
