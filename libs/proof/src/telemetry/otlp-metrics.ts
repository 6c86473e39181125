import protobuf from 'protobufjs';
import { type Attributes, type AttributeValue, OtlpDecodeError } from './otlp-decode.js';

/**
 * Decoding of OTLP/HTTP metric export requests (protobuf and JSON) with protobufjs. The schema is
 * the part of opentelemetry-proto v1 (collector/metrics, metrics, common, resource) that a check
 * reads; protobufjs skips the fields it does not declare, as protobuf requires.
 */
const SCHEMA = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Resource { repeated KeyValue attributes = 1; }

message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data {
    Gauge gauge = 5;
    Sum sum = 7;
    Histogram histogram = 9;
  }
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 time_unix_nano = 3;
  oneof value {
    double as_double = 4;
    sfixed64 as_int = 6;
  }
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  optional double sum = 5;
}
`;

const requestType = protobuf.parse(SCHEMA, { keepCase: false }).root.lookupType('otlp.ExportMetricsServiceRequest');

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

/** The plain-object shape both protobufjs (toObject) and OTLP/JSON give, camelCase. */
interface AnyValueObject {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValueObject[] };
  kvlistValue?: { values?: KeyValueObject[] };
  bytesValue?: string;
}
interface KeyValueObject {
  key?: string;
  value?: AnyValueObject;
}
interface PointObject {
  attributes?: KeyValueObject[];
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
    resource?: { attributes?: KeyValueObject[] };
    scopeMetrics?: { scope?: { name?: string }; metrics?: MetricObject[] }[];
  }[];
}

function anyValue(value: AnyValueObject | undefined): AttributeValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(anyValue);
  if (value.kvlistValue) return attributes(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return null;
}

function attributes(list: KeyValueObject[] | undefined): Attributes {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key ?? '', anyValue(kv.value)]));
}

function flatten(request: RequestObject): ReceivedMetric[] {
  if (!Array.isArray(request.resourceMetrics)) throw new OtlpDecodeError('metrics export request without resourceMetrics');
  const out: ReceivedMetric[] = [];
  for (const rm of request.resourceMetrics) {
    const resource = attributes(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const metric of sm.metrics ?? []) {
        const kind = metric.histogram ? 'histogram' : metric.sum ? 'sum' : metric.gauge ? 'gauge' : undefined;
        if (!kind) continue;
        const points = (metric[kind]?.dataPoints ?? []).map((p): ReceivedMetricPoint => {
          if (kind === 'histogram') return { attributes: attributes(p.attributes), value: p.sum ?? 0, count: Number(p.count ?? 0) };
          return { attributes: attributes(p.attributes), value: p.asDouble ?? Number(p.asInt ?? 0) };
        });
        out.push({ name: metric.name ?? '', unit: metric.unit ?? '', kind, points, resource, scope: sm.scope?.name ?? '' });
      }
    }
  }
  return out;
}

export function decodeMetricsProtobuf(body: Uint8Array): ReceivedMetric[] {
  let message: protobuf.Message;
  try {
    message = requestType.decode(body);
  } catch (error) {
    throw new OtlpDecodeError(`malformed protobuf: ${error instanceof Error ? error.message : String(error)}`);
  }
  return flatten(requestType.toObject(message, { longs: String, bytes: String, arrays: true }));
}

export function decodeMetricsJson(request: unknown): ReceivedMetric[] {
  if (typeof request !== 'object' || request === null) throw new OtlpDecodeError('JSON export request is not an object');
  return flatten(request);
}
