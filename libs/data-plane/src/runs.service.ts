import { DBOS } from '@dbos-inc/dbos-sdk';
import { Injectable } from '@nestjs/common';
import { Conflict, MAX_RESPONSE_BYTES, NotFound, newRunId, shownId } from '#common';
import {
  type ArtifactView,
  type ListRunsQuery,
  type RunArtifacts,
  type RunHeader,
  type RunPage,
  type RunSteps,
  type RunView,
  type StartRunRequest,
  decodeCursor,
  describeStep,
  encodeCursor,
} from '#contracts';
import { carrierTraceId, DEFAULT_QUEUE, DbosService, traceCarrier } from '#dbos';
import { serviceMetrics } from '#dbos';
import { type ArtifactRow, type RunRow, RunsRepository } from '#runs';
import { IntentWorkflow } from './intent.workflow.js';
import { intentPayload, IntentsRepository } from './intents.repository.js';
import { type IntentPayload, notBeforeMs } from './planner.js';

type Constraints = IntentPayload['constraints'];

@Injectable()
export class RunsService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly workflow: IntentWorkflow,
    private readonly dbos: DbosService,
    private readonly intents: IntentsRepository,
  ) {}

  /**
   * Writes the run row with its creator (one statement, which also checks the intent), then starts the workflow
   * under the run ID: in this process when it has room, else on the queue (DbosService.startRun);
   * a delayed run waits DELAYED on the queue until its deadline, holding no execution slot. Both
   * are idempotent, so a retried request (same idempotencyKey) repairs a start that a crash cut in half.
   */
  async start(request: StartRunRequest, createdBy: string): Promise<{ run: RunHeader; created: boolean }> {
    const runId = newRunId(request.idempotencyKey);
    const constraints = await this.constraintsOf(request.intentId);
    if (!constraints) throw new NotFound(`intent ${request.intentId} not found`);
    const delayed = notBeforeMs(constraints, Date.now()) > Date.now();
    // With tracing on: the request's trace context travels with the workflow through the queue.
    const trace = traceCarrier(runId);
    const started = await this.runs.start({
      id: runId,
      intentId: request.intentId,
      idempotencyKey: request.idempotencyKey ?? null,
      lineageRoot: runId,
      queue: DEFAULT_QUEUE,
      traceId: trace ? carrierTraceId(trace) : null,
      status: delayed ? 'waiting' : 'queued',
      createdBy,
    });
    if (!started) throw new NotFound(`intent ${shownId(request.intentId)} not found`);
    const { row, created } = started;
    if (row.intent_id !== request.intentId) {
      throw new Conflict(
        `idempotencyKey was already used to start a run of intent ${row.intent_id}`,
        row.status,
        'use a new idempotencyKey for a different intent',
      );
    }
    // The deadline counts from the row's creation, so a retried request does not push it back.
    const createdAtMs = row.created_at.getTime();
    await this.dbos.startRun(
      this.workflow.workflow,
      {
        workflowID: runId,
        queueName: DEFAULT_QUEUE,
        priority: request.priority,
        timeoutMS: request.timeoutMS,
        queuePartitionKey: request.queuePartitionKey,
        notBeforeMs: notBeforeMs(constraints, createdAtMs),
        mayStartHere: created,
      },
      { intentId: row.intent_id, lineageRoot: row.lineage_root, createdAtMs, ...(trace ? { trace } : {}) },
    );
    if (created) serviceMetrics()?.runStarted(DEFAULT_QUEUE);
    return { run: toHeader(row), created };
  }

  /** Intents are immutable: read once per process (IntentsRepository.findCached). */
  private async constraintsOf(intentId: string): Promise<Constraints | undefined> {
    const intent = await this.intents.findCached(intentId);
    return intent ? intentPayload(intent).constraints : undefined;
  }

  async list(query: ListRunsQuery): Promise<RunPage> {
    const limit = query.limit ?? 50;
    const rows = await this.runs.list({ status: query.status, intentId: query.intentId }, limit + 1, query.cursor ? decodeCursor(query.cursor) : undefined);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(toHeader), nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.created_key, id: last.id }) : null };
  }

  async get(runId: string): Promise<RunView> {
    // DBOS's status first, the projection after: a step writes the projection before DBOS records the
    // step (and the workflow's end), so a terminal dbosStatus is never shown beside an older projection.
    const status = await DBOS.getWorkflowStatus(runId);
    const row = await this.mustFind(runId);
    const [marks, artifacts] = await Promise.all([this.runs.marks(runId), this.runs.artifacts(runId)]);
    return {
      ...toHeader(row),
      dbosStatus: status?.status ?? null,
      marks: marks.map((m) => ({
        stepId: m.step_id,
        attempt: m.attempt,
        phase: m.phase,
        startedAt: m.started_at?.toISOString() ?? null,
        finishedAt: m.finished_at.toISOString(),
      })),
      artifacts: artifacts.map((a) => {
        const { inline: _inline, uri: _uri, ...ref } = toArtifact(a);
        return ref;
      }),
    };
  }

  async steps(runId: string): Promise<RunSteps> {
    await this.mustFind(runId);
    const steps = (await DBOS.listWorkflowSteps(runId)) ?? [];
    return { runId, steps: steps.map(describeStep) };
  }

  /** Inline bodies while they fit the page budget; the rest are read one by one (inlineOmitted). */
  async artifacts(runId: string): Promise<RunArtifacts> {
    await this.mustFind(runId);
    let budget = ARTIFACT_PAGE_BUDGET;
    const artifacts = (await this.runs.artifacts(runId)).map((row) => {
      const view = boundedArtifact(toArtifact(row), budget);
      budget -= view.inlineOmitted ? 0 : jsonBytes(view.inline);
      return view;
    });
    return { runId, artifacts };
  }

  async artifact(runId: string, artifactId: string): Promise<ArtifactView> {
    await this.mustFind(runId);
    const row = /^\d{1,18}$/.test(artifactId) ? await this.runs.artifact(runId, artifactId) : undefined;
    if (!row) throw new NotFound(`artifact ${shownId(artifactId)} of run ${shownId(runId)} not found`);
    return boundedArtifact(toArtifact(row), MAX_INLINE_ARTIFACT_BYTES);
  }

  private async mustFind(runId: string): Promise<RunRow> {
    const row = await this.runs.find(runId);
    if (!row) throw new NotFound(`run ${shownId(runId)} not found`);
    return row;
  }
}

