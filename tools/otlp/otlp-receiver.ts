import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { decodeLogsJson, decodeLogsProtobuf, decodeTracesJson, decodeTracesProtobuf, type ReceivedLog, type ReceivedSpan } from './otlp-decode.js';
import { decodeMetricsJson, decodeMetricsProtobuf, type ReceivedMetric } from './otlp-metrics.js';

/**
 * A loopback OTLP/HTTP receiver (protobuf and JSON; gzip/deflate bodies) that keeps what it is
 * sent: POST /v1/traces, /v1/logs and /v1/metrics. For otlp:smoke and tests: point
 * OTEL_EXPORTER_OTLP_ENDPOINT at `url` and read `spans` / `logs` / `metrics`.
 */
export interface OtlpReceiver {
  /** Base URL (http://127.0.0.1:PORT): what OTEL_EXPORTER_OTLP_ENDPOINT takes. */
  readonly url: string;
  readonly spans: readonly ReceivedSpan[];
  readonly logs: readonly ReceivedLog[];
  /** Every metric of every export, in arrival order (cumulative: the last one per name is current). */
  readonly metrics: readonly ReceivedMetric[];
  /** Requests that could not be decoded (answered 400), one line each. */
  readonly errors: readonly string[];
  /** Export requests accepted, per signal. */
  readonly exports: { readonly traces: number; readonly logs: number; readonly metrics: number };
  /**
   * Resolves with `check()`'s first defined value, re-checked after every export received; rejects
   * after `timeoutMs` (naming `what`), or with what `check` throws.
   */
  waitFor<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T>;
  close(): Promise<void>;
}

export interface OtlpReceiverOptions {
  readonly host?: string;
  /** 0 (default): a free port. */
  readonly port?: number;
  /** Largest accepted (decompressed) body; default 16 MiB. */
  readonly maxBodyBytes?: number;
}

const PROTOBUF = 'application/x-protobuf';

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new RangeError(`body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding === 'gzip') return gunzipSync(raw, { maxOutputLength: limit });
  if (encoding === 'deflate') return inflateSync(raw, { maxOutputLength: limit });
  if (encoding !== 'identity') throw new TypeError(`unsupported content-encoding ${encoding}`);
  return raw;
}

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const logs: ReceivedLog[] = [];
  const metrics: ReceivedMetric[] = [];
  const errors: string[] = [];
  const exports = { traces: 0, logs: 0, metrics: 0 };
  const listeners = new Set<() => void>();
  const limit = options.maxBodyBytes ?? 16 * 1024 * 1024;

  const answer = (res: ServerResponse, status: number, json: boolean, payload?: object): void => {
    const bodyOut = json ? Buffer.from(JSON.stringify(payload ?? {})) : Buffer.alloc(0);
    res.writeHead(status, { 'content-type': json ? 'application/json' : PROTOBUF, 'content-length': bodyOut.length });
    res.end(bodyOut);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    const signal = path === '/v1/traces' ? 'traces' : path === '/v1/logs' ? 'logs' : path === '/v1/metrics' ? 'metrics' : undefined;
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const json = type === 'application/json';
    if (!signal) return answer(res, 404, true, { error: `no OTLP signal at ${path}` });
    if (req.method !== 'POST') return answer(res, 405, true, { error: 'POST only' });
    if (!json && type !== PROTOBUF) return answer(res, 415, true, { error: `content-type must be ${PROTOBUF} or application/json` });
    try {
      const body = await readBody(req, limit);
      if (signal === 'traces') {
        const decoded = json ? decodeTracesJson(JSON.parse(body.toString('utf8'))) : decodeTracesProtobuf(body);
        spans.push(...decoded);
        exports.traces++;
      } else if (signal === 'logs') {
        const decoded = json ? decodeLogsJson(JSON.parse(body.toString('utf8'))) : decodeLogsProtobuf(body);
        logs.push(...decoded);
        exports.logs++;
      } else {
        const decoded = json ? decodeMetricsJson(JSON.parse(body.toString('utf8'))) : decodeMetricsProtobuf(body);
        metrics.push(...decoded);
        exports.metrics++;
      }
    } catch (error) {
      const message = `${req.method} ${path} (${type}): ${error instanceof Error ? error.message : String(error)}`;
      errors.push(message);
      return answer(res, 400, json, json ? { error: message } : undefined);
    }
    answer(res, 200, json, {});
    for (const listener of [...listeners]) listener();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      errors.push(String(error));
      if (!res.headersSent) answer(res, 500, true, { error: 'internal' });
    });
  });
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    spans,
    logs,
    metrics,
    errors,
    exports,
    waitFor<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        // A bounded wait of a test harness, not application time: the deadline is an AbortSignal.
        const deadline = AbortSignal.timeout(timeoutMs);
        const done = (): void => {
          listeners.delete(attempt);
          deadline.removeEventListener('abort', expire);
        };
        const attempt = (): void => {
          let value: T | undefined;
          try {
            value = check();
          } catch (error) {
            done();
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          if (value === undefined) return;
          done();
          resolve(value);
        };
        const expire = (): void => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        };
        deadline.addEventListener('abort', expire, { once: true });
        listeners.add(attempt);
        attempt();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
