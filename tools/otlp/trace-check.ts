import type { AttributeValue, ReceivedLog, ReceivedSpan } from './otlp-decode.js';

/** The attributes every workflow and step span must carry (docs/architecture.md, "Telemetry"). */
export const MANDATORY_SPAN_ATTRIBUTES = ['workflowID', 'step.name', 'appVersion'] as const;
/** The IntentWorkflow pipeline (docs/architecture.md, "The life of a run"); checked from outside, not imported. */
export const INTENT_WORKFLOW = 'IntentWorkflow';
export const PIPELINE_STEP_NAMES = ['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST'] as const;
export const RUN_START_SPAN = 'POST /api/runs';

export interface RunTraceExpectation {
  readonly runId: string;
  /** When given, every workflow/step span's appVersion must equal it. */
  readonly appVersion?: string;
  /** The traceId the run reports (GET /api/runs/:id); when given it must be the trace found. */
  readonly reportedTraceId?: string | null;
  /** Require at least one log record carrying workflowID = runId. */
  readonly requireWorkflowLog?: boolean;
}

export interface RunTraceReport {
  readonly traceId: string | undefined;
  readonly http: ReceivedSpan | undefined;
  readonly workflow: ReceivedSpan | undefined;
  readonly steps: Readonly<Record<string, ReceivedSpan | undefined>>;
  /** Every span of the run's trace. */
  readonly spans: readonly ReceivedSpan[];
  /** Log records that carry workflowID = runId. */
  readonly workflowLogs: readonly ReceivedLog[];
  /** Empty when the run's trace is complete; else one line per problem. */
  readonly problems: readonly string[];
}

const shown = (value: AttributeValue | undefined): string => (value === undefined ? '(missing)' : JSON.stringify(value));

/**
 * Finds the run's trace among received spans and checks it: POST /api/runs → IntentWorkflow →
 * the four steps, one trace, parent links intact, the three attributes on the workflow and each
 * step span, and (optionally) the run's reported traceId and a workflow log record.
 */
export function checkRunTrace(spans: readonly ReceivedSpan[], logs: readonly ReceivedLog[], expected: RunTraceExpectation): RunTraceReport {
  const problems: string[] = [];
  const ofRun = spans.filter((s) => s.attributes['workflowID'] === expected.runId);
  // A recovered run has a span per execution: the last one to end is the one that finished it.
  const workflow = ofRun
    .filter((s) => s.name === INTENT_WORKFLOW)
    .sort((a, b) => Number(a.endTimeUnixNano - b.endTimeUnixNano))
    .at(-1);
  const traceId = workflow?.traceId;
  const inTrace = traceId ? spans.filter((s) => s.traceId === traceId) : [];
  if (!workflow) problems.push(`no ${INTENT_WORKFLOW} span with workflowID=${expected.runId} (received ${spans.length} span(s))`);

  const http = inTrace.find((s) => s.name === RUN_START_SPAN && s.kind === 2);
  if (workflow && !http) problems.push(`no "${RUN_START_SPAN}" server span in trace ${traceId}`);
  if (workflow && http && workflow.parentSpanId !== http.spanId)
    problems.push(`the workflow span's parent is ${workflow.parentSpanId || '(none: a root)'}, not the ${RUN_START_SPAN} span ${http.spanId}`);

  const steps: Record<string, ReceivedSpan | undefined> = {};
  for (const name of PIPELINE_STEP_NAMES) {
    const candidates = ofRun.filter((s) => s.name === name);
    const step = candidates.filter((s) => s.traceId === traceId).at(-1);
    steps[name] = step;
    if (!step) {
      const elsewhere = candidates[0];
      problems.push(elsewhere ? `step ${name} arrived in another trace (${elsewhere.traceId}), not ${traceId}` : `no span for step ${name}`);
      continue;
    }
    if (workflow && step.parentSpanId !== workflow.spanId) problems.push(`step ${name}'s parent is ${step.parentSpanId || '(none)'}, not the workflow span`);
  }

  for (const [label, span, stepName] of [
    [INTENT_WORKFLOW, workflow, INTENT_WORKFLOW],
    ...PIPELINE_STEP_NAMES.map((name) => [name, steps[name], name] as const),
  ] as const) {
    if (!span) continue;
    for (const attribute of MANDATORY_SPAN_ATTRIBUTES) {
      const value = span.attributes[attribute];
      if (typeof value !== 'string' || value === '') problems.push(`${label} span lacks ${attribute} (${shown(value)})`);
    }
    if (span.attributes['step.name'] !== undefined && span.attributes['step.name'] !== stepName)
      problems.push(`${label} span has step.name=${shown(span.attributes['step.name'])}, expected "${stepName}"`);
    if (expected.appVersion !== undefined && span.attributes['appVersion'] !== undefined && span.attributes['appVersion'] !== expected.appVersion)
      problems.push(`${label} span has appVersion=${shown(span.attributes['appVersion'])}, expected "${expected.appVersion}"`);
  }

  if (expected.reportedTraceId !== undefined && traceId && expected.reportedTraceId !== traceId)
    problems.push(`GET /api/runs/${expected.runId} reports traceId ${expected.reportedTraceId ?? 'null'}, but its spans are in trace ${traceId}`);

  const workflowLogs = logs.filter((l) => l.attributes['workflowID'] === expected.runId);
  if (expected.requireWorkflowLog && workflowLogs.length === 0)
    problems.push(`no log record with workflowID=${expected.runId} (received ${logs.length} record(s))`);

  return { traceId, http, workflow, steps, spans: inTrace, workflowLogs, problems };
}

/** The report otlp:smoke prints: the trace, then one line per span with its three attributes. */
export function describeRunTrace(report: RunTraceReport): string[] {
  const lines = [`trace ${report.traceId ?? '(none found)'}: ${report.spans.length} span(s)`];
  const byId = new Map(report.spans.map((s) => [s.spanId, s]));
  const depth = (span: ReceivedSpan): number => {
    let d = 0;
    for (let p = byId.get(span.parentSpanId); p && d < 10; p = byId.get(p.parentSpanId)) d++;
    return d;
  };
  const ordered = [...report.spans].sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
  for (const span of ordered) {
    const attrs = MANDATORY_SPAN_ATTRIBUTES.filter((a) => span.attributes[a] !== undefined)
      .map((a) => `${a}=${String(span.attributes[a] as string)}`)
      .join(' ');
    const ms = Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6;
    lines.push(`  ${'  '.repeat(depth(span))}${span.name} [${span.scope}] ${ms.toFixed(1)} ms${attrs ? `  ${attrs}` : ''}`);
  }
  lines.push(`log records with workflowID: ${report.workflowLogs.length}`);
  return lines;
}
