import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '#common';
import { waitFor } from '../../test/support/wait.js';
import { freePort } from '#db';

/** One free-port helper for the whole repository (libs/db). */
export { freePort };

export interface ServiceProcess {
  readonly baseUrl: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited(): Promise<number | string>;
}

/** Starts the built service (dist/) as a separate process and waits for /healthz to answer 200. */
export async function startService(name: string, env: Record<string, string>, port?: number): Promise<ServiceProcess> {
  const root = projectRoot();
  const listenPort = port ?? (await freePort());
  mkdirSync(join(root, 'e2e', 'artifacts'), { recursive: true });
  const logFile = join(root, 'e2e', 'artifacts', `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [join(root, 'dist', 'apps', 'api', 'src', 'main.js')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env, PORT: String(listenPort), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exit = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const baseUrl = `http://127.0.0.1:${listenPort}`;
  const service: ServiceProcess = {
    baseUrl,
    child,
    logFile,
    async request(method, path, body, headers = {}) {
      const response = await fetch(baseUrl + path, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
    },
    exited: () => exit,
  };
  let gone = false;
  void exit.then(() => (gone = true));
  await waitFor(
    `${name} /healthz (log: ${logFile})`,
    async () => {
      if (gone) throw new Error(`${name} exited during boot; see ${logFile}`);
      const res = await fetch(`${baseUrl}/healthz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    },
    60_000,
    200,
  );
  return service;
}
