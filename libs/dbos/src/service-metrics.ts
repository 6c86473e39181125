import { Inject, Injectable, Optional } from '@nestjs/common';
import { type Counter, type Histogram, metrics as otelMetrics, type MetricOptions, type ObservableGauge, type ObservableResult } from '@opentelemetry/api';
import { sql } from 'kysely';
import { isQueueName, QUEUES } from './queues.js';
import { SystemDatabase } from './system-database.js';

/** What ServiceMetrics creates its instruments with: nestjs-otel's MetricService in the service. */
export interface MetricSource {
  getCounter(name: string, options?: MetricOptions): Counter;
  getHistogram(name: string, options?: MetricOptions): Histogram;
  getObservableGauge(name: string, options?: MetricOptions): ObservableGauge;
}
export const METRIC_SOURCE = Symbol('METRIC_SOURCE');

/**
 * The same instruments straight from @opentelemetry/api, for apps built without nestjs-otel: Jest
 * on Node 20 cannot load it (a CommonJS package requiring the ESM-only @nestjs/common), so the
 * in-process test apps use this; the built service and its e2e tests use nestjs-otel.
 */
function apiMetricSource(): MetricSource {
  const meter = otelMetrics.getMeter('durable-ops');
  return {
    getCounter: (name, options) => meter.createCounter(name, options),
    getHistogram: (name, options) => meter.createHistogram(name, options),
    getObservableGauge: (name, options) => meter.createObservableGauge(name, options),
  };
}

/**
 * The service's metrics, created through nestjs-otel's MetricService on the global MeterProvider
 * (apps/api/src/tracing.ts installs it before the app is created; without it every instrument is
 * a no-op). Labels are bounded: step names, queue names, ops verbs and outcomes; never a run ID.
 *
 * Counters are per process: a run is counted by the process that starts or finishes it (a run
 * recovered after a crash may be counted twice). The queue gauges read the DBOS system database
 * only when collected (a Prometheus scrape or an OTLP export), never per run.
 */
export const METRICS = {
  runsStarted: 'durable_ops.runs.started',
  runsSucceeded: 'durable_ops.runs.succeeded',
  runsFailed: 'durable_ops.runs.failed',
  runsCancelled: 'durable_ops.runs.cancelled',
  runDuration: 'durable_ops.run.duration',
  stepDuration: 'durable_ops.step.duration',
  queueDepth: 'durable_ops.queue.depth',
  queueOldestAge: 'durable_ops.queue.oldest_enqueued_age',
  controlActions: 'durable_ops.control.actions',
  httpDuration: 'http.server.request.duration',
} as const;

/** Seconds; buckets from 5 ms (an HTTP read) to 5 min (a run with a durable sleep). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Several instruments read the same query within one collection: one round trip serves them all. */
const QUEUE_READ_REUSE_MS = 1000;

export type RunOutcome = 'succeeded' | 'failed';

interface QueueStat {
  readonly queue: string;
  readonly depth: number;
  readonly oldestAgeSeconds: number;
}

/** The process's instance, for workflow and step code that runs outside Nest's injection. */
let active: ServiceMetrics | undefined;

@Injectable()
export class ServiceMetrics {
  private readonly started: Counter;
  private readonly outcomes: Record<RunOutcome | 'cancelled', Counter>;
  private readonly runDuration: Histogram;
  private readonly stepDuration: Histogram;
  private readonly actions: Counter;
  readonly http: Histogram;
  private queueRead: { at: number; stats: Promise<QueueStat[]> } | undefined;

