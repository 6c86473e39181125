import { type Attributes, decodeProtobufRequest, jsonAttributes, OtlpDecodeError } from './otlp-decode.js';

/** OTLP metric export requests (protobuf through protobufjs, or JSON), flattened for checks. */

export interface ReceivedMetricPoint {
  readonly attributes: Attributes;
  /** A gauge's or sum's value; a histogram's sum. */
  readonly value: number;
  /** Histograms only: how many values were recorded. */
  readonly count?: number;
}

export interface ReceivedMetric {
  readonly name: string;
  readonly unit: string;
  readonly kind: 'gauge' | 'sum' | 'histogram';
  readonly points: readonly ReceivedMetricPoint[];
  readonly resource: Attributes;
  readonly scope: string;
}

/** The OTLP/JSON shape (what decodeProtobufRequest also returns), as far as read here. */
interface PointObject {
  attributes?: unknown[];
  asDouble?: number;
  asInt?: string | number;
  count?: string | number;
  sum?: number;
}
interface MetricObject {
  name?: string;
  unit?: string;
  gauge?: { dataPoints?: PointObject[] };
  sum?: { dataPoints?: PointObject[] };
  histogram?: { dataPoints?: PointObject[] };
}
interface RequestObject {
  resourceMetrics?: {
    resource?: { attributes?: unknown[] };
    scopeMetrics?: { scope?: { name?: string }; metrics?: MetricObject[] }[];
  }[];
}

function flatten(request: RequestObject): ReceivedMetric[] {
  if (!Array.isArray(request.resourceMetrics)) throw new OtlpDecodeError('metrics export request without resourceMetrics');
  const out: ReceivedMetric[] = [];
  for (const rm of request.resourceMetrics) {
    const resource = jsonAttributes(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const metric of sm.metrics ?? []) {
        const kind = metric.histogram ? 'histogram' : metric.sum ? 'sum' : metric.gauge ? 'gauge' : undefined;
        if (!kind) continue;
        const points = (metric[kind]?.dataPoints ?? []).map((p): ReceivedMetricPoint => {
          if (kind === 'histogram') return { attributes: jsonAttributes(p.attributes), value: p.sum ?? 0, count: Number(p.count ?? 0) };
          return { attributes: jsonAttributes(p.attributes), value: p.asDouble ?? Number(p.asInt ?? 0) };
        });
        out.push({ name: metric.name ?? '', unit: metric.unit ?? '', kind, points, resource, scope: sm.scope?.name ?? '' });
      }
    }
  }
  return out;
}

export function decodeMetricsProtobuf(body: Uint8Array): ReceivedMetric[] {
  return flatten(decodeProtobufRequest('ExportMetricsServiceRequest', body) as RequestObject);
}

export function decodeMetricsJson(request: unknown): ReceivedMetric[] {
  if (typeof request !== 'object' || request === null) throw new OtlpDecodeError('JSON export request is not an object');
  return flatten(request);
}
