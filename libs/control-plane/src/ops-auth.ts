import { RequestMethod, SetMetadata } from '@nestjs/common';
import type { OpsRole } from '#common';

export interface OpsPrincipal {
  readonly principal: string;
  readonly role: OpsRole;
}

const AUDITED_ACTION_KEY = 'durable-ops:audited-action';

/**
 * Declares a route a control action: its body names an actor and a reason (the validation pipe
 * refuses it otherwise) and OpsActionWorkflow writes the audit row before the action takes effect.
 * Every mutating /api/ops route must carry it: the control plane refuses to boot otherwise
 * (assertEveryActionAudited), and a policy test reads the source.
 */
export const AuditedAction = (op: 'cancel' | 'resume' | 'fork'): MethodDecorator => SetMetadata(AUDITED_ACTION_KEY, op);

/** The op an @AuditedAction route declares, or undefined. */
export function auditedActionOf(handler: object): string | undefined {
  return Reflect.getMetadata(AUDITED_ACTION_KEY, handler) as string | undefined;
}

/**
 * The boot-time check: every handler of `controller` routed by a method other than GET/HEAD carries
 * @AuditedAction. Throws naming the offending handlers.
 */
export function assertEveryActionAudited(controller: new (...args: never[]) => object): void {
  const missing: string[] = [];
  const prototype = controller.prototype as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(prototype)) {
    const handler = prototype[name];
    if (name === 'constructor' || typeof handler !== 'function') continue;
    // Nest's METHOD_METADATA key: set by @Get/@Post/… on the handler.
    const method = Reflect.getMetadata('method', handler) as RequestMethod | undefined;
    if (method === undefined) continue;
    const verb = RequestMethod[method];
    if (method !== RequestMethod.GET && method !== RequestMethod.HEAD && auditedActionOf(handler) === undefined)
      missing.push(`${controller.name}.${name} (${verb})`);
  }
  if (missing.length > 0) throw new Error(`control-plane routes that change state must be @AuditedAction: ${missing.join(', ')}`);
}
