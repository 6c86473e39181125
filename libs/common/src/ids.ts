import { randomFillSync } from 'node:crypto';
import { sha256 } from './hash.js';

/**
 * Random bytes from the CSPRNG, drawn 4 KiB at a time (as crypto.randomUUID does): one
 * `randomBytes` call per ID showed in profiles of POST /api/runs.
 */
const entropy = Buffer.alloc(4096);
let drawn = entropy.length;

function randomHex(bytes: number): string {
  if (drawn + bytes > entropy.length) {
    randomFillSync(entropy);
    drawn = 0;
  }
  const hex = entropy.toString('hex', drawn, drawn + bytes);
  drawn += bytes;
  return hex;
}

/** Time-ordered, unguessable run IDs (`run_…`); a fixed idempotency key always maps to the same one. */
export function newRunId(idempotencyKey?: string): string {
  if (idempotencyKey !== undefined) return `run_${sha256(`idempotency\n${idempotencyKey}`).slice(0, 32)}`;
  return `run_${Date.now().toString(16).padStart(12, '0')}${randomHex(10)}`;
}

/** IDs of control actions: the audit row's action_id and (prefixed) the action workflow's ID. */
export function newActionId(): string {
  return `act_${Date.now().toString(16).padStart(12, '0')}${randomHex(8)}`;
}
