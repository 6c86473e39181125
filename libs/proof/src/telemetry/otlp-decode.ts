/**
 * Decoding of OTLP/HTTP export requests (traces and logs), protobuf and JSON, into one flat shape.
 * The protobuf side is a small wire-format reader over the fields of opentelemetry-proto v1 that a
 * check needs (trace/common/resource/logs); unknown fields are skipped, as protobuf requires.
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
// Protobuf wire format

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new OtlpDecodeError('truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new OtlpDecodeError('varint longer than 64 bits');
    }
  }

  int(): number {
    return Number(this.varint());
  }

  tag(): { field: number; wire: number } {
    const tag = this.int();
    return { field: tag >>> 3, wire: tag & 7 };
  }

  bytes(): Uint8Array {
    const length = this.int();
    if (this.pos + length > this.buf.length) throw new OtlpDecodeError('truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  fixed64(): bigint {
    if (this.pos + 8 > this.buf.length) throw new OtlpDecodeError('truncated fixed64');
    const value = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getBigUint64(0, true);
    this.pos += 8;
    return value;
  }

  double(): number {
    if (this.pos + 8 > this.buf.length) throw new OtlpDecodeError('truncated double');
    const value = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return value;
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_FIXED64) this.pos += 8;
    else if (wire === WIRE_LEN) this.bytes();
    else if (wire === WIRE_FIXED32) this.pos += 4;
    else throw new OtlpDecodeError(`unsupported wire type ${wire}`);
    if (this.pos > this.buf.length) throw new OtlpDecodeError('truncated field');
  }
}

const text = new TextDecoder('utf-8', { fatal: true });
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Calls `on(field, wire, reader)` for each field of a message; `on` returns false to skip it. */
function fields(buf: Uint8Array, on: (field: number, wire: number, reader: Reader) => boolean): void {
  const reader = new Reader(buf);
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (!on(field, wire, reader)) reader.skip(wire);
  }
}

function anyValue(buf: Uint8Array): AttributeValue {
  let value: AttributeValue = null;
  fields(buf, (field, wire, r) => {
    if (field === 1 && wire === WIRE_LEN) value = text.decode(r.bytes());
    else if (field === 2 && wire === WIRE_VARINT) value = r.varint() !== 0n;
    else if (field === 3 && wire === WIRE_VARINT) value = Number(BigInt.asIntN(64, r.varint()));
    else if (field === 4 && wire === WIRE_FIXED64) value = r.double();
    else if (field === 5 && wire === WIRE_LEN) {
      const items: AttributeValue[] = [];
      fields(r.bytes(), (f, w, inner) => (f === 1 && w === WIRE_LEN ? (items.push(anyValue(inner.bytes())), true) : false));
      value = items;
    } else if (field === 6 && wire === WIRE_LEN) {
      const map: Attributes = {};
      fields(r.bytes(), (f, w, inner) => (f === 1 && w === WIRE_LEN ? (keyValue(inner.bytes(), map), true) : false));
      value = map;
    } else if (field === 7 && wire === WIRE_LEN) value = hex(r.bytes());
    else return false;
    return true;
  });
  return value;
}

function keyValue(buf: Uint8Array, into: Attributes): void {
  let key = '';
  let value: AttributeValue = null;
  fields(buf, (field, wire, r) => {
    if (field === 1 && wire === WIRE_LEN) key = text.decode(r.bytes());
    else if (field === 2 && wire === WIRE_LEN) value = anyValue(r.bytes());
    else return false;
    return true;
  });
  into[key] = value;
}

/** Resource (attributes = 1) or InstrumentationScope (name = 1). */
function resourceAttributes(buf: Uint8Array): Attributes {
  const out: Attributes = {};
  fields(buf, (field, wire, r) => (field === 1 && wire === WIRE_LEN ? (keyValue(r.bytes(), out), true) : false));
  return out;
}

function scopeName(buf: Uint8Array): string {
  let name = '';
  fields(buf, (field, wire, r) => (field === 1 && wire === WIRE_LEN ? ((name = text.decode(r.bytes())), true) : false));
  return name;
}

/** ResourceSpans / ResourceLogs: resource = 1, scope_* = 2; ScopeSpans / ScopeLogs: scope = 1, items = 2. */
function walk<T>(buf: Uint8Array, item: (bytes: Uint8Array, resource: Attributes, scope: string) => T): T[] {
  const out: T[] = [];
  fields(buf, (field, wire, r) => {
    if (field !== 1 || wire !== WIRE_LEN) return false;
    let resource: Attributes = {};
    const scopes: Uint8Array[] = [];
    fields(r.bytes(), (f, w, rr) => {
      if (f === 1 && w === WIRE_LEN) resource = resourceAttributes(rr.bytes());
      else if (f === 2 && w === WIRE_LEN) scopes.push(rr.bytes());
      else return false;
      return true;
    });
    for (const scopeBytes of scopes) {
      let scope = '';
      const items: Uint8Array[] = [];
      fields(scopeBytes, (f, w, rr) => {
        if (f === 1 && w === WIRE_LEN) scope = scopeName(rr.bytes());
        else if (f === 2 && w === WIRE_LEN) items.push(rr.bytes());
        else return false;
        return true;
      });
      for (const bytes of items) out.push(item(bytes, resource, scope));
    }
    return true;
  });
  return out;
}

