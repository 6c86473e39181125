import { Body, Get, HttpStatus, Param, Post, Query, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBadRequestResponse, ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { type AuthPrincipal, CurrentPrincipal, LatticeExceptionFilter, PathIdPipe, Roles, RolesGuard } from '#common';
import { ArtifactView, ListRunsQuery, RunArtifacts, RunHeader, RunPage, RunSteps, RunView, StartRunRequest } from '#contracts';
import { DataPlaneController } from './data-plane-controller.js';
import { RunsService } from './runs.service.js';

@DataPlaneController('api/runs', 'runs')
@UseGuards(RolesGuard)
@Roles('client')
@UseFilters(LatticeExceptionFilter)
export class RunsController {
  constructor(private readonly runs: RunsService) {}

  @Post()
  @ApiOperation({ summary: 'Start a run of an intent (the run ID is the DBOS workflow ID)' })
  @ApiAcceptedResponse({ type: RunHeader, description: 'enqueued' })
  @ApiOkResponse({ type: RunHeader, description: 'the idempotencyKey already started this run' })
  @ApiBadRequestResponse()
  @ApiNotFoundResponse({ description: 'unknown intent' })
  @ApiConflictResponse({ description: 'idempotencyKey already used for another intent' })
  async start(@Body() body: StartRunRequest, @Res({ passthrough: true }) res: FastifyReply, @CurrentPrincipal() who: AuthPrincipal): Promise<RunHeader> {
    const { run, created } = await this.runs.start(body, who.principal);
    res.status(created ? HttpStatus.ACCEPTED : HttpStatus.OK);
    return run;
  }

  @Get()
  @ApiOperation({ summary: 'List runs, newest first' })
  @ApiOkResponse({ type: RunPage })
  list(@Query() query: ListRunsQuery): Promise<RunPage> {
    return this.runs.list(query);
  }

  @Get(':runId')
  @ApiOperation({ summary: 'Read a run: projection, DBOS status, marks and artifact refs' })
  @ApiOkResponse({ type: RunView })
  @ApiNotFoundResponse()
  get(@Param('runId', new PathIdPipe('runId')) runId: string): Promise<RunView> {
    return this.runs.get(runId);
  }

  @Get(':runId/steps')
  @ApiOperation({ summary: "The run's DBOS steps in order (stepN = functionId + 1)" })
  @ApiOkResponse({ type: RunSteps })
  @ApiNotFoundResponse()
  steps(@Param('runId', new PathIdPipe('runId')) runId: string): Promise<RunSteps> {
    return this.runs.steps(runId);
  }

  @Get(':runId/artifacts')
  @ApiOperation({ summary: "The run's step artifacts (plan_card, patch_card, decision, execution_report)" })
  @ApiOkResponse({ type: RunArtifacts })
  @ApiNotFoundResponse()
  artifacts(@Param('runId', new PathIdPipe('runId')) runId: string): Promise<RunArtifacts> {
    return this.runs.artifacts(runId);
  }

  @Get(':runId/artifacts/:artifactId')
  @ApiOperation({ summary: 'One artifact' })
  @ApiOkResponse({ type: ArtifactView })
  @ApiNotFoundResponse()
  artifact(
    @Param('runId', new PathIdPipe('runId')) runId: string,
    @Param('artifactId', new PathIdPipe('artifactId')) artifactId: string,
  ): Promise<ArtifactView> {
    return this.runs.artifact(runId, artifactId);
  }
}
