import { Body, Get, HttpCode, HttpStatus, Param, Post, Query, UseFilters, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiConflictResponse, ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import {
  ActionAccepted,
  CancelWorkflowRequest,
  ForkAccepted,
  ForkWorkflowRequest,
  ListWorkflowsQuery,
  ResumeWorkflowRequest,
  WorkflowDetail,
  WorkflowPage,
  WorkflowSteps,
} from '#contracts';
import { ApiController, type AuthPrincipal, CurrentPrincipal, LatticeExceptionFilter, Roles, RolesGuard } from '#common';
import { AuditedAction, type OpsPrincipal } from './ops-auth.js';
import { OpsService } from './ops.service.js';
import { WorkflowIdPipe } from './workflow-id.pipe.js';

/**
 * The exact six routes of the control plane. A seventh anywhere under /api/ops fails the policy test.
 * Who may call what is RolesGuard + @Roles (viewer: the GETs; operator: everything); every state
 * change is an @AuditedAction (checked at boot and by the policy test); domain errors become the
 * 400/401/403/404/409 lattice in LatticeExceptionFilter.
 */
@ApiController({
  path: 'api/ops/wf',
  tag: 'ops',
  scheme: 'ops',
  badRequest: 'validation failed (details); nothing changed',
  unauthorized: 'no or invalid bearer token',
  forbidden: 'a client token: the control plane takes viewer and operator tokens',
})
@UseGuards(RolesGuard)
@Roles('viewer', 'operator')
@UseFilters(LatticeExceptionFilter)
export class OpsController {
  constructor(private readonly ops: OpsService) {}

  @Get()
  @ApiOperation({ summary: 'List workflows, newest first (keyset pagination)' })
  @ApiOkResponse({ type: WorkflowPage })
  list(@Query() query: ListWorkflowsQuery): Promise<WorkflowPage> {
    return this.ops.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One workflow: DBOS status, its run projection and its OPS audit history' })
  @ApiOkResponse({ type: WorkflowDetail })
  @ApiNotFoundResponse()
  get(@Param('id', WorkflowIdPipe) id: string): Promise<WorkflowDetail> {
    return this.ops.get(id);
  }

  @Get(':id/steps')
  @ApiOperation({ summary: 'Recorded steps (stepN = functionId + 1)' })
  @ApiOkResponse({ type: WorkflowSteps })
  @ApiNotFoundResponse()
  steps(@Param('id', WorkflowIdPipe) id: string): Promise<WorkflowSteps> {
    return this.ops.steps(id);
  }

  @Post(':id/cancel')
  @Roles('operator')
  @AuditedAction('cancel')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Cancel a PENDING, ENQUEUED or DELAYED run: it makes no further effect, and a sleeping run stops at once',
    description: "Only runs (IntentWorkflow and its forks) can be acted on; the service's own workflows (ops_<actionId>, the scheduled tick) answer 409.",
  })
  @ApiAcceptedResponse({ type: ActionAccepted })
  @ApiForbiddenResponse({ description: 'a viewer or client token: actions take an operator token' })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'not cancellable in its current status, or not a run' })
  cancel(@Param('id', WorkflowIdPipe) id: string, @Body() body: CancelWorkflowRequest, @CurrentPrincipal() who: AuthPrincipal): Promise<ActionAccepted> {
    return this.ops.cancel(id, body, asOperator(who));
  }

  @Post(':id/resume')
  @Roles('operator')
  @AuditedAction('resume')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Resume a CANCELLED or MAX_RECOVERY_ATTEMPTS_EXCEEDED run under the same ID (re-enqueued on its queue)',
    description:
      'Only runs (IntentWorkflow and its forks) can be acted on. An ENQUEUED run stays queued in its place (the action is recorded, nothing else changes); a DELAYED run skips the rest of its delay and is queued now, starting in turn. Resume never bypasses the queue.',
  })
  @ApiAcceptedResponse({ type: ActionAccepted })
  @ApiForbiddenResponse({ description: 'a viewer or client token: actions take an operator token' })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'not resumable (an ERROR run is forked, not resumed), or not a run' })
  resume(@Param('id', WorkflowIdPipe) id: string, @Body() body: ResumeWorkflowRequest, @CurrentPrincipal() who: AuthPrincipal): Promise<ActionAccepted> {
    return this.ops.resume(id, body, asOperator(who));
  }

  @Post(':id/fork')
  @Roles('operator')
  @AuditedAction('fork')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Fork a finished run at stepN: steps before it are reused, stepN onwards re-executes under a new ID (runs only: IntentWorkflow and its forks)',
  })
  @ApiAcceptedResponse({ type: ForkAccepted })
  @ApiForbiddenResponse({ description: 'a viewer or client token: actions take an operator token' })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'not finished, stepN beyond the last recorded step, or not a run' })
  fork(@Param('id', WorkflowIdPipe) id: string, @Body() body: ForkWorkflowRequest, @CurrentPrincipal() who: AuthPrincipal): Promise<ForkAccepted> {
    return this.ops.fork(id, body, asOperator(who));
  }
}

/** RolesGuard admitted only an operator to an action route. */
function asOperator(who: AuthPrincipal): OpsPrincipal {
  if (who.role !== 'operator') throw new Error(`RolesGuard let a ${who.role} through to a control action`);
  return { principal: who.principal, role: who.role };
}
