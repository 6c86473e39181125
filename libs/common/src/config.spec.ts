import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError, loadConfig } from './config.js';

const ourVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The ConfigError a bad environment raises (fails the test if it loads). */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('has working defaults for an empty environment (embedded Postgres)', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      systemDatabaseUrl: undefined,
      embeddedPgPort: undefined,
      preparedStatements: true,
      appVersion: ourVersion,
      appRole: 'all',
      executorId: `${hostname()}:3000`,
      httpConnectorAllowlist: [],
      logLevel: 'info',
      executorSweepSchedule: '*/10 * * * * *',
      bodyLimit: '1mb',
      production: false,
    });
    expect(config.appVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ PORT: '  ', DATABASE_URL: '', APP_ROLE: ' ', LOG_LEVEL: '' })).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
      appRole: 'all',
      logLevel: 'info',
    });
  });

  it('reads every variable it knows', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://u:p@db:5432/app',
      DBOS_SYSTEM_DATABASE_URL: 'postgresql://u:p@db:5432/app_dbos_sys',
      EMBEDDED_PG_PORT: '54329',
      DATABASE_PREPARED_STATEMENTS: 'OFF',
      APP_VERSION: '1.2.3-rc.1+build_7',
      APP_ROLE: 'Worker',
      DBOS_EXECUTOR_ID: 'worker-a',
      LOG_LEVEL: 'DEBUG',
      BODY_LIMIT: '512kb',
      EXECUTOR_SWEEP_SCHEDULE: '*/2 * * * * *',
      NODE_ENV: 'development',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://u:p@db:5432/app',
      systemDatabaseUrl: 'postgresql://u:p@db:5432/app_dbos_sys',
      embeddedPgPort: 54329,
      preparedStatements: false,
      appVersion: '1.2.3-rc.1+build_7',
      appRole: 'worker',
      executorId: 'worker-a',
      logLevel: 'debug',
      bodyLimit: '512kb',
      executorSweepSchedule: '*/2 * * * * *',
      production: false,
    });
  });

  it('derives the executor id from host name and port', () => {
    expect(loadConfig({ PORT: '4000' }).executorId).toBe(`${hostname()}:4000`);
  });

  it('parses the http connector allowlist as a comma-separated list, trimmed', () => {
    expect(
      loadConfig({ HTTP_CONNECTOR_ALLOWLIST: 'https://api.example.com/v1/, http://127.0.0.1:8080/ ,https://b.example.org/' }).httpConnectorAllowlist,
    ).toEqual(['https://api.example.com/v1/', 'http://127.0.0.1:8080/', 'https://b.example.org/']);
    expect(loadConfig({ HTTP_CONNECTOR_ALLOWLIST: 'http://localhost:9000/' }).httpConnectorAllowlist).toEqual(['http://localhost:9000/']);
  });

  describe('rejects a bad environment with one line naming the variable', () => {
    it.each([
      ['PORT', { PORT: 'abc' }],
      ['PORT', { PORT: '70000' }],
      ['PORT', { PORT: '0' }],
      ['PORT', { PORT: '-1' }],
      ['PORT', { PORT: '80.5' }],
      ['EMBEDDED_PG_PORT', { EMBEDDED_PG_PORT: 'x' }],
      ['DATABASE_PREPARED_STATEMENTS', { DATABASE_PREPARED_STATEMENTS: 'yes' }],
      ['DATABASE_URL', { DATABASE_URL: 'mysql://x/y' }],
      ['DATABASE_URL', { DATABASE_URL: 'postgres://host' }],
      ['DATABASE_URL', { DATABASE_URL: 'postgres://host:5432/' }],
      ['DATABASE_URL', { DATABASE_URL: 'not a url' }],
      ['DBOS_SYSTEM_DATABASE_URL', { DATABASE_URL: 'postgres://h/app', DBOS_SYSTEM_DATABASE_URL: 'http://h/sys' }],
      ['DBOS_SYSTEM_DATABASE_URL', { DBOS_SYSTEM_DATABASE_URL: 'postgres://h/sys' }],
      ['APP_ROLE', { APP_ROLE: 'boss' }],
      ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
      ['HTTP_CONNECTOR_ALLOWLIST', { HTTP_CONNECTOR_ALLOWLIST: 'ftp://x' }],
      ['HTTP_CONNECTOR_ALLOWLIST', { HTTP_CONNECTOR_ALLOWLIST: 'https://ok.example.com/,nope' }],
      ['HTTP_CONNECTOR_ALLOWLIST', { HTTP_CONNECTOR_ALLOWLIST: 'https://user:pw@api.example.com/' }],
      ['HTTP_CONNECTOR_ALLOWLIST', { HTTP_CONNECTOR_ALLOWLIST: 'https://api.example.com/v1?key=1' }],
      ['HTTP_CONNECTOR_ALLOWLIST', { HTTP_CONNECTOR_ALLOWLIST: 'https://api.example.com/v1#top' }],
      ['HTTP_CONNECTOR_ALLOWLIST', { HTTP_CONNECTOR_ALLOWLIST: 'https://api.example.com/\nhttps://x/' }],
      ['APP_VERSION', { APP_VERSION: '1.0 beta' }],
      ['APP_VERSION', { APP_VERSION: 'v'.repeat(65) }],
      ['BODY_LIMIT', { BODY_LIMIT: 'lots' }],
      ['BODY_LIMIT', { BODY_LIMIT: '10gb' }],
      ['EXECUTOR_SWEEP_SCHEDULE', { EXECUTOR_SWEEP_SCHEDULE: '*/10 * * * *' }],
      ['BODY_LIMIT', { BODY_LIMIT: '2mb' }],
      ['BODY_LIMIT', { BODY_LIMIT: '1025kb' }],
    ])('%s in %j', (variable, env) => {
      const error = configError(env);
      expect(error.name).toBe('ConfigError');
      expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
      expect(error.message).not.toContain('\n');
    });

    it('says what it got and what it wants', () => {
      expect(configError({ PORT: 'abc' }).message).toBe('Invalid configuration: PORT must be a port number 1..65535 (got "abc")');
      expect(configError({ APP_ROLE: 'boss' }).message).toBe('Invalid configuration: APP_ROLE must be one of all|api|worker (got "boss")');
      expect(configError({ LOG_LEVEL: 'loud' }).message).toContain('error|warn|info|debug');
      expect(configError({ DATABASE_URL: 'postgres://host' }).message).toContain('must name a database');
      expect(configError({ HTTP_CONNECTOR_ALLOWLIST: 'ftp://x' }).message).toContain('ftp://x');
    });

    it.each([
      ['a username and password', 'https://ok.example.com/,https://user:s3cret@api.example.com/', 'entry 2 must not carry a username or password'],
      ['a username', 'https://s3cret@api.example.com/', 'username or password'],
      ['an empty password', 'https://s3cret:@api.example.com/', 'username or password'],
      ['a query', 'https://api.example.com/v1?key=s3cret', '?query'],
      ['an empty query', 'https://api.example.com/v1?', '?query'],
      ['a fragment', 'https://api.example.com/v1#s3cret', '#fragment'],
      ['an empty fragment', 'https://api.example.com/v1#', '#fragment'],
      ['an inner newline', 'https://api.example.com/\nv1', 'bad entry "https://api.example.com/\\nv1"'],
      ['an inner tab', 'https://api.ex\tample.com/', 'bad entry'],
    ])('refuses an allowlist entry with %s, on one line', (_what, value, message) => {
      const error = configError({ HTTP_CONNECTOR_ALLOWLIST: value });
      expect(error.message).toMatch(/^Invalid configuration: HTTP_CONNECTOR_ALLOWLIST /);
      expect(error.message).toContain(message);
      expect(error.message).not.toContain('\n');
    });

    it('does not print an allowlist password', () => {
      expect(configError({ HTTP_CONNECTOR_ALLOWLIST: 'https://user:s3cret@api.example.com/' }).message).not.toContain('s3cret');
    });

    it('does not print the database password', () => {
      expect(configError({ DATABASE_URL: 'mysql://user:s3cret@host/db' }).message).not.toContain('s3cret');
      expect(configError({ DATABASE_URL: 'postgres://user:s3cret@host' }).message).not.toContain('s3cret');
    });
  });

  describe('tokens (API_TOKENS, alias OPS_API_TOKENS)', () => {
    const CLIENT = 'client-token-0000000001';
    const OPERATOR = 'operator-token-00000001';
    const VIEWER = 'viewer-token-0000000001';

    it('reads principal:role:token entries for the three roles, trimmed', () => {
      expect(loadConfig({ API_TOKENS: ` app:client:${CLIENT} , alice:operator:${OPERATOR}` }).apiTokens).toEqual([
        { principal: 'app', role: 'client', token: CLIENT },
        { principal: 'alice', role: 'operator', token: OPERATOR },
      ]);
    });

    it('merges OPS_API_TOKENS into API_TOKENS (the alias keeps working alone too)', () => {
      expect(loadConfig({ API_TOKENS: `app:client:${CLIENT}`, OPS_API_TOKENS: `victor:viewer:${VIEWER}` }).apiTokens).toEqual([
        { principal: 'app', role: 'client', token: CLIENT },
        { principal: 'victor', role: 'viewer', token: VIEWER },
      ]);
      expect(loadConfig({ OPS_API_TOKENS: `alice:operator:${OPERATOR}` }).apiTokens).toEqual([{ principal: 'alice', role: 'operator', token: OPERATOR }]);
      expect(loadConfig({}).apiTokens).toEqual([]);
    });

    it.each([
      ['API_TOKENS', { API_TOKENS: 'app:client' }, 'must be principal:role:token,… (entry 1 is not)'],
      ['API_TOKENS', { API_TOKENS: `app:client:${CLIENT}:x` }, '(entry 1 is not)'],
      ['API_TOKENS', { API_TOKENS: `app:client:${CLIENT},` }, '(entry 2 is not)'],
      ['API_TOKENS', { API_TOKENS: `bad principal:client:${CLIENT}` }, 'entry 1: principal must be 1..64'],
      ['API_TOKENS', { API_TOKENS: `${'p'.repeat(65)}:client:${CLIENT}` }, 'entry 1: principal must be 1..64'],
      ['API_TOKENS', { API_TOKENS: `app:admin:${CLIENT}` }, 'entry 1: role must be one of client|viewer|operator (got "admin")'],
      ['OPS_API_TOKENS', { OPS_API_TOKENS: `app:root:${CLIENT}` }, 'role must be one of client|viewer|operator'],
      ['API_TOKENS', { API_TOKENS: 'app:client:fifteen-chars-x' }, 'entry 1: token must be at least 16 characters'],
      ['OPS_API_TOKENS', { OPS_API_TOKENS: `a:operator:${OPERATOR},b:viewer:short` }, 'entry 2: token must be at least 16 characters'],
      ['API_TOKENS', { API_TOKENS: `app:client:${'t'.repeat(513)}` }, 'token must be at most 512'],
      ['API_TOKENS', { API_TOKENS: 'app:client:has space in the token' }, 'token must be at most 512 of'],
      ['API_TOKENS', { API_TOKENS: `a:client:${CLIENT},b:client:${CLIENT}` }, 'the same token is listed twice (principal b'],
      ['API_TOKENS', { API_TOKENS: `a:client:${CLIENT}`, OPS_API_TOKENS: `b:operator:${CLIENT}` }, 'the same token is listed twice'],
      ['API_TOKENS', { API_TOKENS: `a:client:${CLIENT},a:operator:${OPERATOR}` }, 'principal a is listed as both client and operator'],
    ])('refuses %s in %j', (variable, env, message) => {
      const error = configError(env);
      expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
      expect(error.message).toContain(message);
      expect(error.message).not.toContain('\n');
    });

    it('never prints a token, even a bad one', () => {
      for (const env of [
        { API_TOKENS: 'app:client:s3cret-short' },
        { API_TOKENS: 'app:client:s3cret s3cret s3cret s3cret' },
        { API_TOKENS: 'a:client:s3cret-s3cret-s3cret,b:client:s3cret-s3cret-s3cret' },
        { API_TOKENS: 'a:nobody:s3cret-s3cret-s3cret' },
      ]) {
        expect(configError(env).message).not.toContain('s3cret');
      }
    });

    it('accepts a repeated principal under one role (token rotation)', () => {
      expect(loadConfig({ API_TOKENS: `app:client:${CLIENT},app:client:${CLIENT}-next` }).apiTokens).toHaveLength(2);
    });

    describe('production (NODE_ENV=production)', () => {
      const base = { NODE_ENV: 'production' };

      it('refuses to boot without any token', () => {
        expect(configError(base).message).toBe(
          'Invalid configuration: API_TOKENS must list a client token when NODE_ENV=production: the data plane is never open in production (principal:client:token,…)',
        );
      });

      it('refuses control-plane tokens alone: the data plane needs a client token', () => {
        expect(configError({ ...base, OPS_API_TOKENS: `alice:operator:${OPERATOR}` }).message).toMatch(
          /^Invalid configuration: API_TOKENS must list a client token/,
        );
        expect(configError({ ...base, API_TOKENS: `victor:viewer:${VIEWER}` }).message).toMatch(/^Invalid configuration: API_TOKENS must list a client token/);
      });

      it('refuses client tokens alone: the control plane needs a viewer or operator', () => {
        expect(configError({ ...base, API_TOKENS: `app:client:${CLIENT}` }).message).toMatch(
          /^Invalid configuration: API_TOKENS must list a viewer or operator token when NODE_ENV=production/,
        );
      });

      it('boots with both, from either variable', () => {
        expect(loadConfig({ ...base, API_TOKENS: `app:client:${CLIENT},alice:operator:${OPERATOR}` })).toMatchObject({ production: true });
        expect(loadConfig({ ...base, API_TOKENS: `app:client:${CLIENT}`, OPS_API_TOKENS: `victor:viewer:${VIEWER}` }).apiTokens).toHaveLength(2);
      });

      it('is only production for NODE_ENV=production: outside it no token is needed', () => {
        for (const NODE_ENV of ['development', 'test', 'prod', 'Production ']) expect(loadConfig({ NODE_ENV }).apiTokens).toEqual([]);
      });
    });
  });
});

describe('loadConfig: run execution (RUN_*)', () => {
  it('defaults to 16 slots per process, 50 ms queue polls, direct start on, no global limit', () => {
    expect(loadConfig({}).runs).toEqual({ concurrency: 16, globalConcurrency: undefined, queuePollMs: 50, directStart: true });
  });

  it('reads every RUN_* variable', () => {
    expect(loadConfig({ RUN_CONCURRENCY: '4', RUN_GLOBAL_CONCURRENCY: '32', RUN_QUEUE_POLL_MS: '200', RUN_DIRECT_START: 'off' }).runs).toEqual({
      concurrency: 4,
      globalConcurrency: 32,
      queuePollMs: 200,
      directStart: false,
    });
  });

  it.each([
    ['RUN_CONCURRENCY', '0'],
    ['RUN_CONCURRENCY', '1.5'],
    ['RUN_CONCURRENCY', '1001'],
    ['RUN_GLOBAL_CONCURRENCY', '-1'],
    ['RUN_QUEUE_POLL_MS', '5'],
    ['RUN_QUEUE_POLL_MS', 'fast'],
    ['RUN_DIRECT_START', 'yes'],
  ])('refuses %s=%s with one line naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^Invalid configuration: ${name} `));
  });
});
