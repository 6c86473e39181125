import { Body, Get, HttpStatus, Param, Post, Query, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { type AuthPrincipal, CurrentPrincipal, LatticeExceptionFilter, PathIdPipe, Roles, RolesGuard } from '#common';
import { CreateIntentRequest, IntentCreated, IntentPage, IntentView, ListIntentsQuery } from '#contracts';
import { DataPlaneController } from './data-plane-controller.js';
import { IntentsService } from './intents.service.js';

@DataPlaneController('api/intents', 'intents')
@UseGuards(RolesGuard)
@Roles('client')
@UseFilters(LatticeExceptionFilter)
export class IntentsController {
  constructor(private readonly intents: IntentsService) {}

  @Post()
  @ApiOperation({ summary: 'Create an intent (content-addressed: the same intent again answers 200 with the same id)' })
  @ApiCreatedResponse({ type: IntentCreated, description: 'created' })
  @ApiOkResponse({ type: IntentCreated, description: 'the same intent already existed' })
  @ApiBadRequestResponse({ description: 'validation failed; nothing was written' })
  async create(
    @Body() body: CreateIntentRequest,
    @Res({ passthrough: true }) res: FastifyReply,
    @CurrentPrincipal() who: AuthPrincipal,
  ): Promise<IntentCreated> {
    const { intentId, created } = await this.intents.create(body, who.principal);
    res.status(created ? HttpStatus.CREATED : HttpStatus.OK);
    return { intentId };
  }

  @Get()
  @ApiOperation({ summary: 'List intents, newest first' })
  @ApiOkResponse({ type: IntentPage })
  list(@Query() query: ListIntentsQuery): Promise<IntentPage> {
    return this.intents.list(query.limit, query.cursor);
  }

  @Get(':intentId')
  @ApiOperation({ summary: 'Read one intent' })
  @ApiOkResponse({ type: IntentView })
  @ApiNotFoundResponse()
  get(@Param('intentId', new PathIdPipe('intentId')) intentId: string): Promise<IntentView> {
    return this.intents.get(intentId);
  }
}
