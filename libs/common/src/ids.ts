import { randomBytes } from 'node:crypto';
import { sha256 } from './hash.js';

/** Time-ordered, unguessable run IDs (`run_…`); a fixed idempotency key always maps to the same one. */
export function newRunId(idempotencyKey?: string): string {
  if (idempotencyKey !== undefined) return `run_${sha256(`idempotency\n${idempotencyKey}`).slice(0, 32)}`;
  return `run_${Date.now().toString(16).padStart(12, '0')}${randomBytes(10).toString('hex')}`;
}

/** IDs of control actions: the audit row's action_id and (prefixed) the action workflow's ID. */
export function newActionId(): string {
  return `act_${Date.now().toString(16).padStart(12, '0')}${randomBytes(8).toString('hex')}`;
}
