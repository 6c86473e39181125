import { Injectable } from '@nestjs/common';
import { MAX_RESPONSE_BYTES, NotFound, ValidationFailed, canonicalJson, sha256, shownId } from '#common';
import { type CreateIntentRequest, GOAL_PREVIEW, type IntentPage, type IntentSummary, type IntentView, decodeCursor, encodeCursor } from '#contracts';
import { ConnectorRegistry } from './connectors/connector.registry.js';
import { intentPayload, IntentsRepository, type IntentRow, type IntentSummaryRow } from './intents.repository.js';
import type { IntentPayload } from './planner.js';

/**
 * The most an intent may weigh as stored JSON: GET /api/intents/:id serves it whole, with its ID and
 * time, under MAX_RESPONSE_BYTES. BODY_LIMIT alone does not bound it: the stored form writes numbers
 * out in full (`1e20`, 4 bytes, is served as 21), and a body at the limit leaves no room for the rest.
 */
export const MAX_INTENT_JSON_BYTES = MAX_RESPONSE_BYTES - 4 * 1024;

@Injectable()
export class IntentsService {
  constructor(
    private readonly intents: IntentsRepository,
    private readonly connectors: ConnectorRegistry,
  ) {}

  /**
   * Content-addressed: the id is a hash of the canonical intent, so the same intent is the same row.
   * Every task is checked against its connector here, so a bad task is a 400 now, never a failed run later.
   */
  async create(request: CreateIntentRequest, createdBy: string): Promise<{ intentId: string; created: boolean }> {
    const payload = JSON.parse(JSON.stringify({ inputs: request.inputs, constraints: request.constraints, connectors: request.connectors })) as IntentPayload;
    this.checkTasks(payload);
    if (payload.constraints.notBefore !== undefined && Number.isNaN(Date.parse(payload.constraints.notBefore))) {
      throw new ValidationFailed([{ path: 'constraints.notBefore', message: 'notBefore must be an ISO 8601 instant' }]);
    }
    const canonical = canonicalJson({ goal: request.goal, ...payload });
    const bytes = Buffer.byteLength(canonical);
    if (bytes > MAX_INTENT_JSON_BYTES) {
      throw new ValidationFailed([
        {
          path: '',
          message: `the intent is ${bytes} bytes as stored JSON (numbers written out in full, e.g. 1e20 as 21 digits); at most ${MAX_INTENT_JSON_BYTES}, so that GET /api/intents/:id fits one response`,
        },
      ]);
    }
    const hash = sha256(canonical);
    const intentId = `it_${hash.slice(0, 32)}`;
    const created = await this.intents.insert({ id: intentId, goal: request.goal, payload, hash, createdBy });
    return { intentId, created };
  }

  private checkTasks(payload: IntentPayload): void {
    const allowed = payload.connectors ? new Set(payload.connectors) : undefined;
    payload.inputs.tasks.forEach((task, index) => {
      const path = `inputs.tasks.${index}`;
      if (allowed && !allowed.has(task.connector)) {
        throw new ValidationFailed([
          { path: `${path}.connector`, message: `connector "${task.connector}" is not in this intent's connectors (${[...allowed].join(', ')})` },
        ]);
      }
      this.connectors.get(task.connector, `${path}.connector`).parseArgs(task.args, `${path}.args`);
    });
  }

  async get(intentId: string): Promise<IntentView> {
    const row = await this.intents.find(intentId);
    if (!row) throw new NotFound(`intent ${shownId(intentId)} not found`);
    return toView(row);
  }

  async list(limit = 50, cursor?: string): Promise<IntentPage> {
    const rows = await this.intents.list(limit + 1, cursor ? decodeCursor(cursor) : undefined);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(toSummary), nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.created_key, id: last.id }) : null };
  }
}

function toView(row: IntentRow): IntentView {
  const payload = intentPayload(row);
  return {
    intentId: row.id,
    goal: row.goal,
    inputs: payload.inputs as IntentView['inputs'],
    constraints: payload.constraints,
    ...(payload.connectors ? { connectors: [...payload.connectors] } : {}),
    createdAt: row.created_at.toISOString(),
  };
}

function toSummary(row: IntentSummaryRow): IntentSummary {
  // Cut on code points, so a surrogate pair is never split.
  const chars = [...row.goal];
  return {
    intentId: row.id,
    goal: chars.length > GOAL_PREVIEW ? `${chars.slice(0, GOAL_PREVIEW).join('')}…` : row.goal,
    taskCount: row.task_count,
    createdAt: row.created_at.toISOString(),
  };
}
