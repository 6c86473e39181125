import protobuf from 'protobufjs';

/**
 * Decoding of OTLP/HTTP export requests (traces, logs, metrics), protobuf and JSON, into one flat
 * shape. Protobuf bodies are decoded by protobufjs against the part of opentelemetry-proto v1
 * (collector/*, trace, logs, metrics, common, resource) that a check reads: SCHEMA below declares
 * those fields with their numbers; protobufjs skips the others, as protobuf requires. The decoded
 * message is turned into the OTLP/JSON shape (lowerCamelCase, 64-bit integers as strings), so one
 * mapping serves both encodings.
 */

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly attributes: Attributes;
  /** 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message: string };
  readonly links: readonly { readonly traceId: string; readonly spanId: string; readonly attributes: Attributes }[];
  readonly resource: Attributes;
  readonly scope: string;
}

export interface ReceivedLog {
  readonly timeUnixNano: bigint;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: AttributeValue;
  readonly attributes: Attributes;
  /** Empty when the record was written outside any span. */
  readonly traceId: string;
  readonly spanId: string;
  readonly resource: Attributes;
  readonly scope: string;
}

export class OtlpDecodeError extends Error {
  override readonly name = 'OtlpDecodeError';
}

// ---------------------------------------------------------------------------------------------
// Protobuf (protobufjs)

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

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  repeated Link links = 13;
  Status status = 15;
}
message Link { bytes trace_id = 1; bytes span_id = 2; repeated KeyValue attributes = 4; }
message Status { string message = 2; int32 code = 3; }

message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; }
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; }
message LogRecord {
  fixed64 time_unix_nano = 1;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  bytes trace_id = 9;
  bytes span_id = 10;
}

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

const root = protobuf.parse(SCHEMA).root;

export type ExportRequestType = 'ExportTraceServiceRequest' | 'ExportLogsServiceRequest' | 'ExportMetricsServiceRequest';

/**
 * A protobuf export request as the equivalent OTLP/JSON object, except that byte fields (IDs
 * included) are base64 rather than hex: {@link ProtobufIds} says so to the mapping.
 */
export function decodeProtobufRequest(type: ExportRequestType, body: Uint8Array): unknown {
  const message = root.lookupType(`otlp.${type}`);
  try {
    return message.toObject(message.decode(body), { longs: String, bytes: String, arrays: true });
  } catch (error) {
    throw new OtlpDecodeError(`malformed ${type}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** How trace and span IDs are written: hex in OTLP/JSON, base64 after {@link decodeProtobufRequest}. */
type IdEncoding = 'hex' | 'base64';

// ---------------------------------------------------------------------------------------------
// The OTLP/JSON shape (lowerCamelCase fields, 64-bit integers as strings), from either encoding

type Json = Record<string, unknown>;
const obj = (value: unknown): Json => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {});
const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const str = (value: unknown): string => (typeof value === 'string' ? value : '');

export function jsonAnyValue(value: unknown): AttributeValue {
  const v = obj(value);
  if ('stringValue' in v) return str(v['stringValue']);
  if ('boolValue' in v) return v['boolValue'] === true;
  if ('intValue' in v) return Number(v['intValue']);
  if ('doubleValue' in v) return Number(v['doubleValue']);
  if ('arrayValue' in v) return arr(obj(v['arrayValue'])['values']).map(jsonAnyValue);
  if ('kvlistValue' in v) return jsonAttributes(obj(v['kvlistValue'])['values']);
  if ('bytesValue' in v) return Buffer.from(str(v['bytesValue']), 'base64').toString('hex');
  return null;
}

export function jsonAttributes(list: unknown): Attributes {
  const out: Attributes = {};
  for (const kv of arr(list)) out[str(obj(kv)['key'])] = jsonAnyValue(obj(kv)['value']);
  return out;
}

function jsonWalk<T>(request: unknown, top: string, scopes: string, items: string, item: (value: Json, resource: Attributes, scope: string) => T): T[] {
  const root = obj(request);
  if (!Array.isArray(root[top])) throw new OtlpDecodeError(`JSON export request without ${top}`);
  return arr(root[top]).flatMap((rs) => {
    const resource = jsonAttributes(obj(obj(rs)['resource'])['attributes']);
    return arr(obj(rs)[scopes]).flatMap((ss) => {
      const scope = str(obj(obj(ss)['scope'])['name']);
      return arr(obj(ss)[items]).map((value) => item(obj(value), resource, scope));
    });
  });
}

const nanos = (value: unknown): bigint => {
  try {
    return BigInt(typeof value === 'number' || typeof value === 'string' ? value : 0);
  } catch {
    return 0n;
  }
};

const idOf = (value: unknown, encoding: IdEncoding): string =>
  encoding === 'hex' ? str(value).toLowerCase() : Buffer.from(str(value), 'base64').toString('hex');

function spans(request: unknown, ids: IdEncoding): ReceivedSpan[] {
  return jsonWalk(request, 'resourceSpans', 'scopeSpans', 'spans', (s, resource, scope) => ({
    traceId: idOf(s['traceId'], ids),
    spanId: idOf(s['spanId'], ids),
    parentSpanId: idOf(s['parentSpanId'], ids),
    name: str(s['name']),
    kind: Number(s['kind'] ?? 0),
    startTimeUnixNano: nanos(s['startTimeUnixNano']),
    endTimeUnixNano: nanos(s['endTimeUnixNano']),
    attributes: jsonAttributes(s['attributes']),
    status: { code: Number(obj(s['status'])['code'] ?? 0), message: str(obj(s['status'])['message']) },
    links: arr(s['links']).map((l) => ({
      traceId: idOf(obj(l)['traceId'], ids),
      spanId: idOf(obj(l)['spanId'], ids),
      attributes: jsonAttributes(obj(l)['attributes']),
    })),
    resource,
    scope,
  }));
}

function logs(request: unknown, ids: IdEncoding): ReceivedLog[] {
  return jsonWalk(request, 'resourceLogs', 'scopeLogs', 'logRecords', (l, resource, scope) => ({
    timeUnixNano: nanos(l['timeUnixNano']),
    severityNumber: Number(l['severityNumber'] ?? 0),
    severityText: str(l['severityText']),
    body: jsonAnyValue(l['body']),
    attributes: jsonAttributes(l['attributes']),
    traceId: idOf(l['traceId'], ids),
    spanId: idOf(l['spanId'], ids),
    resource,
    scope,
  }));
}

/** An ExportTraceServiceRequest in protobuf. */
export function decodeTracesProtobuf(body: Uint8Array): ReceivedSpan[] {
  return spans(decodeProtobufRequest('ExportTraceServiceRequest', body), 'base64');
}

/** An ExportLogsServiceRequest in protobuf. */
export function decodeLogsProtobuf(body: Uint8Array): ReceivedLog[] {
  return logs(decodeProtobufRequest('ExportLogsServiceRequest', body), 'base64');
}

/** An ExportTraceServiceRequest in OTLP/JSON. */
export function decodeTracesJson(request: unknown): ReceivedSpan[] {
  return spans(request, 'hex');
}

/** An ExportLogsServiceRequest in OTLP/JSON. */
export function decodeLogsJson(request: unknown): ReceivedLog[] {
  return logs(request, 'hex');
}
