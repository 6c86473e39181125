import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep } from '../harness/index.js';
import type { Prng } from './prng.js';

/** What the effect server saw of one task key (one external effect). */
export interface KeyRecord {
  readonly key: string;
  /** The path of the first request, e.g. /effects/batch/r3-i7-t2. */
  readonly path: string;
  /** The JSON body of the first request. */
  readonly body: unknown;
  /** Requests received, in total and per epoch (epoch n = after the n-th crash). */
  requests: number;
  readonly byEpoch: number[];
  /** 2xx answers written (the client may have died before reading one). */
  succeeded: number;
  /** 503 answers written (injected transient faults). */
  faulted: number;
  /** True when this key's first request is answered 503 (decided when it is first seen). */
  readonly failFirst: boolean;
  /** The request bodies differ: the same key carried two different effects. */
  bodyMismatch: boolean;
  /** Every request of this key in arrival order: its server-wide sequence number and epoch. */
  readonly arrivals: Arrival[];
}

export interface Arrival {
  readonly seq: number;
  /** The epoch it was sent in: the one it was read in, or the one before for a killed process's late request (see lateArrivalMs). */
  epoch: number;
  /** When this server read it (Date.now()). */
  readonly at: number;
}

export interface EffectServerOptions {
  /** Latencies and faults are drawn from it. */
  readonly rng: Prng;
  readonly minLatencyMs: number;
  readonly maxLatencyMs: number;
  /** Probability that a key's first request is answered 503 (only paths under faultablePrefix). */
  readonly faultRate: number;
  /** Default /effects/batch/. */
  readonly faultablePrefix?: string;
  /**
   * A request the killed process wrote just before the kill can be read here only after the harness
   * declared the crash (it sat in the socket's buffer, or its body had not been read yet). A request
   * read at most this long after a crash, and never answered because its client was gone, was sent
   * before the crash: it counts in the epoch before. No process booted after a kill sends within this
   * time, and a live one's requests are answered. Default 1000 ms.
   */
  readonly lateArrivalMs?: number;
}

export interface RequestSeen {
  readonly key: string;
  readonly record: KeyRecord;
  readonly distinctKeys: number;
  readonly inFlight: number;
}

/**
 * A loopback HTTP server standing in for an external system that honours `Idempotency-Key`: it
 * counts every request per key, answers slowly (so a run is inside ExecuteST for a while) and can
 * fail a key's first request with a 503 (a transient error the service must retry). Repeated keys
 * get the same answer, as a real idempotent API would give.
 */
export class EffectServer {
  readonly keys = new Map<string, KeyRecord>();
  /** Requests without an Idempotency-Key, or not POSTed under /effects/: the connector broke its contract. */
  readonly anomalies: string[] = [];
  inFlight = 0;
  /** The keys being answered right now (key → path). */
  readonly inFlightKeys = new Map<string, string>();
  totalRequests = 0;
  /** Incremented by the harness at each kill, so requests are attributed to before/after it. */
  epoch = 0;
  /** When each crash was declared: crashedAt[n] for epoch n (n ≥ 1). */
  private readonly crashedAt: number[] = [];
  /** Called synchronously as each request arrives (after it is counted): the kill trigger hangs here. */
  onRequest: ((seen: RequestSeen) => void) | undefined;
  private server: Server | undefined;
  private port = 0;

  constructor(private readonly options: EffectServerOptions) {}

  /** The URL prefix to allow-list: http://127.0.0.1:<port>/effects */
  get prefix(): string {
    return `http://127.0.0.1:${this.port}/effects`;
  }

  url(path: string): string {
    return `${this.prefix}/${path}`;
  }

