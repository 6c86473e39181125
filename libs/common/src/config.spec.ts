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
