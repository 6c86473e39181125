import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '#common';

/** The built ops CLI, as an on-call engineer runs it. */
export const OPS_CLI = join(projectRoot(), 'dist', 'apps', 'ops-cli', 'src', 'main.js');

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <script> …args` in the project root with `env` (nothing inherited), `stdin` written and closed; resolves once it has closed. */
export function runScript(script: string, args: readonly string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: projectRoot(), env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** The environment the ops CLI gets in tests: this process's, on `databaseUrl`, with the operator defaults a shell may carry removed. */
export function cliEnv(databaseUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'error', ...extra };
  for (const name of ['OPS_ACTOR', 'OPS_REASON', 'DBOS_SYSTEM_DATABASE_URL', 'DBOS_EXECUTOR_ID']) if (!(name in extra)) delete env[name];
  return env;
}
