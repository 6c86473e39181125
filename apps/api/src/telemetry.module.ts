import {
  Controller,
  type DynamicModule,
  Global,
  type Type,
  Get,
  Inject,
  Injectable,
  Module,
  type NestMiddleware,
  NotFoundException,
  Req,
  Res,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { NextFunction, Request, Response } from 'express';
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
 * Installed by configureApp as the first middleware (app.use), ahead of authentication and the body
 * parser, so a request refused there (401, malformed JSON) is measured too; its route is
 * `unmatched`, as no route template was reached.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: ServiceMetrics) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const start = performance.now();
    res.once('close', () => {
      const route = routeOf(req);
      const status = res.statusCode;
      this.metrics.http.record((performance.now() - start) / 1000, {
        'http.route': route ?? 'unmatched',
        'http.request.method': req.method,
        'http.response.status_code': status,
      });
      if (req.method !== 'POST') return;
      const op = route !== undefined ? ACTION_ROUTE.exec(route)?.[1] : ACTION_PATH.exec(req.originalUrl.split('?')[0] ?? '')?.[1];
      if (op) this.metrics.controlAction(op, ACTION_OUTCOME[status] ?? (status >= 500 ? 'error' : `http_${status}`));
    });
    next();
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
  scrape(@Req() req: Request, @Res() res: Response): void {
    if (!this.prometheus) throw new NotFoundException('metrics are not collected in this process');
    this.prometheus.getMetricsRequestHandler(req, res);
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
 * (ServiceMetrics, global so the planes can use them), request metrics (HttpMetricsMiddleware, which
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
        HttpMetricsMiddleware,
      ],
      exports: [ServiceMetrics, HttpMetricsMiddleware],
    };
  }
}
