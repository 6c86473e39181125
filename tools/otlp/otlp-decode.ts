import { join } from 'node:path';
import protobuf from 'protobufjs';
import { projectRoot } from '#common';

/**
 * Decoding of OTLP/HTTP export requests (traces, logs, metrics), protobuf and JSON, into one flat
 * shape. Protobuf bodies are decoded by protobufjs against otlp.proto (beside this file): the part
 * of opentelemetry-proto v1 that a check reads, with the upstream field numbers. The decoded
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

const root = protobuf.loadSync(join(projectRoot(), 'tools', 'otlp', 'otlp.proto'));

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
