import { gzipSync } from 'node:zlib';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, type ReadableLogRecord, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { decodeLogsJson, decodeLogsProtobuf, decodeTracesJson, decodeTracesProtobuf, OtlpDecodeError } from './otlp-decode.js';
import { decodeMetricsJson, decodeMetricsProtobuf } from './otlp-metrics.js';
import { startOtlpReceiver } from './otlp-receiver.js';

/** Real metrics (a counter, a histogram, a gauge) as the SDK collects them. */
async function sampleMetrics(): Promise<ResourceMetrics> {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'spec' }), readers: [reader] });
  const meter = provider.getMeter('durable-ops-spec');
  meter.createCounter('durable_ops.runs.started').add(3, { queue: 'intents' });
  meter.createHistogram('durable_ops.step.duration', { unit: 's' }).record(0.25, { 'step.name': 'CompileST' });
  meter.createHistogram('durable_ops.step.duration', { unit: 's' }).record(0.75, { 'step.name': 'CompileST' });
  meter.createObservableGauge('durable_ops.queue.depth').addCallback((r) => r.observe(7, { queue: 'intents' }));
  await reader.forceFlush();
  await provider.shutdown();
  return exporter.getMetrics()[0]!;
}

describe('OTLP metric decoding (protobufjs, over what the exporters serialize)', () => {
  it('reads counters, histograms and gauges from protobuf and JSON alike', async () => {
    const metrics = await sampleMetrics();
    const fromProtobuf = decodeMetricsProtobuf(ProtobufMetricsSerializer.serializeRequest(metrics)!);
    const fromJson = decodeMetricsJson(JSON.parse(new TextDecoder().decode(JsonMetricsSerializer.serializeRequest(metrics))));
    for (const decoded of [fromProtobuf, fromJson]) {
      const byName = Object.fromEntries(decoded.map((m) => [m.name, m]));
      expect(byName['durable_ops.runs.started']).toMatchObject({
        kind: 'sum',
        scope: 'durable-ops-spec',
        points: [{ value: 3, attributes: { queue: 'intents' } }],
      });
      expect(byName['durable_ops.runs.started']!.resource).toMatchObject({ 'service.name': 'spec' });
      expect(byName['durable_ops.step.duration']).toMatchObject({
        kind: 'histogram',
        unit: 's',
        points: [{ count: 2, value: 1, attributes: { 'step.name': 'CompileST' } }],
      });
      expect(byName['durable_ops.queue.depth']).toMatchObject({ kind: 'gauge', points: [{ value: 7, attributes: { queue: 'intents' } }] });
    }
  });

  it('refuses a body that is not an export request', () => {
    expect(() => decodeMetricsProtobuf(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(OtlpDecodeError);
    expect(() => decodeMetricsJson({ resourceSpans: [] })).toThrow(OtlpDecodeError);
  });
});

/** Real spans and log records, serialized by the very serializers the OTLP exporters use. */
/** A step span's attributes: every attribute type OTLP carries, decoded back to the same values. */
const STEP_ATTRIBUTES = {
  workflowID: 'run_1',
  'step.name': 'CompileST',
  appVersion: '1.0.0',
  retriesAllowed: false,
  ratio: 0.25,
  tags: ['a', 'b'],
  big: -1234567890123,
};

function sampleSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'decode-test', 'service.version': '9.9.9' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('decode-scope');
  const parent = tracer.startSpan('POST /api/runs', { kind: SpanKind.SERVER, attributes: { 'http.response.status_code': 202, 'url.path': '/api/runs' } });
  const linked = tracer.startSpan('elsewhere');
  const child = tracer.startSpan(
    'CompileST',
    {
      attributes: STEP_ATTRIBUTES,
      links: [{ context: linked.spanContext(), attributes: { workflowID: 'run_0' } }],
    },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom ü' });
  child.end();
  linked.end();
  parent.end();
  return exporter.getFinishedSpans();
}

function sampleLogs(): ReadableLogRecord[] {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'decode-test' }),
    processors: [new SimpleLogRecordProcessor(exporter)],
  });
  provider
    .getLogger('nest')
    .emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'run_1 succeeded', attributes: { workflowID: 'run_1', n: 3 } });
  provider.getLogger('nest').emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: { structured: true } });
  return exporter.getFinishedLogRecords();
}

