import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '#common';

const main = join(projectRoot(), 'dist', 'apps', 'api', 'src', 'main.js');
const CLIENT = 'app:client:a-long-enough-client-token';
const OPERATOR = 'alice:operator:a-long-enough-operator-token';

/** Boots the built service with only `env` (plus PATH): its exit code and what it printed. */
function boot(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Every refusal the README promises, through the real entry point: a non-zero exit and one line on
 * stderr naming the variable, before anything else starts (no database is needed to see it).
 */
describe('the service refuses a bad configuration at boot', () => {
  it.each([
    ['production without any token', { NODE_ENV: 'production' }, 'API_TOKENS must list a client token'],
    ['production with control-plane tokens only (the old setup)', { NODE_ENV: 'production', OPS_API_TOKENS: OPERATOR }, 'API_TOKENS must list a client token'],
    ['production with client tokens only', { NODE_ENV: 'production', API_TOKENS: CLIENT }, 'API_TOKENS must list a viewer or operator token'],
    ['a short token', { API_TOKENS: 'app:client:short' }, 'API_TOKENS entry 1: token must be at least 16 characters'],
    ['an unknown role', { API_TOKENS: 'app:admin:a-long-enough-client-token' }, 'API_TOKENS entry 1: role must be one of client|viewer|operator'],
    ['a malformed entry', { OPS_API_TOKENS: 'alice-operator' }, 'OPS_API_TOKENS must be principal:role:token'],
    ['a token listed twice', { API_TOKENS: CLIENT, OPS_API_TOKENS: 'bob:operator:a-long-enough-client-token' }, 'API_TOKENS the same token is listed twice'],
    ['a principal under two roles', { API_TOKENS: `${CLIENT},app:operator:another-long-enough-token` }, 'API_TOKENS principal app is listed as both'],
    ['a bad port', { PORT: 'abc' }, 'PORT must be a port number'],
    ['a body limit above 1mb', { BODY_LIMIT: '2mb' }, 'BODY_LIMIT must be at most 1mb'],
  ])('%s', (_what, env, message) => {
    const { status, stdout, stderr } = boot(env);
    expect(status).not.toBe(0);
    expect(status).not.toBeNull();
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toEqual([expect.stringContaining(`Invalid configuration: ${message}`) as string]);
    expect(stderr).not.toContain('a-long-enough');
  });
});
