import { Controller, type DynamicModule, Global, type Type, Get, Inject, Injectable, Module, NotFoundException, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { METRIC_SOURCE, type MetricSource, ServiceMetrics } from '#dbos';
import { routeOf } from './tracing.js';

const PROMETHEUS = Symbol('PROMETHEUS');

/** The control actions (POST /api/ops/wf/:id/<op>), counted by op and by the HTTP outcome. */
const ACTION_ROUTE = /^\/api\/ops\/wf\/:id\/(cancel|resume|fork)$/;
/** The same action as a raw path, for a request refused before routing (a 401, a body the parser refused). */
const ACTION_PATH = /^\/api\/ops\/wf\/[^/]+\/(cancel|resume|fork)\/?$/;
const ACTION_OUTCOME: Record<number, string> = { 202: 'accepted', 400: 'invalid', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict' };

/**
 * http.server.request.duration per request, and durable_ops.control.actions per control action.
 * Called by configureApp's first onRequest hook, ahead of authentication and the body parser, so a
 * request refused there (401, malformed JSON) is measured too, under its route template (Fastify
 * routes a request before its hooks run); a request no route matched has the route `unmatched`.
 */
@Injectable()
export class HttpMetrics {
  constructor(private readonly metrics: ServiceMetrics) {}

  observe(request: FastifyRequest, reply: FastifyReply): void {
    const start = performance.now();
    // The Node response's close: also when the client goes away before the answer.
    reply.raw.once('close', () => {
      const route = routeOf(request);
      const status = reply.raw.statusCode;
      this.metrics.http.record((performance.now() - start) / 1000, {
        'http.route': route ?? 'unmatched',
        'http.request.method': request.method,
        'http.response.status_code': status,
      });
      if (request.method !== 'POST') return;
      const op = route !== undefined ? ACTION_ROUTE.exec(route)?.[1] : ACTION_PATH.exec(request.url.split('?')[0] ?? '')?.[1];
      if (op) this.metrics.controlAction(op, ACTION_OUTCOME[status] ?? (status >= 500 ? 'error' : `http_${status}`));
    });
  }
}

/**
 * GET /metrics: the service's metrics in Prometheus text format. Open like /healthz (no token):
 * it carries counts and durations labelled by route template, step, queue and op only; no IDs,
 * payloads or secrets. Expose the port to your scraper, not to the internet.
 */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(PROMETHEUS) private readonly prometheus: PrometheusExporter | undefined) {}

  @Get()
  scrape(@Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    if (!this.prometheus) throw new NotFoundException('metrics are not collected in this process');
    // The exporter writes the Node response itself.
    reply.hijack();
    this.prometheus.getMetricsRequestHandler(request.raw, reply.raw);
  }
}

export interface TelemetryModuleOptions {
  /** The SDK's Prometheus reader (apps/api/src/tracing.ts); without it GET /metrics is a 404. */
  readonly prometheus?: PrometheusExporter | undefined;
  /** nestjs-otel, loaded by main.ts (see {@link loadNestOtel}); without it the metrics use the OTel API directly. */
  readonly nestOtel?: NestOtel | undefined;
}

export interface NestOtel {
  readonly module: DynamicModule;
  readonly metricService: Type<MetricSource>;
}

/** nestjs-otel's module (MetricService, TraceService; host metrics off) and the MetricService class. */
export async function loadNestOtel(): Promise<NestOtel> {
  const { OpenTelemetryModule, MetricService } = await import('nestjs-otel');
  return { module: OpenTelemetryModule.forRoot({ metrics: { hostMetrics: false } }), metricService: MetricService };
}

/**
 * The service's telemetry in Nest: nestjs-otel's module, the service's instruments
 * (ServiceMetrics, global so the planes can use them), request metrics (HttpMetrics, which
 * configureApp installs) and GET /metrics.
 */
@Global()
@Module({})
export class TelemetryModule {
  static forRoot(options: TelemetryModuleOptions = {}): DynamicModule {
    return {
      module: TelemetryModule,
      imports: options.nestOtel ? [options.nestOtel.module] : [],
      controllers: [MetricsController],
      providers: [
        { provide: PROMETHEUS, useValue: options.prometheus },
        ...(options.nestOtel ? [{ provide: METRIC_SOURCE, useExisting: options.nestOtel.metricService }] : []),
        ServiceMetrics,
        HttpMetrics,
      ],
      exports: [ServiceMetrics, HttpMetrics],
    };
  }
}
