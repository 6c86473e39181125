import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ConfigError, loadConfig } from '#common';
import {
  activeSpanIds,
  carrierTraceId,
  continueWorkflowTrace,
  dbosTracingEnabled,
  DbosTracerProvider,
  enableDbosTracing,
  traceCarrier,
  WorkflowAttributesProcessor,
  WorkflowSpan,
} from '#dbos';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('OTEL_* configuration', () => {
  it('is off without endpoints, with the default service name', () => {
    expect(loadConfig({}).telemetry).toEqual({
      tracesEndpoint: undefined,
      logsEndpoint: undefined,
      metricsEndpoint: undefined,
      metricsExportIntervalMs: 60000,
      serviceName: 'durable-ops',
    });
  });

  it('derives the signal URLs from OTEL_EXPORTER_OTLP_ENDPOINT (a base, path kept, trailing slash or not)', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).telemetry).toMatchObject({
      tracesEndpoint: 'http://collector:4318/v1/traces',
      logsEndpoint: 'http://collector:4318/v1/logs',
      metricsEndpoint: 'http://collector:4318/v1/metrics',
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com/otlp/' }).telemetry).toMatchObject({
      tracesEndpoint: 'https://otlp.example.com/otlp/v1/traces',
      logsEndpoint: 'https://otlp.example.com/otlp/v1/logs',
    });
  });

  it('takes the per-signal endpoints as they are, over the base', () => {
    const config = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/custom/traces',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://mimir:4318/otlp/v1/metrics',
      OTEL_METRIC_EXPORT_INTERVAL: '5000',
      OTEL_SERVICE_NAME: 'ops-api',
    }).telemetry;
    expect(config).toEqual({
      tracesEndpoint: 'http://tempo:4318/custom/traces',
      logsEndpoint: 'http://collector:4318/v1/logs',
      metricsEndpoint: 'http://mimir:4318/otlp/v1/metrics',
      metricsExportIntervalMs: 5000,
      serviceName: 'ops-api',
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://loki:3100/otlp/v1/logs' }).telemetry).toMatchObject({
      tracesEndpoint: undefined,
      logsEndpoint: 'http://loki:3100/otlp/v1/logs',
    });
  });

  it('refuses a bad endpoint or service name in one line naming the variable, never echoing the URL', () => {
    expect(configError({ OTEL_METRIC_EXPORT_INTERVAL: '5s' })).toMatch(/^Invalid configuration: OTEL_METRIC_EXPORT_INTERVAL must be milliseconds/);
    expect(configError({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'grpc://collector:4317' })).toMatch(
      /OTEL_EXPORTER_OTLP_METRICS_ENDPOINT must be an http\(s\) URL/,
    );
    const bad = configError({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318 secret' });
    expect(bad).toMatch(/^Invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/);
    expect(bad).not.toContain('secret');
    expect(bad).not.toContain('\n');
    expect(configError({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' })).toMatch(
      /^Invalid configuration: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT .*gRPC/,
    );
    expect(configError({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://collector:4318/v1/logs#x' })).toMatch(
      /OTEL_EXPORTER_OTLP_LOGS_ENDPOINT must not carry a #fragment/,
    );
    expect(configError({ OTEL_SERVICE_NAME: 'a\u0007b' })).toMatch(/^Invalid configuration: OTEL_SERVICE_NAME /);
  });
});

describe('DBOS spans in the run trace', () => {
  const exporter = new InMemorySpanExporter();
  const sdk = new BasicTracerProvider({ spanProcessors: [new WorkflowAttributesProcessor('7.7.7'), new SimpleSpanProcessor(exporter)] });

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(new DbosTracerProvider(sdk));
  });
  beforeEach(() => exporter.reset());

  const workflowAttributes = { status: 'PENDING', operationUUID: 'run_1', operationType: 'workflow', operationName: 'IntentWorkflow' };

  it('re-parents a DBOS workflow span under the carried context; its steps follow; the replaced span is never exported', () => {
    const request = trace.getTracer('durable-ops-http').startSpan('POST /api/runs');
    const dbos = trace.getTracer('dbos-tracer');
    const workflow = dbos.startSpan('IntentWorkflow', { attributes: workflowAttributes });
    expect(workflow).toBeInstanceOf(WorkflowSpan);
    const rootTrace = workflow.spanContext().traceId;
    expect(rootTrace).not.toBe(request.spanContext().traceId);

    (workflow as WorkflowSpan).reparent(trace.setSpan(ROOT_CONTEXT, request));
    const step = context.with(trace.setSpan(ROOT_CONTEXT, workflow), () =>
      dbos.startSpan('CompileST', { attributes: { operationUUID: 'run_1', operationType: 'step', operationName: 'CompileST' } }),
    );
    step.end();
    workflow.setAttributes({ applicationVersion: 'ignored-by-us' });
    workflow.end();
    request.end();

    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['CompileST', 'IntentWorkflow', 'POST /api/runs']);
    const [compile, wf, http] = spans;
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([request.spanContext().traceId]));
    expect(wf!.parentSpanContext?.spanId).toBe(http!.spanContext().spanId);
    expect(compile!.parentSpanContext?.spanId).toBe(wf!.spanContext().spanId);
    expect(wf!.attributes).toMatchObject({ ...workflowAttributes, workflowID: 'run_1', 'step.name': 'IntentWorkflow', appVersion: '7.7.7' });
    expect(compile!.attributes).toMatchObject({ workflowID: 'run_1', 'step.name': 'CompileST', appVersion: '7.7.7' });
    // Not DBOS spans: no workflow attributes.
    expect(http!.attributes['workflowID']).toBeUndefined();
  });

  it("delegates DBOS's tracer's startActiveSpan", () => {
    const tracer = trace.getTracer('dbos-tracer');
    expect(tracer.startActiveSpan('a', (span) => (span.end(), trace.getActiveSpan() === span))).toBe(true);
    expect(tracer.startActiveSpan('b', { attributes: { k: 'v' } }, ROOT_CONTEXT, (span) => (span.end(), trace.getActiveSpan() === span))).toBe(true);
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.attributes['k']])).toEqual([
      ['a', undefined],
      ['b', 'v'],
    ]);
  });

  it('reads the semconv attribute names too', () => {
    trace
      .getTracer('dbos-tracer')
      .startSpan('ExecuteST', { attributes: { 'dbos.operation.workflow_id': 'run_2', 'dbos.operation.type': 'step', 'dbos.operation.name': 'ExecuteST' } })
      .end();
    expect(exporter.getFinishedSpans()[0]!.attributes).toMatchObject({ workflowID: 'run_2', 'step.name': 'ExecuteST', appVersion: '7.7.7' });
  });

  it("answers DBOS.launch's context probe without exporting a span", () => {
    const probe = trace.getTracer('otel-bootstrap-check').startSpan('probe');
    const visible = context.with(trace.setSpan(context.active(), probe), () => trace.getSpan(context.active()) === probe);
    probe.end();
    expect(visible).toBe(true);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('with tracing off the helpers do nothing; on, a carrier holds the active context and a foreign carrier becomes a link', () => {
    expect(dbosTracingEnabled()).toBe(false);
    const request = trace.getTracer('durable-ops-http').startSpan('POST /api/runs');
    context.with(trace.setSpan(ROOT_CONTEXT, request), () => {
      expect(traceCarrier('run_1')).toBeUndefined();
      expect(activeSpanIds()).toBeUndefined();
    });

    enableDbosTracing('7.7.7');
    const carrier = context.with(trace.setSpan(ROOT_CONTEXT, request), () => traceCarrier('run_1'))!;
    expect(carrier).toEqual({ traceparent: `00-${request.spanContext().traceId}-${request.spanContext().spanId}-01`, workflowID: 'run_1' });
    expect(carrierTraceId(carrier)).toBe(request.spanContext().traceId);

    // Outside a DBOS workflow DBOS.workflowID is undefined: the carrier is someone else's, as a fork's copy is.
    const workflow = trace.getTracer('dbos-tracer').startSpan('IntentWorkflow', { attributes: { ...workflowAttributes, operationUUID: 'run_fork' } });
    const continued = context.with(trace.setSpan(ROOT_CONTEXT, workflow), () => continueWorkflowTrace(carrier));
    expect(continued).toEqual({ traceId: workflow.spanContext().traceId, continued: false });
    workflow.end();
    request.end();
    const forked = exporter.getFinishedSpans().find((s) => s.name === 'IntentWorkflow')!;
    expect(forked.parentSpanContext).toBeUndefined();
    expect(forked.links).toEqual([expect.objectContaining({ context: expect.objectContaining({ traceId: request.spanContext().traceId }) })]);
  });
});