export function toHeader(row: RunRow): RunHeader {
  return {
    runId: row.id,
    workflowID: row.id,
    intentId: row.intent_id,
    status: row.status,
    nextAction: row.next_action,
    lastStep: row.last_step,
    error: (row.error ?? null) as RunHeader['error'],
    queue: row.queue_name,
    forkedFrom: row.forked_from,
    traceId: row.trace_id,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** No response carries more than MAX_RESPONSE_BYTES: one artifact's inline body is at most this much. */
export const MAX_INLINE_ARTIFACT_BYTES = MAX_RESPONSE_BYTES - 64 * 1024;
/** The inline bodies of one GET /api/runs/:id/artifacts, together. */
const ARTIFACT_PAGE_BUDGET = MAX_RESPONSE_BYTES / 2;

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null');
}

/** The artifact, or its reference with inline null and inlineOmitted when its body exceeds `budget` bytes of JSON. */
function boundedArtifact(view: ArtifactView, budget: number): ArtifactView {
  return jsonBytes(view.inline) <= budget ? view : { ...view, inline: null, inlineOmitted: true };
}

function toArtifact(row: ArtifactRow): ArtifactView {
  return {
    artifactId: String(row.id),
    stepId: row.step_id,
    idx: row.idx,
    kind: row.kind,
    mime: row.mime,
    sha256: row.sha256,
    createdAt: row.created_at.toISOString(),
    inline: row.inline,
    uri: row.uri,
  };
}
