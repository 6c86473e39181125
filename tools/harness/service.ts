import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { projectRoot } from '#common';
import { freePort } from '#db';
import { sleep, StopWaiting, until } from './clock.js';

/** One free-port helper for the whole repository (libs/db). */
export { freePort };

/** Every service this process started and that still runs: killed if the harness itself exits. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** An answer of the service; `body` is what the caller expects it to hold (tests read untyped JSON). */
export interface HttpAnswer<B = any> {
  readonly status: number;
  /** The parsed JSON body (the text when it is not JSON; undefined when empty). */
  readonly body: B;
}

export interface ServiceOptions {
  /** Extra arguments for node before the script (say, --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** Keep this much of the latest output in memory for `output()` (bytes; 0 = none). */
  readonly keepOutput?: number;
}

/**
 * The BUILT service (dist/apps/api/src/main.js) as a child process, the way production runs it:
 * started with an environment (APP_ROLE, DBOS_EXECUTOR_ID…; PATH and HOME are the only variables
 * inherited, LOG_LEVEL defaults to warn), its stdout and stderr appended to `logFile`, driven over
 * HTTP, stopped with SIGTERM or killed with SIGKILL.
 */
export class ServiceProcess {
  private process: ChildProcess | undefined;
  private exit: Promise<number | string> | undefined;
  private tail = '';
  boots = 0;

  constructor(
    readonly name: string,
    public port: number,
    private env: Record<string, string>,
    readonly logFile: string,
    private readonly options: ServiceOptions = {},
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

  /** The current (or last) process; throws before the first start. */
  get child(): ChildProcess {
    if (!this.process) throw new Error(`${this.name} was never started`);
    return this.process;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  get running(): boolean {
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The latest output kept in memory (see ServiceOptions.keepOutput). */
  output(): string {
    return this.tail;
  }

  /** Starts the process and waits (bounded) until GET /healthz answers 200. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    mkdirSync(dirname(this.logFile), { recursive: true });
    const log = createWriteStream(this.logFile, { flags: 'a' });
    this.boots += 1;
    log.write(`\n===== ${this.name} boot ${this.boots} at ${new Date().toISOString()} =====\n`);
    const child = spawn(process.execPath, [...(this.options.nodeArgs ?? []), join(projectRoot(), 'dist', 'apps', 'api', 'src', 'main.js')], {
      cwd: projectRoot(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = this.options.keepOutput ?? 0;
    const collect = (chunk: Buffer): void => {
      log.write(chunk);
      if (keep > 0) this.tail = (this.tail + chunk.toString('utf8')).slice(-keep);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.process = child;
    live.add(child);
    this.exit = new Promise((resolve) =>
      child.once('close', (code, signal) => {
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
        const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
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
    this.process!.kill('SIGKILL');
  }

  /** Resolves with the exit code (or signal) once the process is gone. */
  async exited(): Promise<number | string> {
    return this.exit ?? 'never started';
  }

  /** SIGTERM and wait (the graceful path); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.process!.kill('SIGTERM');
    const done = await Promise.race([this.exited(), sleep(timeoutMs).then(() => 'timeout' as const)]);
    if (done === 'timeout' && this.running) {
      this.process!.kill('SIGKILL');
      await this.exited();
    }
  }

  async request<B = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<B>> {
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
    return { status: response.status, body: parsed as B };
  }
}

/** Starts the built service on `port` (a free one by default), logging to e2e/artifacts/<name>.log, and waits for /healthz. */
export async function startService(name: string, env: Record<string, string>, port?: number): Promise<ServiceProcess> {
  const service = new ServiceProcess(name, port ?? (await freePort()), env, join(projectRoot(), 'e2e', 'artifacts', `${name}.log`));
  await service.start();
  return service;
}
