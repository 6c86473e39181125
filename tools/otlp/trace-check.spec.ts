import type { ReceivedLog, ReceivedSpan } from './otlp-decode.js';
import { checkRunTrace, describeRunTrace, PIPELINE_STEP_NAMES } from './trace-check.js';

const T = 'a'.repeat(32);
let clock = 1_000n;

function span(name: string, spanId: string, parentSpanId: string, attributes: ReceivedSpan['attributes'], overrides: Partial<ReceivedSpan> = {}): ReceivedSpan {
  clock += 10n;
  return {
    traceId: T,
    spanId,
    parentSpanId,
    name,
    kind: 1,
    startTimeUnixNano: clock,
    endTimeUnixNano: clock + 5n,
    attributes,
    status: { code: 0, message: '' },
    links: [],
    resource: {},
    scope: 'dbos-tracer',
    ...overrides,
  };
}

const attrs = (stepName: string, extra: ReceivedSpan['attributes'] = {}) => ({ workflowID: 'run_1', 'step.name': stepName, appVersion: '1.0.0', ...extra });

function completeTrace(): ReceivedSpan[] {
  return [
    span('POST /api/runs', 'h', '', { 'http.route': '/api/runs' }, { kind: 2, scope: 'durable-ops-http' }),
    span('IntentWorkflow', 'w', 'h', attrs('IntentWorkflow')),
    ...PIPELINE_STEP_NAMES.map((name, i) => span(name, `s${i}`, 'w', attrs(name))),
  ];
}

const log: ReceivedLog = {
  timeUnixNano: 1n,
  severityNumber: 9,
  severityText: 'INFO',
  body: 'run_1 succeeded',
  attributes: { workflowID: 'run_1' },
  traceId: T,
  spanId: 'w',
  resource: {},
  scope: 'durable-ops',
};

describe('checkRunTrace', () => {
  it('accepts a complete run trace', () => {
    const report = checkRunTrace(completeTrace(), [log], { runId: 'run_1', appVersion: '1.0.0', reportedTraceId: T, requireWorkflowLog: true });
    expect(report.problems).toEqual([]);
    expect(report.spans).toHaveLength(6);
    expect(describeRunTrace(report)).toEqual([
      `trace ${T}: 6 span(s)`,
      '  POST /api/runs [durable-ops-http] 0.0 ms',
      '    IntentWorkflow [dbos-tracer] 0.0 ms  workflowID=run_1 step.name=IntentWorkflow appVersion=1.0.0',
      ...PIPELINE_STEP_NAMES.map((name) => `      ${name} [dbos-tracer] 0.0 ms  workflowID=run_1 step.name=${name} appVersion=1.0.0`),
      'log records with workflowID: 1',
    ]);
  });

  it('names each thing that is missing or wrong', () => {
    const spans = completeTrace()
      // No DecideST at all; ExecuteST in another trace; ApplyPatchST without appVersion; CompileST under the wrong parent.
      .filter((s) => s.name !== 'DecideST')
      .map((s) => (s.name === 'ExecuteST' ? { ...s, traceId: 'b'.repeat(32) } : s))
      .map((s) => (s.name === 'ApplyPatchST' ? { ...s, attributes: { workflowID: 'run_1', 'step.name': 'ApplyPatchST' } } : s))
      .map((s) => (s.name === 'CompileST' ? { ...s, parentSpanId: 'h' } : s))
      .map((s) => (s.name === 'IntentWorkflow' ? { ...s, attributes: attrs('IntentWorkflow', { appVersion: '0.9.0' }) } : s));
    const report = checkRunTrace(spans, [], { runId: 'run_1', appVersion: '1.0.0', reportedTraceId: 'c'.repeat(32), requireWorkflowLog: true });
    expect(report.problems).toEqual([
      "step CompileST's parent is h, not the workflow span",
      'no span for step DecideST',
      `step ExecuteST arrived in another trace (${'b'.repeat(32)}), not ${T}`,
      'IntentWorkflow span has appVersion="0.9.0", expected "1.0.0"',
      'ApplyPatchST span lacks appVersion ((missing))',
      `GET /api/runs/run_1 reports traceId ${'c'.repeat(32)}, but its spans are in trace ${T}`,
      'no log record with workflowID=run_1 (received 0 record(s))',
    ]);
  });

  it('reports a workflow span that is not under POST /api/runs (the context did not cross the queue)', () => {
    const spans = completeTrace().map((s) =>
      s.name === 'POST /api/runs' ? { ...s, traceId: 'd'.repeat(32) } : s.name === 'IntentWorkflow' ? { ...s, parentSpanId: '' } : s,
    );
    expect(checkRunTrace(spans, [], { runId: 'run_1' }).problems).toEqual([`no "POST /api/runs" server span in trace ${T}`]);
  });

  it('reports a run with no spans at all', () => {
    expect(checkRunTrace([], [], { runId: 'run_9' }).problems).toEqual([
      'no IntentWorkflow span with workflowID=run_9 (received 0 span(s))',
      ...PIPELINE_STEP_NAMES.map((n) => `no span for step ${n}`),
    ]);
  });
});
