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

// The edges a mutation run (docs/mutation-testing.md) showed untested: each bound on both sides, the
// defaults, every message's wording, and the checks that only one input of a kind reaches.
describe('loadConfig: bounds, defaults and messages', () => {
  it('takes a port at both ends of 1..65535 and refuses just outside', () => {
    expect(loadConfig({ PORT: '1' }).port).toBe(1);
    expect(loadConfig({ PORT: '65535' }).port).toBe(65535);
    expect(loadConfig({ EMBEDDED_PG_PORT: '65535' }).embeddedPgPort).toBe(65535);
    expect(configError({ PORT: '65536' }).message).toBe('Invalid configuration: PORT must be a port number 1..65535 (got "65536")');
    expect(configError({ EMBEDDED_PG_PORT: '0' }).message).toBe('Invalid configuration: EMBEDDED_PG_PORT must be a port number 1..65535 (got "0")');
  });

  it('trims a value before reading it', () => {
    expect(loadConfig({ PORT: ' 8080 ', HOST: ' 127.0.0.1 ', APP_ROLE: ' api ' })).toMatchObject({ port: 8080, host: '127.0.0.1', appRole: 'api' });
  });

  it('refuses digits around other text in a number', () => {
    for (const PORT of ['8080x', 'x8080', '1e3']) expect(configError({ PORT }).message).toMatch(/^Invalid configuration: PORT /);
    for (const RUN_CONCURRENCY of ['4x', 'x4']) expect(configError({ RUN_CONCURRENCY }).message).toMatch(/^Invalid configuration: RUN_CONCURRENCY /);
  });

  it('takes each RUN_* integer at both ends of its range and names the range when it refuses', () => {
    expect(loadConfig({ RUN_CONCURRENCY: '1', RUN_GLOBAL_CONCURRENCY: '1', RUN_QUEUE_POLL_MS: '10' }).runs).toMatchObject({
      concurrency: 1,
      globalConcurrency: 1,
      queuePollMs: 10,
    });
    expect(loadConfig({ RUN_CONCURRENCY: '1000', RUN_GLOBAL_CONCURRENCY: '100000', RUN_QUEUE_POLL_MS: '60000' }).runs).toMatchObject({
      concurrency: 1000,
      globalConcurrency: 100_000,
      queuePollMs: 60_000,
    });
    expect(configError({ RUN_CONCURRENCY: '1001' }).message).toBe('Invalid configuration: RUN_CONCURRENCY must be an integer 1..1000 (got "1001")');
    expect(configError({ RUN_GLOBAL_CONCURRENCY: '100001' }).message).toBe(
      'Invalid configuration: RUN_GLOBAL_CONCURRENCY must be an integer 1..100000 (got "100001")',
    );
    expect(configError({ RUN_QUEUE_POLL_MS: '9' }).message).toBe('Invalid configuration: RUN_QUEUE_POLL_MS must be an integer 10..60000 (got "9")');
    expect(configError({ RUN_QUEUE_POLL_MS: '60001' }).message).toMatch(/^Invalid configuration: RUN_QUEUE_POLL_MS /);
    expect(configError({ RUN_DIRECT_START: 'yes' }).message).toBe('Invalid configuration: RUN_DIRECT_START must be one of on|off (got "yes")');
    expect(loadConfig({ RUN_DIRECT_START: 'ON' }).runs.directStart).toBe(true);
  });

  it('says why a database URL is refused', () => {
    expect(configError({ DATABASE_URL: 'not a url' }).message).toBe('Invalid configuration: DATABASE_URL must be a postgres:// URL');
    expect(configError({ DATABASE_URL: 'mysql://h/db' }).message).toBe('Invalid configuration: DATABASE_URL must be a postgres:// URL (got mysql:)');
    expect(configError({ DATABASE_URL: 'postgres://h/' }).message).toBe(
      'Invalid configuration: DATABASE_URL must name a database (postgres://host:port/DBNAME)',
    );
    expect(loadConfig({ DATABASE_URL: 'postgres://h/d' }).databaseUrl).toBe('postgres://h/d');
    expect(configError({ DBOS_SYSTEM_DATABASE_URL: 'postgres://h/sys' }).message).toBe(
      'Invalid configuration: DBOS_SYSTEM_DATABASE_URL is set but DATABASE_URL is not (set both, or neither for the embedded Postgres)',
    );
  });

  it('says why an allowlist entry is refused, naming the entry', () => {
    expect(configError({ HTTP_CONNECTOR_ALLOWLIST: 'nope' }).message).toBe(
      'Invalid configuration: HTTP_CONNECTOR_ALLOWLIST must be a comma-separated list of http(s) URL prefixes (bad entry "nope")',
    );
    expect(configError({ HTTP_CONNECTOR_ALLOWLIST: 'ftp://x/' }).message).toBe(
      'Invalid configuration: HTTP_CONNECTOR_ALLOWLIST entries must be http(s) URLs (bad entry "ftp://x/")',
    );
    expect(configError({ HTTP_CONNECTOR_ALLOWLIST: 'https://a.example/,https://u:p@b.example/' }).message).toBe(
      'Invalid configuration: HTTP_CONNECTOR_ALLOWLIST entry 2 must not carry a username or password',
    );
    expect(configError({ HTTP_CONNECTOR_ALLOWLIST: 'https://:s3cret@b.example/' }).message).toBe(
      'Invalid configuration: HTTP_CONNECTOR_ALLOWLIST entry 1 must not carry a username or password',
    );
    expect(configError({ HTTP_CONNECTOR_ALLOWLIST: 'https://a.example/?' }).message).toBe(
      'Invalid configuration: HTTP_CONNECTOR_ALLOWLIST entries are origin + path prefixes, without a ?query (bad entry "https://a.example/?")',
    );
    expect(configError({ HTTP_CONNECTOR_ALLOWLIST: 'https://a.example/#' }).message).toBe(
      'Invalid configuration: HTTP_CONNECTOR_ALLOWLIST entries are origin + path prefixes, without a #fragment (bad entry "https://a.example/#")',
    );
  });

  it('refuses an allowlist entry or OTLP endpoint holding a control character the URL parser would drop', () => {
    // DEL and other C0 characters are not whitespace (\s): the character check alone catches them.
    for (const c of ['\u007f', '\u0001', '\u001f']) {
      expect(configError({ HTTP_CONNECTOR_ALLOWLIST: `https://api.example.com/v1${c}x` }).message).toMatch(
        /^Invalid configuration: HTTP_CONNECTOR_ALLOWLIST must be a comma-separated list/,
      );
      expect(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://collector:4318/a${c}b` }).message).toBe(
        'Invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL of an OTLP/HTTP receiver, e.g. http://127.0.0.1:4318',
      );
    }
    expect(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/a b' }).message).toMatch(/^Invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT /);
    // Printable characters up to and past DEL are fine.
    expect(loadConfig({ HTTP_CONNECTOR_ALLOWLIST: 'https://api.example.com/~x/' }).httpConnectorAllowlist).toEqual(['https://api.example.com/~x/']);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/~x' }).telemetry.tracesEndpoint).toBe('http://collector:4318/~x/v1/traces');
  });

  it('takes https OTLP endpoints, and refuses a fragment on the base one', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tempo.example.com/v1/traces' }).telemetry.tracesEndpoint).toBe(
      'https://tempo.example.com/v1/traces',
    );
    expect(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318#x' }).message).toBe(
      'Invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT must not carry a #fragment',
    );
    expect(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' }).message).toBe(
      'Invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL (got grpc:); OTLP/gRPC is not supported',
    );
  });

  it('is off without OTLP endpoints, with a 60 s metrics interval and the default service name', () => {
    expect(loadConfig({}).telemetry).toEqual({
      tracesEndpoint: undefined,
      logsEndpoint: undefined,
      metricsEndpoint: undefined,
      metricsExportIntervalMs: 60_000,
      serviceName: 'durable-ops',
    });
  });

  it('prefers each per-signal endpoint to the base, signal by signal', () => {
    const base = 'http://collector:4318';
    for (const [variable, key] of [
      ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'tracesEndpoint'],
      ['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'logsEndpoint'],
      ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'metricsEndpoint'],
    ] as const) {
      const telemetry = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: base, [variable]: 'http://own:4318/x' }).telemetry;
      expect(telemetry[key]).toBe('http://own:4318/x');
      const others = (['tracesEndpoint', 'logsEndpoint', 'metricsEndpoint'] as const).filter((k) => k !== key);
      for (const other of others) expect(telemetry[other]).toBe(`${base}/v1/${other.replace('Endpoint', '')}`);
      expect(loadConfig({ [variable]: 'http://own:4318/x' }).telemetry).toMatchObject(Object.fromEntries(others.map((o) => [o, undefined])));
    }
  });

  it('derives every signal path from the base, however many trailing slashes', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/otlp//' }).telemetry).toMatchObject({
      tracesEndpoint: 'http://c:4318/otlp/v1/traces',
      logsEndpoint: 'http://c:4318/otlp/v1/logs',
      metricsEndpoint: 'http://c:4318/otlp/v1/metrics',
    });
  });

  it('takes a metrics interval of 100..3600000 ms and refuses outside it', () => {
    expect(loadConfig({ OTEL_METRIC_EXPORT_INTERVAL: '100' }).telemetry.metricsExportIntervalMs).toBe(100);
    expect(loadConfig({ OTEL_METRIC_EXPORT_INTERVAL: '3600000' }).telemetry.metricsExportIntervalMs).toBe(3_600_000);
    for (const value of ['99', '099', '3600001', '12', '12345678', 'x1000', '1000x']) {
      expect(configError({ OTEL_METRIC_EXPORT_INTERVAL: value }).message).toBe(
        `Invalid configuration: OTEL_METRIC_EXPORT_INTERVAL must be milliseconds 100..3600000 (got "${value}")`,
      );
    }
  });

  it('takes a service name of up to 255 printable characters', () => {
    expect(loadConfig({ OTEL_SERVICE_NAME: 's'.repeat(255) }).telemetry.serviceName).toHaveLength(255);
    expect(configError({ OTEL_SERVICE_NAME: 's'.repeat(256) }).message).toBe('Invalid configuration: OTEL_SERVICE_NAME must be 1..255 printable characters');
    expect(configError({ OTEL_SERVICE_NAME: 'ops\u007f' }).message).toMatch(/^Invalid configuration: OTEL_SERVICE_NAME /);
    expect(configError({ OTEL_SERVICE_NAME: 'ops\u0007api' }).message).toMatch(/^Invalid configuration: OTEL_SERVICE_NAME /);
    expect(loadConfig({ OTEL_SERVICE_NAME: 'ops api ~ é' }).telemetry.serviceName).toBe('ops api ~ é');
  });

  it('schedules the ops tick every 30 s by default and refuses a cron without seconds', () => {
    expect(loadConfig({}).opsTickSchedule).toBe('*/30 * * * * *');
    expect(loadConfig({ OPS_TICK_SCHEDULE: '0 */5 * * * *' }).opsTickSchedule).toBe('0 */5 * * * *');
    expect(configError({ OPS_TICK_SCHEDULE: '*/30 * * * *' }).message).toBe(
      'Invalid configuration: OPS_TICK_SCHEDULE must be a six-field cron with seconds, e.g. "*/30 * * * * *" (got "*/30 * * * *")',
    );
    for (const schedule of ['x */30 * * * * *', '*/30 * * * * * x', '*/30  * * * * *']) {
      expect(configError({ OPS_TICK_SCHEDULE: schedule }).message).toMatch(/^Invalid configuration: OPS_TICK_SCHEDULE /);
      expect(configError({ EXECUTOR_SWEEP_SCHEDULE: schedule }).message).toMatch(/^Invalid configuration: EXECUTOR_SWEEP_SCHEDULE /);
    }
    expect(loadConfig({ EXECUTOR_SWEEP_SCHEDULE: '*/10 */2 * * * *' }).executorSweepSchedule).toBe('*/10 */2 * * * *');
    expect(configError({ EXECUTOR_SWEEP_SCHEDULE: '* * *' }).message).toBe(
      'Invalid configuration: EXECUTOR_SWEEP_SCHEDULE must be a six-field cron with seconds, e.g. "*/10 * * * * *" (got "* * *")',
    );
  });

  it('takes a body limit of at most 1 MB in b, kb or mb, any case', () => {
    expect(loadConfig({ BODY_LIMIT: '1048576b' }).bodyLimit).toBe('1048576b');
    expect(loadConfig({ BODY_LIMIT: '1024KB' }).bodyLimit).toBe('1024KB');
    expect(loadConfig({ BODY_LIMIT: '1MB' }).bodyLimit).toBe('1MB');
    expect(configError({ BODY_LIMIT: '1048577b' }).message).toBe(
      'Invalid configuration: BODY_LIMIT must be at most 1mb: a stored intent is served whole in one response (got "1048577b")',
    );
    expect(configError({ BODY_LIMIT: '1025KB' }).message).toMatch(/^Invalid configuration: BODY_LIMIT must be at most 1mb/);
    for (const value of ['1 mb', 'x1mb', '1mbx', '12345678901b']) {
      expect(configError({ BODY_LIMIT: value }).message).toBe(`Invalid configuration: BODY_LIMIT must look like 512kb or 1mb (got "${value}")`);
    }
  });

  it('takes an APP_VERSION of 64 characters and names the rule when it refuses', () => {
    expect(loadConfig({ APP_VERSION: 'v'.repeat(64) }).appVersion).toHaveLength(64);
    expect(configError({ APP_VERSION: 'x1.0 beta' }).message).toBe('Invalid configuration: APP_VERSION must be 1..64 characters of [A-Za-z0-9_.+-]');
    for (const APP_VERSION of ['/1.0', '1.0/']) expect(configError({ APP_VERSION }).message).toMatch(/^Invalid configuration: APP_VERSION /);
  });

  it('lower-cases the enumerated values and says what it allows', () => {
    expect(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'On', LOG_LEVEL: 'Warn', APP_ROLE: 'API' })).toMatchObject({
      preparedStatements: true,
      logLevel: 'warn',
      appRole: 'api',
    });
    expect(configError({ LOG_LEVEL: 'loud' }).message).toBe('Invalid configuration: LOG_LEVEL must be one of error|warn|info|debug (got "loud")');
  });

  describe('token entries', () => {
    const CLIENT = 'client-token-0000000001';

    it('takes the longest principal, the shortest and longest token and base64 padding', () => {
      const tokens = loadConfig({
        API_TOKENS: `${'p'.repeat(64)}:client:${'t'.repeat(16)},b:viewer:${'u'.repeat(512)},c.d@e-f:operator:Ab0-._~+/Zz0123456==`,
      }).apiTokens;
      expect(tokens.map((t) => [t.principal.length, t.role, t.token.length])).toEqual([
        [64, 'client', 16],
        [1, 'viewer', 512],
        [7, 'operator', 20],
      ]);
    });

    it('refuses a token with characters outside the alphabet, before or after it', () => {
      for (const token of [`#${CLIENT}`, `${CLIENT}#`, `${CLIENT}=x`, `=${CLIENT}`]) {
        expect(configError({ API_TOKENS: `app:client:${token}` }).message).toBe(
          'Invalid configuration: API_TOKENS entry 1: token must be at most 512 of [A-Za-z0-9-._~+/] (then = padding)',
        );
      }
      for (const principal of [`x${'p'.repeat(64)}`, 'a b', '#a', 'a#']) {
        expect(configError({ API_TOKENS: `${principal}:client:${CLIENT}` }).message).toBe(
          'Invalid configuration: API_TOKENS entry 1: principal must be 1..64 of [A-Za-z0-9_.@-]',
        );
      }
    });

    it('refuses an empty principal, role or token', () => {
      for (const entry of [`:client:${CLIENT}`, `app::${CLIENT}`, 'app:client:']) {
        expect(configError({ API_TOKENS: entry }).message).toBe('Invalid configuration: API_TOKENS must be principal:role:token,… (entry 1 is not)');
      }
    });

    it('names a bad role, cut to 20 characters', () => {
      expect(configError({ API_TOKENS: `app:${'r'.repeat(30)}:${CLIENT}` }).message).toBe(
        `Invalid configuration: API_TOKENS entry 1: role must be one of client|viewer|operator (got "${'r'.repeat(20)}")`,
      );
    });

    it('says which principal is listed twice', () => {
      expect(configError({ API_TOKENS: `a:client:${CLIENT},b:viewer:${CLIENT}` }).message).toBe(
        'Invalid configuration: API_TOKENS the same token is listed twice (principal b; OPS_API_TOKENS counts too)',
      );
      expect(configError({ OPS_API_TOKENS: `a:viewer:${CLIENT},a:operator:${CLIENT}-2` }).message).toBe(
        'Invalid configuration: API_TOKENS principal a is listed as both viewer and operator (one role per principal)',
      );
    });

    it('in production, takes a viewer alone as the control-plane token and says what is missing', () => {
      expect(loadConfig({ NODE_ENV: 'production', API_TOKENS: `app:client:${CLIENT},v:viewer:${CLIENT}-v` }).production).toBe(true);
      expect(loadConfig({ NODE_ENV: ' production ', API_TOKENS: `app:client:${CLIENT},v:viewer:${CLIENT}-v` }).production).toBe(true);
      expect(configError({ NODE_ENV: 'production', API_TOKENS: `app:client:${CLIENT}` }).message).toBe(
        'Invalid configuration: API_TOKENS must list a viewer or operator token when NODE_ENV=production (principal:operator:token,…; OPS_API_TOKENS counts too)',
      );
    });
  });
});
