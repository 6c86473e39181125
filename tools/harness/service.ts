import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { projectRoot } from '#common';
import { sleep, StopWaiting, until } from './clock.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Every service this process started and that still runs: killed if the harness itself exits. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface HttpAnswer {
  readonly status: number;
  /** The parsed JSON body (the text when it is not JSON). */
  readonly body: unknown;
}

/**
 * The BUILT service (dist/apps/api/src/main.js) as a child process, the way production runs it:
 * started with an environment, driven over HTTP, killed with SIGKILL (no shutdown hooks run).
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<number | string> | undefined;
  boots = 0;

  constructor(
    readonly name: string,
    public port: number,
    private env: Record<string, string>,
    readonly logFile: string,
  ) {}

  /** The executor ID the next boot runs under. */
  get executorId(): string {
    return this.env.DBOS_EXECUTOR_ID ?? '';
  }

  /** The next boot comes back as another process would: a new port and a new executor ID. */
  assumeIdentity(port: number, executorId: string): void {
    if (this.running) throw new Error(`${this.name} is running`);
    this.port = port;
    this.env = { ...this.env, DBOS_EXECUTOR_ID: executorId };
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and waits (bounded) until GET /healthz answers 200. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    mkdirSync(dirname(this.logFile), { recursive: true });
    const log = createWriteStream(this.logFile, { flags: 'a' });
    this.boots += 1;
    log.write(`\n===== ${this.name} boot ${this.boots} at ${new Date().toISOString()} =====\n`);
    const child = spawn(process.execPath, [join(projectRoot(), 'dist', 'apps', 'api', 'src', 'main.js')], {
      cwd: projectRoot(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.child = child;
    live.add(child);
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        log.end();
        resolve(code ?? signal ?? 'unknown');
      }),
    );
    await until(
      `${this.name} /healthz (log: ${this.logFile})`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new StopWaiting(`${this.name} exited during boot (${child.exitCode ?? child.signalCode}); see ${this.logFile}`);
        const res = await fetch(`${this.baseUrl}/healthz`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      timeoutMs,
      50,
    ).catch((error: unknown) => {
      if (this.running) child.kill('SIGKILL');
      throw error;
    });
  }

  /** kill -9, synchronously sent; `exited()` resolves once the process is gone. */
  kill9(): void {
    if (!this.running) throw new Error(`${this.name} is not running`);
    this.child!.kill('SIGKILL');
  }

  async exited(): Promise<number | string> {
    return this.exit ?? 'never started';
  }

  /** SIGTERM and wait (the graceful path); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGTERM');
    const done = await Promise.race([this.exited(), sleep(timeoutMs).then(() => 'timeout' as const)]);
    if (done === 'timeout' && this.running) {
      this.child!.kill('SIGKILL');
      await this.exited();
    }
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the text
    }
    return { status: response.status, body: parsed };
  }
}