  constructor(
    private readonly system: SystemDatabase,
    @Optional() @Inject(METRIC_SOURCE) source?: MetricSource,
  ) {
    const metrics = source ?? apiMetricSource();
    const seconds = { unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS } };
    this.started = metrics.getCounter(METRICS.runsStarted, { description: 'Runs started (POST /api/runs that created a run)' });
    this.outcomes = {
      succeeded: metrics.getCounter(METRICS.runsSucceeded, { description: 'Runs whose IntentWorkflow returned' }),
      failed: metrics.getCounter(METRICS.runsFailed, { description: 'Runs that failed (a permanent error or retries exhausted)' }),
      cancelled: metrics.getCounter(METRICS.runsCancelled, { description: 'Runs cancelled by a control action' }),
    };
    this.runDuration = metrics.getHistogram(METRICS.runDuration, { ...seconds, description: 'IntentWorkflow execution time, by outcome' });
    this.stepDuration = metrics.getHistogram(METRICS.stepDuration, { ...seconds, description: 'Workflow step time, by step.name' });
    this.actions = metrics.getCounter(METRICS.controlActions, { description: 'Control actions over HTTP, by op and outcome' });
    this.http = metrics.getHistogram(METRICS.httpDuration, { ...seconds, description: 'HTTP server request duration' });
    metrics
      .getObservableGauge(METRICS.queueDepth, { description: 'Workflows waiting in a DBOS queue (ENQUEUED)' })
      .addCallback((result) => this.observeQueues(result, (s) => s.depth));
    metrics
      .getObservableGauge(METRICS.queueOldestAge, { unit: 's', description: 'Age of the oldest ENQUEUED workflow per queue' })
      .addCallback((result) => this.observeQueues(result, (s) => s.oldestAgeSeconds));
    ServiceMetrics.register(this);
  }

  /** Workflow and step code runs outside injection: it finds the process's instance here. */
  private static register(instance: ServiceMetrics): void {
    active = instance;
  }

  runStarted(queue: string): void {
    this.started.add(1, { queue });
  }

  runFinished(outcome: RunOutcome, startedAtMs: number): void {
    this.outcomes[outcome].add(1);
    this.runDuration.record((Date.now() - startedAtMs) / 1000, { outcome });
  }

  runCancelled(): void {
    this.outcomes.cancelled.add(1);
  }

  controlAction(op: string, outcome: string): void {
    this.actions.add(1, { op, outcome });
  }

  step(name: string, seconds: number): void {
    this.stepDuration.record(seconds, { 'step.name': name });
  }

  private async observeQueues(result: ObservableResult, value: (stat: QueueStat) => number): Promise<void> {
    const now = Date.now();
    if (!this.queueRead || now - this.queueRead.at > QUEUE_READ_REUSE_MS) this.queueRead = { at: now, stats: this.readQueues() };
    // A collection must not fail because the database is briefly away: report nothing this time.
    const stats = await this.queueRead.stats.catch(() => [] as QueueStat[]);
    for (const stat of stats) result.observe(value(stat), { queue: stat.queue });
  }

  private async readQueues(): Promise<QueueStat[]> {
    const rows = await this.system
      .selectFrom('dbos.workflow_status')
      .select(['queue_name', sql<string>`count(*)`.as('depth'), sql<string | null>`min(created_at)`.as('oldest')])
      .where('status', '=', 'ENQUEUED')
      .where('queue_name', 'is not', null)
      .groupBy('queue_name')
      .execute();
    const now = Date.now();
    // Every queue of this service, empty ones at 0; other queues' names are not labels here.
    const found = new Map(rows.filter((row) => row.queue_name !== null && isQueueName(row.queue_name)).map((row) => [row.queue_name, row]));
    return Object.keys(QUEUES).map((queue) => {
      const row = found.get(queue);
      return {
        queue,
        depth: row ? Number(row.depth) : 0,
        oldestAgeSeconds: row?.oldest ? Math.max(0, (now - Number(row.oldest)) / 1000) : 0,
      };
    });
  }
}

/** The process's metrics (undefined before the Nest app is created, e.g. in a bare unit test). */
export function serviceMetrics(): ServiceMetrics | undefined {
  return active;
}

/** Times `fn` as the workflow step `name` (durable_ops.step.duration); failures are timed too. */
export async function timedStep<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const metrics = active;
  if (!metrics) return fn();
  const start = performance.now();
  try {
    return await fn();
  } finally {
    metrics.step(name, (performance.now() - start) / 1000);
  }
}
