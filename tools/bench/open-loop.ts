import http from 'node:http';
import { sleep } from './harness.js';

export interface OpenLoopOptions {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Requests per second, spread evenly: request i is due at i / rate seconds. */
  readonly rate: number;
  readonly amount: number;
  /** Keep-alive sockets, so at most this many requests in flight; a due request waits for one. */
  readonly connections: number;
  readonly timeoutMs: number;
}

/** One request, its times in ms after the first request was due. */
export interface Answer {
  /** When it was due (i / rate). */
  readonly dueMs: number;
  /** When it got a socket and went out (later than due when every socket was busy, or the generator lagged). */
  readonly sentMs: number;
  readonly answeredMs: number;
  readonly status: number;
  readonly body: string;
}

export interface OpenLoopResult {
  readonly answers: readonly Answer[];
  /** Requests that failed without an HTTP answer (connection error, timeout). */
  readonly errors: number;
}

/**
 * An open-loop load generator: request i is due at i / rate seconds, whatever happened to the ones
 * before it, and its latency counts from when it was due. A slow answer that keeps a socket busy
 * therefore counts in full for the requests queued behind it, with no coordinated omission and no
 * correction needed. (autocannon's `overallRate` is a per-second quota: each connection sends back to
 * back until it has made its share of the second, so a "paced" run is a closed-loop burst at the top
 * of every second.) The sockets are opened before the first request is due.
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const url = new URL(options.url);
  try {
    await Promise.all(Array.from({ length: options.connections }, () => request(agent, { ...options, url: `${url.origin}/healthz`, method: 'GET' }, 0, 0)));
    const t0 = performance.now();
    const answers: Answer[] = [];
    let errors = 0;
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < options.amount; i++) {
      const dueMs = (i * 1000) / options.rate;
      // Never early: a timer may fire up to a millisecond before its (whole-millisecond) delay.
      let wait: number;
      while ((wait = dueMs - (performance.now() - t0)) > 0) await sleep(wait);
      inFlight.push(
        request(agent, options, t0, dueMs).then(
          (answer) => void answers.push(answer),
          () => void errors++,
        ),
      );
    }
    await Promise.all(inFlight);
    return { answers, errors };
  } finally {
    agent.destroy();
  }
}

function request(agent: http.Agent, options: OpenLoopOptions, t0: number, dueMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let sentMs = dueMs;
    const req = http.request(
      options.url,
      {
        agent,
        method: options.method,
        headers: { ...options.headers, ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}) },
        timeout: options.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ dueMs, sentMs, answeredMs: performance.now() - t0, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('socket', () => (sentMs = performance.now() - t0));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