function protobufSpan(buf: Uint8Array, resource: Attributes, scope: string): ReceivedSpan {
  const span = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: {} as Attributes,
    status: { code: 0, message: '' },
    links: [] as { traceId: string; spanId: string; attributes: Attributes }[],
    resource,
    scope,
  };
  fields(buf, (field, wire, r) => {
    if (wire === WIRE_LEN && field === 1) span.traceId = hex(r.bytes());
    else if (wire === WIRE_LEN && field === 2) span.spanId = hex(r.bytes());
    else if (wire === WIRE_LEN && field === 4) span.parentSpanId = hex(r.bytes());
    else if (wire === WIRE_LEN && field === 5) span.name = text.decode(r.bytes());
    else if (wire === WIRE_VARINT && field === 6) span.kind = r.int();
    else if (wire === WIRE_FIXED64 && field === 7) span.startTimeUnixNano = r.fixed64();
    else if (wire === WIRE_FIXED64 && field === 8) span.endTimeUnixNano = r.fixed64();
    else if (wire === WIRE_LEN && field === 9) keyValue(r.bytes(), span.attributes);
    else if (wire === WIRE_LEN && field === 13) {
      const link = { traceId: '', spanId: '', attributes: {} as Attributes };
      fields(r.bytes(), (f, w, rr) => {
        if (w === WIRE_LEN && f === 1) link.traceId = hex(rr.bytes());
        else if (w === WIRE_LEN && f === 2) link.spanId = hex(rr.bytes());
        else if (w === WIRE_LEN && f === 4) keyValue(rr.bytes(), link.attributes);
        else return false;
        return true;
      });
      span.links.push(link);
    } else if (wire === WIRE_LEN && field === 15) {
      fields(r.bytes(), (f, w, rr) => {
        if (w === WIRE_LEN && f === 2) span.status.message = text.decode(rr.bytes());
        else if (w === WIRE_VARINT && f === 3) span.status.code = rr.int();
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return span;
}

function protobufLog(buf: Uint8Array, resource: Attributes, scope: string): ReceivedLog {
  const log = {
    timeUnixNano: 0n,
    severityNumber: 0,
    severityText: '',
    body: null as AttributeValue,
    attributes: {} as Attributes,
    traceId: '',
    spanId: '',
    resource,
    scope,
  };
  fields(buf, (field, wire, r) => {
    if (wire === WIRE_FIXED64 && field === 1) log.timeUnixNano = r.fixed64();
    else if (wire === WIRE_VARINT && field === 2) log.severityNumber = r.int();
    else if (wire === WIRE_LEN && field === 3) log.severityText = text.decode(r.bytes());
    else if (wire === WIRE_LEN && field === 5) log.body = anyValue(r.bytes());
    else if (wire === WIRE_LEN && field === 6) keyValue(r.bytes(), log.attributes);
    else if (wire === WIRE_LEN && field === 9) log.traceId = hex(r.bytes());
    else if (wire === WIRE_LEN && field === 10) log.spanId = hex(r.bytes());
    else return false;
    return true;
  });
  return log;
}

function guard<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof OtlpDecodeError) throw error;
    throw new OtlpDecodeError(`malformed ${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** An ExportTraceServiceRequest in protobuf. */
export function decodeTracesProtobuf(body: Uint8Array): ReceivedSpan[] {
  return guard('ExportTraceServiceRequest', () => walk(body, protobufSpan));
}

/** An ExportLogsServiceRequest in protobuf. */
export function decodeLogsProtobuf(body: Uint8Array): ReceivedLog[] {
  return guard('ExportLogsServiceRequest', () => walk(body, protobufLog));
}

// ---------------------------------------------------------------------------------------------
// JSON (OTLP/HTTP JSON: lowerCamelCase fields, hex IDs, 64-bit integers as strings)

type Json = Record<string, unknown>;
const obj = (value: unknown): Json => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {});
const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const str = (value: unknown): string => (typeof value === 'string' ? value : '');

function jsonAnyValue(value: unknown): AttributeValue {
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

function jsonAttributes(list: unknown): Attributes {
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

export function decodeTracesJson(request: unknown): ReceivedSpan[] {
  return jsonWalk(request, 'resourceSpans', 'scopeSpans', 'spans', (s, resource, scope) => ({
    traceId: str(s['traceId']).toLowerCase(),
    spanId: str(s['spanId']).toLowerCase(),
    parentSpanId: str(s['parentSpanId']).toLowerCase(),
    name: str(s['name']),
    kind: Number(s['kind'] ?? 0),
    startTimeUnixNano: nanos(s['startTimeUnixNano']),
    endTimeUnixNano: nanos(s['endTimeUnixNano']),
    attributes: jsonAttributes(s['attributes']),
    status: { code: Number(obj(s['status'])['code'] ?? 0), message: str(obj(s['status'])['message']) },
    links: arr(s['links']).map((l) => ({
      traceId: str(obj(l)['traceId']).toLowerCase(),
      spanId: str(obj(l)['spanId']).toLowerCase(),
      attributes: jsonAttributes(obj(l)['attributes']),
    })),
    resource,
    scope,
  }));
}

export function decodeLogsJson(request: unknown): ReceivedLog[] {
  return jsonWalk(request, 'resourceLogs', 'scopeLogs', 'logRecords', (l, resource, scope) => ({
    timeUnixNano: nanos(l['timeUnixNano']),
    severityNumber: Number(l['severityNumber'] ?? 0),
    severityText: str(l['severityText']),
    body: jsonAnyValue(l['body']),
    attributes: jsonAttributes(l['attributes']),
    traceId: str(l['traceId']).toLowerCase(),
    spanId: str(l['spanId']).toLowerCase(),
    resource,
    scope,
  }));
}
