import { DBOS } from '@dbos-inc/dbos-sdk';
import { ConsoleLogger, Logger, type LogLevel as NestLogLevel } from '@nestjs/common';
import { type Context, context, metrics, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { Logger as OtelLogger } from '@opentelemetry/api-logs';
import type { ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { LoggerProvider, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { MeterProvider, MetricReader, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { BasicTracerProvider, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import type { AppConfig } from '#common';
import { ATTR_WORKFLOW_ID, DbosTracerProvider, enableDbosTracing, WorkflowAttributesProcessor } from '#dbos';

/**
 * The OpenTelemetry SDK under nestjs-otel. Metrics always: one MeterProvider (the global one, which
 * nestjs-otel's MetricService creates the service's instruments on) read by the Prometheus exporter
 * behind GET /metrics and, when an endpoint is configured, pushed over OTLP/HTTP. Traces and logs
 * only when their endpoint is configured: one TracerProvider for the HTTP spans and DBOS's own
 * workflow/step spans (DBOS creates them with the global provider when tracingEnabled is on), one
 * LoggerProvider fed by the Nest logger (which DBOS's logs also go through). Without those
 * endpoints no tracer or logger is registered and DBOS tracing stays off.
 */
export interface Telemetry {
  /** With traces exported, a Fastify onRequest hook: one SERVER span per request (the first hook). */
  readonly http: onRequestHookHandler | undefined;
  /** The Nest logger to use: the console, plus an OTLP log record per line when logs are exported. */
  readonly logger: ConsoleLogger;
  /** One line for the boot log: where traces, logs and metrics go. */
  readonly summary: string;
  /** The pull reader behind GET /metrics (Prometheus text format). */
  readonly prometheus: PrometheusExporter;
  /** Flushes and stops the exporters (after the app and DBOS have closed). */
  shutdown(): Promise<void>;
}

/** ExportResultCode.SUCCESS (@opentelemetry/core), without loading core when telemetry is off. */
const EXPORT_SUCCESS = 0 as ExportResultCode.SUCCESS;
/** Export runs every second (the SDK default is 5 s): a run's spans show up while one looks. */
const EXPORT_DELAY_MS = 1000;
/** Health checks are polled by orchestrators every few seconds: not worth a trace each. */
const UNTRACED_PATHS = new Set(['/healthz']);

/** An endpoint as it may be logged: no credentials, no query. */
function shown(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * The exporter, reporting outages on the console once (and recovery once), instead of the SDK's
 * silence: an unreachable or rejecting endpoint is visible in the service log (and otlp:smoke
 * checks for these lines).
 */
class ReportingExporter<B> {
  private failing = false;
  private readonly logger = new Logger('Telemetry');

  constructor(
    private readonly inner: { export(batch: B, done: (result: ExportResult) => void): void; shutdown(): Promise<void>; forceFlush?(): Promise<void> },
    private readonly what: string,
  ) {}

  export(batch: B, done: (result: ExportResult) => void): void {
    this.inner.export(batch, (result) => {
      if (result.code !== EXPORT_SUCCESS && !this.failing) {
        this.failing = true;
        this.logger.warn(`OTLP ${this.what} export failed: ${result.error?.message ?? 'unknown error'} (reported once until it recovers)`);
      } else if (result.code === EXPORT_SUCCESS && this.failing) {
        this.failing = false;
        this.logger.log(`OTLP ${this.what} export recovered`);
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** OTel log SeverityNumber (TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21) per Nest level. */
const SEVERITY: Record<NestLogLevel, number> = { verbose: 1, debug: 5, log: 9, warn: 13, error: 17, fatal: 21 };

function body(message: unknown): string {
  if (typeof message === 'string') return message;
  if (message instanceof Error) return message.message;
  try {
    return JSON.stringify(message);
  } catch {
    return String(message);
  }
}

/**
 * The console logger, also emitting each printed line as an OTLP log record: trace/span IDs from
 * the active span, `workflowID` when written inside a workflow (or one of its steps).
 */
class TelemetryConsoleLogger extends ConsoleLogger {
  constructor(
    levels: NestLogLevel[],
    private readonly otel: OtelLogger | undefined,
  ) {
    super({ logLevels: levels });
  }

  protected override printMessages(
    messages: unknown[],
    logContext?: string,
    logLevel: NestLogLevel = 'log',
    writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    super.printMessages(messages, logContext, logLevel, writeStreamType, errorStack, params);
    if (!this.otel) return;
    const workflowId = DBOS.workflowID;
    for (const message of messages) {
      this.otel.emit({
        severityNumber: SEVERITY[logLevel],
        severityText: logLevel === 'log' ? 'INFO' : logLevel.toUpperCase(),
        body: body(message),
        attributes: {
          ...(logContext ? { 'nest.context': logContext } : {}),
          ...(workflowId ? { [ATTR_WORKFLOW_ID]: workflowId } : {}),
          ...(typeof errorStack === 'string' ? { 'exception.stacktrace': errorStack } : {}),
        },
      });
    }
  }
}

/** The matched route template (`/api/runs/:runId`), never the raw path; undefined when no route matched. */
export function routeOf(request: FastifyRequest): string | undefined {
  return request.is404 ? undefined : request.routeOptions.url;
}

/** A SERVER span per request, continuing an incoming traceparent; the Node request and response are bound to it. */
function httpHook(tracer: Tracer): onRequestHookHandler {
  return (request, reply, done) => {
    const path = request.url.split('?')[0] ?? '/';
    if (UNTRACED_PATHS.has(path)) return done();
    const req = request.raw;
    const res = reply.raw;
    const parent: Context = propagation.extract(ROOT_CONTEXT, req.headers);
    const span: Span = tracer.startSpan(
      request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': path,
          'url.scheme': request.protocol,
          'network.protocol.version': req.httpVersion,
          ...(req.headers['user-agent'] ? { 'user_agent.original': req.headers['user-agent'] } : {}),
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    // Listeners (the body parser's 'data'/'end', 'finish') run in the request's context too.
    context.bind(active, req);
    context.bind(active, res);
    res.once('close', () => {
      const route = routeOf(request);
      if (route) {
        span.setAttribute('http.route', route);
        span.updateName(`${request.method} ${route}`);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      if (!res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection before the response was sent' });
      span.end();
    });
    // The hooks after this one, the body parser and the handler run inside the span.
    context.with(active, done);
  };
}

/**
 * Installs the OTel SDK; call before the Nest app is created (nestjs-otel's instruments are created
 * with the global MeterProvider then, and DBOS.launch, at bootstrap, finds the TracerProvider and
 * creates its spans with it).
 */
export async function startTelemetry(config: Pick<AppConfig, 'telemetry' | 'appVersion' | 'executorId'>, logLevels: NestLogLevel[]): Promise<Telemetry> {
  const { tracesEndpoint, logsEndpoint, metricsEndpoint, metricsExportIntervalMs, serviceName } = config.telemetry;
  const [{ resourceFromAttributes }, { MeterProvider, PeriodicExportingMetricReader }, { PrometheusExporter }] = await Promise.all([
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/exporter-prometheus'),
  ]);
  const resource = resourceFromAttributes({
    'service.name': serviceName,
    'service.version': config.appVersion,
    'service.instance.id': config.executorId,
  });

  // Served by the app at GET /metrics, not on a port of its own.
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: MetricReader[] = [prometheus];
  if (metricsEndpoint !== undefined) {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-proto');
    const exporter = new ReportingExporter<ResourceMetrics>(new OTLPMetricExporter({ url: metricsEndpoint }), `metric (${shown(metricsEndpoint)})`);
    readers.push(
      new PeriodicExportingMetricReader({
        exporter,
        exportIntervalMillis: metricsExportIntervalMs,
        exportTimeoutMillis: Math.min(metricsExportIntervalMs, 30_000),
      }),
    );
  }
  const meterProvider: MeterProvider = new MeterProvider({ resource, readers });
  metrics.setGlobalMeterProvider(meterProvider);

  // Context propagation only when spans or log records carry it.
  const contextManager =
    tracesEndpoint !== undefined || logsEndpoint !== undefined
      ? await (async () => {
          const [{ AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }] = await Promise.all([
            import('@opentelemetry/context-async-hooks'),
            import('@opentelemetry/core'),
          ]);
          const manager = new AsyncLocalStorageContextManager().enable();
          context.setGlobalContextManager(manager);
          propagation.setGlobalPropagator(new W3CTraceContextPropagator());
          return manager;
        })()
      : undefined;

  let tracerProvider: BasicTracerProvider | undefined;
  if (tracesEndpoint !== undefined) {
    const [{ OTLPTraceExporter }, { BasicTracerProvider, BatchSpanProcessor }] = await Promise.all([
      import('@opentelemetry/exporter-trace-otlp-proto'),
      import('@opentelemetry/sdk-trace-base'),
    ]);
    const exporter = new ReportingExporter<ReadableSpan[]>(new OTLPTraceExporter({ url: tracesEndpoint }), `trace (${shown(tracesEndpoint)})`);
    tracerProvider = new BasicTracerProvider({
      resource,
      spanProcessors: [new WorkflowAttributesProcessor(config.appVersion), new BatchSpanProcessor(exporter, { scheduledDelayMillis: EXPORT_DELAY_MS })],
    });
    trace.setGlobalTracerProvider(new DbosTracerProvider(tracerProvider));
    enableDbosTracing(config.appVersion);
  }

  let loggerProvider: LoggerProvider | undefined;
  if (logsEndpoint !== undefined) {
    const [{ OTLPLogExporter }, { BatchLogRecordProcessor, LoggerProvider }] = await Promise.all([
      import('@opentelemetry/exporter-logs-otlp-proto'),
      import('@opentelemetry/sdk-logs'),
    ]);
    const exporter = new ReportingExporter<ReadableLogRecord[]>(new OTLPLogExporter({ url: logsEndpoint }), `log (${shown(logsEndpoint)})`);
    loggerProvider = new LoggerProvider({
      resource,
      processors: [new BatchLogRecordProcessor(exporter, { scheduledDelayMillis: EXPORT_DELAY_MS })],
    });
  }

  const logger = new TelemetryConsoleLogger(logLevels, loggerProvider?.getLogger('durable-ops'));
  const exported = tracesEndpoint !== undefined || logsEndpoint !== undefined || metricsEndpoint !== undefined;
  const summary = exported
    ? [
        `OTLP export as service.name=${serviceName}:`,
        `traces ${tracesEndpoint ? `to ${shown(tracesEndpoint)}` : 'off'},`,
        `logs ${logsEndpoint ? `to ${shown(logsEndpoint)}` : 'off'},`,
        `metrics ${metricsEndpoint ? `to ${shown(metricsEndpoint)} every ${metricsExportIntervalMs} ms` : 'off'};`,
        'metrics also at GET /metrics',
      ].join(' ')
    : 'OTLP export off (no OTEL_EXPORTER_OTLP_*ENDPOINT); metrics at GET /metrics';

  let stopped: Promise<void> | undefined;
  return {
    http: tracerProvider ? httpHook(trace.getTracer('durable-ops-http')) : undefined,
    logger,
    summary,
    prometheus,
    shutdown: () =>
      (stopped ??= (async () => {
        await tracerProvider?.shutdown();
        await loggerProvider?.shutdown();
        await meterProvider.shutdown();
        contextManager?.disable();
      })()),
  };
}
