import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep } from './harness.js';
import { openLoop } from './open-loop.js';

/** A loopback server that answers POSTs after `delayMs` (Infinity: never) with the body it was sent, and /healthz at once. */
async function slowServer(delayMs: number): Promise<{ url: string; close: () => Promise<void>; posts: () => number }> {
  let posts = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/healthz') return void res.end('ok');
      posts++;
      if (Number.isFinite(delayMs)) void sleep(delayMs).then(() => res.writeHead(202).end(Buffer.concat(chunks)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/work`,
    posts: () => posts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('openLoop', () => {
  it('sends every request when it is due and answers each with its body and status', async () => {
    const server = await slowServer(5);
    try {
      const result = await openLoop({ url: server.url, method: 'POST', headers: {}, body: '{"n":1}', rate: 100, amount: 20, connections: 4, timeoutMs: 5000 });
      expect(result.errors).toBe(0);
      expect(server.posts()).toBe(20);
      expect(result.answers.every((a) => a.status === 202 && a.body === '{"n":1}')).toBe(true);
      const due = result.answers.map((a) => a.dueMs).sort((a, b) => a - b);
      expect(due).toEqual(Array.from({ length: 20 }, (_, i) => i * 10));
      // Paced, not a burst: request i goes out no earlier than it is due.
      expect(result.answers.every((a) => a.sentMs >= a.dueMs - 1)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('counts latency from when a request was due, so waiting for a busy connection counts too', async () => {
    // One connection, answers take 50 ms, a request is due every 10 ms: each waits for the ones before it.
    const server = await slowServer(50);
    try {
      const result = await openLoop({ url: server.url, method: 'POST', headers: {}, body: 'x', rate: 100, amount: 10, connections: 1, timeoutMs: 5000 });
      const byDue = [...result.answers].sort((a, b) => a.dueMs - b.dueMs);
      const fromDue = byDue.map((a) => a.answeredMs - a.dueMs);
      const fromSent = byDue.map((a) => a.answeredMs - a.sentMs);
      // The last request was due at 90 ms and answered after the nine before it: ≥ 10 × 50 − 90 ms.
      expect(fromDue.at(-1)!).toBeGreaterThanOrEqual(10 * 50 - 90 - 5);
      // Timed from when it went out, each one looks like a single 50 ms answer.
      expect(Math.max(...fromSent)).toBeLessThan(200);
    } finally {
      await server.close();
    }
  });

  it('counts a request that gets no answer as an error', async () => {
    const server = await slowServer(Number.POSITIVE_INFINITY);
    try {
      const result = await openLoop({ url: server.url, method: 'POST', headers: {}, body: 'x', rate: 10, amount: 2, connections: 2, timeoutMs: 100 });
      expect(result.errors).toBe(2);
      expect(result.answers).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
