import { metrics } from '@opentelemetry/api';
import { type Histogram, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';

const OPERATOR = 'metrics-operator-token-0123';

/** A pull reader the test collects from itself (the service's is the Prometheus exporter). */
class CollectingReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Point {
  readonly attributes: Record<string, unknown>;
  readonly count: number;
}

/** Every data point of `name` in one collection: a histogram's count, a counter's value. */
function pointsOf(collected: ResourceMetrics, name: string): Point[] {
  return collected.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === name)
    .flatMap((metric) =>
      metric.dataPoints.map((p) => ({ attributes: p.attributes, count: typeof p.value === 'number' ? p.value : (p.value as Histogram).count })),
    );
}

function countOf(points: Point[], attributes: Record<string, unknown>): number {
  return points.filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)).reduce((sum, p) => sum + p.count, 0);
}

describe('request metrics (http.server.request.duration, durable_ops.control.actions)', () => {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  let t: TestApp;

  beforeAll(async () => {
    // Before the app: ServiceMetrics creates its instruments on the global MeterProvider.
    metrics.setGlobalMeterProvider(provider);
    t = await startTestApp({ API_TOKENS: `ops-metrics:operator:${OPERATOR}` });
  });
  afterAll(async () => {
    await t?.close();
    await provider.shutdown();
    metrics.disable();
  });

  it('measures the requests refused before their handler (401 before the body, malformed JSON) under their route, and counts such control actions', async () => {
    const operator = { authorization: `Bearer ${OPERATOR}` };
    expect((await t.request('POST', '/api/ops/wf/run_metrics_a/cancel', { actor: 'a', reason: 'no token' })).status).toBe(401);
    expect((await t.request('POST', '/api/ops/wf/run_metrics_b/fork', '{"actor": ', operator)).status).toBe(400);
    expect((await t.request('POST', '/api/intents', '{"goal": ')).status).toBe(400);
    // Routed: the template is the label, the ID is not.
    expect((await t.request('POST', '/api/ops/wf/run_metrics_c/resume', { actor: 'a', reason: 'absent' }, operator)).status).toBe(404);

    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const http = pointsOf(resourceMetrics, 'http.server.request.duration');
    // The router matches before authentication and the body parser run: a refused request has its route too.
    expect(countOf(http, { 'http.route': '/api/ops/wf/:id/cancel', 'http.request.method': 'POST', 'http.response.status_code': 401 })).toBe(1);
    expect(countOf(http, { 'http.route': '/api/ops/wf/:id/fork', 'http.request.method': 'POST', 'http.response.status_code': 400 })).toBe(1);
    expect(countOf(http, { 'http.route': '/api/intents', 'http.request.method': 'POST', 'http.response.status_code': 400 })).toBe(1);
    expect(countOf(http, { 'http.route': '/api/ops/wf/:id/resume', 'http.request.method': 'POST', 'http.response.status_code': 404 })).toBe(1);
    // A path no route matches is `unmatched`.
    expect((await t.request('POST', '/api/ops/wf/run_metrics_d/explode', { actor: 'a', reason: 'r' }, operator)).status).toBe(404);
    const after = pointsOf((await reader.collect()).resourceMetrics, 'http.server.request.duration');
    expect(countOf(after, { 'http.route': 'unmatched', 'http.request.method': 'POST', 'http.response.status_code': 404 })).toBe(1);

    const actions = pointsOf(resourceMetrics, 'durable_ops.control.actions');
    expect(countOf(actions, { op: 'cancel', outcome: 'unauthorized' })).toBe(1);
    expect(countOf(actions, { op: 'fork', outcome: 'invalid' })).toBe(1);
    expect(countOf(actions, { op: 'resume', outcome: 'not_found' })).toBe(1);

    // Bounded labels: no workflow ID, no token.
    const labels = JSON.stringify([...http, ...actions].map((p) => p.attributes));
    expect(labels).not.toMatch(/run_metrics|metrics-operator/);
  });
});
