import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback stand-in for an external system: counts every POST per `Idempotency-Key` and answers
 * 200 at once, except requests `hold` picks: those stay open until `release()` (or until the client
 * goes away), so a test can act while one effect is in flight.
 */
export class EffectCounter {
  /** Requests received per Idempotency-Key. */
  readonly counts = new Map<string, number>();
  /** Keys in arrival order, one entry per request. */
  readonly arrivals: string[] = [];
  /** Which requests to hold open: called with the key and how many times it has now been seen. */
  hold: ((key: string, seen: number) => boolean) | undefined;
  private held: { key: string; response: ServerResponse }[] = [];
  private heldWaiters: ((key: string) => void)[] = [];
  private server: Server | undefined;
  private port = 0;

  get prefix(): string {
    return `http://127.0.0.1:${this.port}/effects`;
  }

  url(path: string): string {
    return `${this.prefix}/${path}`;
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  get total(): number {
    return this.arrivals.length;
  }

  async start(): Promise<this> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Resolves with the key of the next request held (or one already held and not yet awaited). */
  nextHeld(): Promise<string> {
    const waiting = this.held.at(-1);
    if (waiting && !this.awaited.has(waiting.response)) {
      this.awaited.add(waiting.response);
      return Promise.resolve(waiting.key);
    }
    return new Promise((resolve) => this.heldWaiters.push(resolve));
  }
  private readonly awaited = new WeakSet<ServerResponse>();

  /** Answers every held request 200 (those whose client is gone are dropped). */
  release(): void {
    const held = this.held;
    this.held = [];
    for (const { key, response } of held) this.answer(key, response);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.hold = undefined;
    this.release();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    for await (const chunk of request) void chunk;
    const key = request.headers['idempotency-key'];
    if (request.method !== 'POST' || typeof key !== 'string' || key === '') {
      response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad effect request"}');
      return;
    }
    const seen = this.count(key) + 1;
    this.counts.set(key, seen);
    this.arrivals.push(key);
    if (this.hold?.(key, seen)) {
      this.held.push({ key, response });
      const waiter = this.heldWaiters.shift();
      if (waiter) {
        this.awaited.add(response);
        waiter(key);
      }
      return;
    }
    this.answer(key, response);
  }

  private answer(key: string, response: ServerResponse): void {
    if (response.destroyed || response.socket?.destroyed) return;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: true, key }));
  }
}