describe('OTLP decoding', () => {
  const spans = sampleSpans();
  const logs = sampleLogs();

  it('decodes an ExportTraceServiceRequest in protobuf to what was recorded', () => {
    const decoded = decodeTracesProtobuf(ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(decoded.map((s) => s.name)).toEqual(spans.map((s) => s.name));
    for (const [i, span] of spans.entries()) {
      expect(decoded[i]).toMatchObject({
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        parentSpanId: span.parentSpanContext?.spanId ?? '',
        kind: span.kind + 1,
        scope: 'decode-scope',
        resource: { 'service.name': 'decode-test', 'service.version': '9.9.9' },
        startTimeUnixNano: BigInt(span.startTime[0]) * 1_000_000_000n + BigInt(span.startTime[1]),
      });
    }
    const compile = decoded.find((s) => s.name === 'CompileST')!;
    expect(compile.attributes).toEqual(STEP_ATTRIBUTES);
    expect(compile.status).toEqual({ code: 2, message: 'boom ü' });
    expect(compile.links).toEqual([
      { traceId: spans.find((s) => s.name === 'elsewhere')!.spanContext().traceId, spanId: expect.any(String), attributes: { workflowID: 'run_0' } },
    ]);
    expect(decoded.find((s) => s.name === 'POST /api/runs')!.attributes['http.response.status_code']).toBe(202);
  });

  it('decodes the JSON encoding to the same spans', () => {
    const json = JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans)));
    const protobuf = decodeTracesProtobuf(ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(decodeTracesJson(json)).toEqual(protobuf);
  });

  it('decodes log records, protobuf and JSON, with body, attributes and severity', () => {
    const decoded = decodeLogsProtobuf(ProtobufLogsSerializer.serializeRequest(logs)!);
    expect(decoded).toMatchObject([
      { severityNumber: 9, severityText: 'INFO', body: 'run_1 succeeded', attributes: { workflowID: 'run_1', n: 3 }, scope: 'nest', traceId: '' },
      { severityNumber: 13, body: { structured: true } },
    ]);
    const json = JSON.parse(new TextDecoder().decode(JsonLogsSerializer.serializeRequest(logs)));
    expect(decodeLogsJson(json)).toEqual(decoded);
  });

  it('accepts an empty request and refuses truncated or foreign bytes', () => {
    expect(decodeTracesProtobuf(new Uint8Array(0))).toEqual([]);
    const bytes = ProtobufTraceSerializer.serializeRequest(spans)!;
    expect(() => decodeTracesProtobuf(bytes.subarray(0, bytes.length - 7))).toThrow(OtlpDecodeError);
    expect(() => decodeTracesProtobuf(Uint8Array.from([0x0b, 0x01]))).toThrow(OtlpDecodeError);
    expect(() => decodeTracesJson({ spans: [] })).toThrow(OtlpDecodeError);
  });
});

describe('the loopback OTLP receiver', () => {
  it('keeps what exporters send (protobuf, JSON, gzip) and answers like a collector', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const post = (path: string, body: Uint8Array | string, headers: Record<string, string>) =>
        fetch(receiver.url + path, { method: 'POST', body: typeof body === 'string' ? body : Buffer.from(body), headers });
      const spans = sampleSpans();
      const proto = await post('/v1/traces', ProtobufTraceSerializer.serializeRequest(spans)!, { 'content-type': 'application/x-protobuf' });
      expect(proto.status).toBe(200);
      expect(proto.headers.get('content-type')).toBe('application/x-protobuf');
      const gz = await post('/v1/traces', gzipSync(ProtobufTraceSerializer.serializeRequest(spans)!), {
        'content-type': 'application/x-protobuf',
        'content-encoding': 'gzip',
      });
      expect(gz.status).toBe(200);
      const json = await post('/v1/logs', new TextDecoder().decode(JsonLogsSerializer.serializeRequest(sampleLogs())), { 'content-type': 'application/json' });
      expect({ status: json.status, body: await json.json() }).toEqual({ status: 200, body: {} });

      expect(receiver.spans.length).toBe(spans.length * 2);
      expect(receiver.logs.length).toBe(2);
      expect(receiver.exports).toEqual({ traces: 2, logs: 1, metrics: 0 });

      expect((await post('/v1/profiles', '', { 'content-type': 'application/x-protobuf' })).status).toBe(404);
      expect((await post('/v1/traces', 'x', { 'content-type': 'text/plain' })).status).toBe(415);
      expect((await post('/v1/traces', Uint8Array.from([0x0a, 0x05, 0x01]), { 'content-type': 'application/x-protobuf' })).status).toBe(400);
      expect(receiver.errors).toEqual([expect.stringMatching(/^POST \/v1\/traces \(application\/x-protobuf\): /)]);
      expect((await fetch(`${receiver.url}/v1/traces`)).status).toBe(405);
    } finally {
      await receiver.close();
    }
  });

  it('waitFor resolves on the export that satisfies it, and times out naming what it waited for', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const waiting = receiver.waitFor('the CompileST span', () => receiver.spans.find((s) => s.name === 'CompileST'), 5000);
      await fetch(`${receiver.url}/v1/traces`, {
        method: 'POST',
        body: Buffer.from(ProtobufTraceSerializer.serializeRequest(sampleSpans())!),
        headers: { 'content-type': 'application/x-protobuf' },
      });
      expect((await waiting).name).toBe('CompileST');
      await expect(receiver.waitFor('nothing', () => undefined, 50)).rejects.toThrow('timed out after 50 ms waiting for nothing');
    } finally {
      await receiver.close();
    }
  });
});
