import type { ReceivedMetric } from './otlp-metrics.js';
import { PIPELINE_STEP_NAMES } from './trace-check.js';

/**
 * What the OTLP metrics of a service that ran (at least) one successful run must show: the run
 * counted as started and succeeded, its four steps timed, the POST /api/runs request timed by
 * route, and the queue gauges reported. Metrics are cumulative: the latest point per series wins.
 */
export function checkRunMetrics(metrics: readonly ReceivedMetric[]): string[] {
  const latest = new Map<string, ReceivedMetric>();
  for (const metric of metrics) latest.set(metric.name, metric);
  const problems: string[] = [];
  const total = (name: string): number => (latest.get(name)?.points ?? []).reduce((sum, p) => sum + (p.count ?? p.value), 0);

  for (const name of ['durable_ops.runs.started', 'durable_ops.runs.succeeded']) {
    if (total(name) < 1) problems.push(`${name} counted no run`);
  }
  const steps = latest.get('durable_ops.step.duration');
  for (const step of PIPELINE_STEP_NAMES) {
    if (!steps?.points.some((p) => p.attributes['step.name'] === step && (p.count ?? 0) > 0)) problems.push(`durable_ops.step.duration has no ${step}`);
  }
  if (!(latest.get('durable_ops.run.duration')?.points ?? []).some((p) => p.attributes['outcome'] === 'succeeded' && (p.count ?? 0) > 0))
    problems.push('durable_ops.run.duration has no succeeded run');
  const http = latest.get('http.server.request.duration');
  if (
    !http?.points.some(
      (p) => p.attributes['http.route'] === '/api/runs' && p.attributes['http.request.method'] === 'POST' && p.attributes['http.response.status_code'] === 202,
    )
  )
    problems.push('http.server.request.duration has no POST /api/runs 202');
  for (const gauge of ['durable_ops.queue.depth', 'durable_ops.queue.oldest_enqueued_age']) {
    if (!latest.has(gauge)) problems.push(`${gauge} was not reported`);
  }
  // No unbounded labels: a run ID never becomes a label value.
  for (const metric of latest.values()) {
    for (const point of metric.points) {
      for (const [key, value] of Object.entries(point.attributes)) {
        if (typeof value === 'string' && /^run_/.test(value)) problems.push(`${metric.name} carries a run ID in label ${key}`);
      }
    }
  }
  return problems;
}