  async start(): Promise<this> {
    this.server = createServer((request, response) => void this.handle(request, response));
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Marks a crash: later requests count in the next epoch. */
  crashed(): void {
    this.epoch += 1;
    this.crashedAt[this.epoch] = Date.now();
  }

  /**
   * The effects a set of runs made beyond one per task, counted here rather than in the service's
   * tables: a key's requests minus the injected 503s it was answered (each of those is retried by
   * design). A run executes its tasks one at a time, so at a crash it has at most one task whose
   * outcome may not be durable yet: the last key it sent before the crash. Re-sending that one after
   * the crash is allowed (once per crash); re-sending any other key is an effect made twice.
   * `keysOfRun` maps each run to its planned keys. Returns the violations and the allowed re-sends.
   */
  effectBudget(keysOfRun: ReadonlyMap<string, readonly string[]>): { violations: string[]; resent: number } {
    const violations: string[] = [];
    let resent = 0;
    for (const [runId, keys] of keysOfRun) {
      const records = keys.map((key) => this.keys.get(key)).filter((r): r is KeyRecord => r !== undefined);
      /** The key this run sent last before crash `crash` (the one task whose outcome may not be durable). */
      const lastBefore = (crash: number): string | undefined => {
        let last: { key: string; seq: number } | undefined;
        for (const r of records) for (const a of r.arrivals) if (a.epoch < crash && (last === undefined || a.seq > last.seq)) last = { key: r.key, seq: a.seq };
        return last?.key;
      };
      for (const r of records) {
        // An injected 503 answers a key's first request only: that request made no effect.
        const made = r.arrivals.slice(r.faulted);
        let twice = 0;
        for (let i = 1; i < made.length; i++) {
          const [previous, arrival] = [made[i - 1]!, made[i]!];
          // A re-send is allowed when a crash came between the two sends and this was the run's task in flight then.
          let allowed = false;
          for (let crash = previous.epoch + 1; crash <= arrival.epoch && !allowed; crash++) allowed = lastBefore(crash) === r.key;
          if (allowed) resent += 1;
          else twice += 1;
        }
        if (twice > 0)
          violations.push(
            `run ${runId}: effect ${r.key} was made ${made.length} times (${r.requests} requests, ${r.faulted} answered 503; ` +
              `${twice} of the repeats ${twice === 1 ? 'was' : 'were'} not the task in flight at a crash)`,
          );
      }
    }
    return { violations, resent };
  }

  /** An unanswered request read just after a crash was sent by the killed process: it counts before the crash. */
  private sentBeforeCrash(record: KeyRecord, arrival: Arrival): void {
    const crashedAt = this.crashedAt[arrival.epoch];
    if (arrival.epoch === 0 || crashedAt === undefined || arrival.at - crashedAt > (this.options.lateArrivalMs ?? 1000)) return;
    record.byEpoch[arrival.epoch] = (record.byEpoch[arrival.epoch] ?? 1) - 1;
    arrival.epoch -= 1;
    record.byEpoch[arrival.epoch] = (record.byEpoch[arrival.epoch] ?? 0) + 1;
  }

  get distinctKeys(): number {
    return this.keys.size;
  }

  /** Keys requested in an epoch before `epoch` and again in `epoch` or later: effects re-sent after a crash. */
  resentAfter(epoch: number): KeyRecord[] {
    return [...this.keys.values()].filter((r) => r.byEpoch.slice(0, epoch).some((n) => n > 0) && r.byEpoch.slice(epoch).some((n) => n > 0));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const key = request.headers['idempotency-key'];
    const path = (request.url ?? '').split('?')[0] ?? '';
    if (request.method !== 'POST' || !path.startsWith('/effects/') || typeof key !== 'string' || key === '') {
      this.anomalies.push(`${request.method} ${path} idempotency-key=${String(key)}`);
      response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad effect request"}');
      return;
    }
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
    this.totalRequests += 1;
    let record = this.keys.get(key);
    if (!record) {
      const faultable = path.startsWith(this.options.faultablePrefix ?? '/effects/batch/');
      record = {
        key,
        path,
        body,
        requests: 0,
        byEpoch: [],
        succeeded: 0,
        faulted: 0,
        failFirst: faultable && this.options.rng.chance(this.options.faultRate),
        bodyMismatch: false,
        arrivals: [],
      };
      this.keys.set(key, record);
    } else if (record.path !== path || JSON.stringify(record.body) !== JSON.stringify(body)) {
      record.bodyMismatch = true;
    }
    record.requests += 1;
    const arrival: Arrival = { seq: this.totalRequests, epoch: this.epoch, at: Date.now() };
    record.arrivals.push(arrival);
    record.byEpoch[this.epoch] = (record.byEpoch[this.epoch] ?? 0) + 1;
    const first = record.requests === 1;
    this.inFlight += 1;
    this.inFlightKeys.set(key, path);
    try {
      this.onRequest?.({ key, record, distinctKeys: this.keys.size, inFlight: this.inFlight });
      await sleep(this.options.rng.int(this.options.minLatencyMs, this.options.maxLatencyMs));
    } finally {
      this.inFlight -= 1;
      this.inFlightKeys.delete(key);
    }
    // The service died while we were answering: nothing reaches it.
    if (request.socket.destroyed) {
      this.sentBeforeCrash(record, arrival);
      return;
    }
    if (first && record.failFirst) {
      record.faulted += 1;
      response.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"injected transient fault"}');
      return;
    }
    record.succeeded += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: true, key, path }));
  }
}
