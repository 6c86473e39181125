import { hostname } from 'node:os';
import { packageVersion } from './project.js';

export type AppRole = 'all' | 'api' | 'worker';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
/** `client`: the data plane; `viewer`: the control plane's GETs; `operator`: the whole control plane. */
export type TokenRole = 'client' | 'viewer' | 'operator';
export type OpsRole = Exclude<TokenRole, 'client'>;
export const TOKEN_ROLES: readonly TokenRole[] = ['client', 'viewer', 'operator'];

export interface ApiToken {
  readonly principal: string;
  readonly role: TokenRole;
  readonly token: string;
}
const ROLES: readonly AppRole[] = ['all', 'api', 'worker'];
const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export interface AppConfig {
  readonly port: number;
  readonly host: string;
  /** Undefined means: start the embedded Postgres and use it. */
  readonly databaseUrl: string | undefined;
  readonly systemDatabaseUrl: string | undefined;
  readonly embeddedPgPort: number | undefined;
  /** Parameterised statements run as named prepared statements (off: behind a transaction-mode PgBouncer). */
  readonly preparedStatements: boolean;
  readonly appVersion: string;
  readonly appRole: AppRole;
  readonly executorId: string;
  readonly httpConnectorAllowlist: readonly string[];
  /**
   * API_TOKENS and OPS_API_TOKENS merged. Outside production, no viewer/operator token means a one-off
   * operator token at boot, and no client token means an open data plane (with a boot warning).
   */
  readonly apiTokens: readonly ApiToken[];
  readonly logLevel: LogLevel;
  /** Six-field cron (with seconds) of the scheduled ops tick. */
  readonly opsTickSchedule: string;
  /** Six-field cron of the sweep that takes over the runs of gone executors (roles all and worker). */
  readonly executorSweepSchedule: string;
  readonly bodyLimit: string;
  readonly production: boolean;
  /** OTLP export (traces, logs, metrics; each off without its endpoint). Metrics are always served at GET /metrics. */
  readonly telemetry: TelemetryConfig;
  /** How runs execute: RUN_CONCURRENCY, RUN_GLOBAL_CONCURRENCY, RUN_QUEUE_POLL_MS, RUN_DIRECT_START. */
  readonly runs: RunsConfig;
}

export interface RunsConfig {
  readonly concurrency: number;
  readonly globalConcurrency: number | undefined;
  readonly queuePollMs: number;
  readonly directStart: boolean;
}

export interface TelemetryConfig {
  /** OTLP/HTTP (protobuf) traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  readonly tracesEndpoint: string | undefined;
  /** OTLP/HTTP (protobuf) logs URL: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/logs. */
  readonly logsEndpoint: string | undefined;
  /** OTLP/HTTP (protobuf) metrics URL: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/metrics. */
  readonly metricsEndpoint: string | undefined;
  /** How often metrics are pushed to metricsEndpoint (OTEL_METRIC_EXPORT_INTERVAL, ms; default 60000). */
  readonly metricsExportIntervalMs: number;
  /** service.name of every span and log record (OTEL_SERVICE_NAME). */
  readonly serviceName: string;
}

export const DEFAULT_SERVICE_NAME = 'durable-ops';

/** Thrown for a bad environment; its message is the one line the boot prints. */
export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function optional(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function port(env: Env, name: string): number | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > 65535) throw new ConfigError(name, `must be a port number 1..65535 (got "${raw}")`);
  return value;
}

function integer(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) throw new ConfigError(name, `must be an integer ${min}..${max} (got "${raw}")`);
  return value;
}

function postgresUrl(env: Env, name: string): string | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a postgres:// URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new ConfigError(name, `must be a postgres:// URL (got ${url.protocol})`);
  if (url.pathname.length <= 1) throw new ConfigError(name, 'must name a database (postgres://host:port/DBNAME)');
  return raw;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase() as T;
  if (!allowed.includes(value)) throw new ConfigError(name, `must be one of ${allowed.join('|')} (got "${raw}")`);
  return value;
}

function allowlist(env: Env, name: string): string[] {
  const raw = optional(env, name);
  if (raw === undefined) return [];
  return raw.split(',').map((prefix, index) => {
    const trimmed = prefix.trim();
    // Quoted so that the message stays one line whatever the entry holds.
    const shown = JSON.stringify(trimmed);
    let url: URL;
    try {
      // The URL parser silently drops inner tabs and newlines: an entry holding any is refused, not rewritten.
      if (/\s/.test(trimmed) || [...trimmed].some((c) => c < ' ' || c === '\u007f')) throw new TypeError('whitespace or control character');
      url = new URL(trimmed);
    } catch {
      throw new ConfigError(name, `must be a comma-separated list of http(s) URL prefixes (bad entry ${shown})`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(name, `entries must be http(s) URLs (bad entry ${shown})`);
    // Never echo an entry with credentials: the message is logged.
    if (url.username !== '' || url.password !== '') throw new ConfigError(name, `entry ${index + 1} must not carry a username or password`);
    if (url.search !== '' || trimmed.includes('?')) throw new ConfigError(name, `entries are origin + path prefixes, without a ?query (bad entry ${shown})`);
    if (url.hash !== '' || trimmed.includes('#')) throw new ConfigError(name, `entries are origin + path prefixes, without a #fragment (bad entry ${shown})`);
    return trimmed;
  });
}

/** An OTLP/HTTP endpoint: an http(s) URL. The value is never echoed (it may carry credentials). */
function otlpUrl(env: Env, name: string): string | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    if (/\s/.test(raw) || [...raw].some((c) => c < ' ' || c === '\u007f')) throw new TypeError('whitespace or control character');
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be an http(s) URL of an OTLP/HTTP receiver, e.g. http://127.0.0.1:4318');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(name, `must be an http(s) URL (got ${url.protocol}); OTLP/gRPC is not supported`);
  if (url.hash !== '') throw new ConfigError(name, 'must not carry a #fragment');
  return raw;
}

/** OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: the signal path is appended (OTLP exporter spec). */
function signalUrl(base: string, signal: 'traces' | 'logs' | 'metrics'): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/${signal}`;
  return url.toString();
}

function telemetry(env: Env): TelemetryConfig {
  const base = otlpUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const traces = otlpUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const logs = otlpUrl(env, 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT');
  const metrics = otlpUrl(env, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT');
  const interval = optional(env, 'OTEL_METRIC_EXPORT_INTERVAL') ?? '60000';
  if (!/^\d{3,7}$/.test(interval) || Number(interval) < 100 || Number(interval) > 3_600_000)
    throw new ConfigError('OTEL_METRIC_EXPORT_INTERVAL', `must be milliseconds 100..3600000 (got "${interval}")`);
  const serviceName = optional(env, 'OTEL_SERVICE_NAME') ?? DEFAULT_SERVICE_NAME;
  if (serviceName.length > 255 || [...serviceName].some((c) => c < ' ' || c === '\u007f'))
    throw new ConfigError('OTEL_SERVICE_NAME', 'must be 1..255 printable characters');
  return {
    tracesEndpoint: traces ?? (base === undefined ? undefined : signalUrl(base, 'traces')),
    logsEndpoint: logs ?? (base === undefined ? undefined : signalUrl(base, 'logs')),
    metricsEndpoint: metrics ?? (base === undefined ? undefined : signalUrl(base, 'metrics')),
    metricsExportIntervalMs: Number(interval),
    serviceName,
  };
}

export const MIN_TOKEN_LENGTH = 16;
/** Token characters: the RFC 6750 b64token alphabet, so a token travels in `Authorization: Bearer` unchanged. */
const TOKEN_CHARS = /^[A-Za-z0-9\-._~+/]+=*$/;

/** One `principal:role:token,…` list. Messages name the entry by position and never echo a token. */
function tokenList(env: Env, name: string): ApiToken[] {
  const raw = optional(env, name);
  if (raw === undefined) return [];
  return raw.split(',').map((entry, index) => {
    const [principal, role, token, ...rest] = entry.trim().split(':');
    const where = `entry ${index + 1}`;
    if (!principal || !role || !token || rest.length > 0) throw new ConfigError(name, `must be principal:role:token,… (${where} is not)`);
    if (!/^[\w.@-]{1,64}$/.test(principal)) throw new ConfigError(name, `${where}: principal must be 1..64 of [A-Za-z0-9_.@-]`);
    if (!(TOKEN_ROLES as readonly string[]).includes(role))
      throw new ConfigError(name, `${where}: role must be one of ${TOKEN_ROLES.join('|')} (got ${JSON.stringify(role.slice(0, 20))})`);
    if (token.length < MIN_TOKEN_LENGTH) throw new ConfigError(name, `${where}: token must be at least ${MIN_TOKEN_LENGTH} characters`);
    if (token.length > 512 || !TOKEN_CHARS.test(token))
      throw new ConfigError(name, `${where}: token must be at most 512 of [A-Za-z0-9-._~+/] (then = padding)`);
    return { principal, role: role as TokenRole, token };
  });
}

/** API_TOKENS, then its alias OPS_API_TOKENS: one list, no token twice, no principal under two roles. */
function apiTokens(env: Env): ApiToken[] {
  const merged = [...tokenList(env, 'API_TOKENS'), ...tokenList(env, 'OPS_API_TOKENS')];
  const tokens = new Set<string>();
  const roles = new Map<string, TokenRole>();
  for (const entry of merged) {
    if (tokens.has(entry.token))
      throw new ConfigError('API_TOKENS', `the same token is listed twice (principal ${entry.principal}; OPS_API_TOKENS counts too)`);
    tokens.add(entry.token);
    const role = roles.get(entry.principal);
    if (role !== undefined && role !== entry.role)
      throw new ConfigError('API_TOKENS', `principal ${entry.principal} is listed as both ${role} and ${entry.role} (one role per principal)`);
    roles.set(entry.principal, entry.role);
  }
  return merged;
}

/** Reads and validates the environment once, at boot. */
/** BODY_LIMIT's form (`512kb`, `1mb`, `100b`) in bytes; undefined when it is not of that form. */
export function bodyLimitBytes(limit: string): number | undefined {
  const match = /^(\d{1,10})(b|kb|mb)$/i.exec(limit);
  if (!match) return undefined;
  return Number(match[1]) * { b: 1, kb: 1024, mb: 1024 * 1024 }[match[2]!.toLowerCase() as 'b' | 'kb' | 'mb'];
}

export function loadConfig(env: Env = process.env): AppConfig {
  const listenPort = port(env, 'PORT') ?? 3000;
  const appVersion = optional(env, 'APP_VERSION') ?? packageVersion();
  if (!/^[\w.+-]{1,64}$/.test(appVersion)) throw new ConfigError('APP_VERSION', 'must be 1..64 characters of [A-Za-z0-9_.+-]');
  const executorId = optional(env, 'DBOS_EXECUTOR_ID') ?? `${hostname()}:${listenPort}`;
  const databaseUrl = postgresUrl(env, 'DATABASE_URL');
  const systemDatabaseUrl = postgresUrl(env, 'DBOS_SYSTEM_DATABASE_URL');
  if (systemDatabaseUrl !== undefined && databaseUrl === undefined) {
    throw new ConfigError('DBOS_SYSTEM_DATABASE_URL', 'is set but DATABASE_URL is not (set both, or neither for the embedded Postgres)');
  }
  const production = optional(env, 'NODE_ENV') === 'production';
  const tokens = apiTokens(env);
  if (production && !tokens.some((t) => t.role === 'client'))
    throw new ConfigError(
      'API_TOKENS',
      'must list a client token when NODE_ENV=production: the data plane is never open in production (principal:client:token,…)',
    );
  if (production && !tokens.some((t) => t.role !== 'client'))
    throw new ConfigError(
      'API_TOKENS',
      'must list a viewer or operator token when NODE_ENV=production (principal:operator:token,…; OPS_API_TOKENS counts too)',
    );
  const opsTickSchedule = optional(env, 'OPS_TICK_SCHEDULE') ?? '*/30 * * * * *';
  if (!/^\S+( \S+){5}$/.test(opsTickSchedule))
    throw new ConfigError('OPS_TICK_SCHEDULE', `must be a six-field cron with seconds, e.g. "*/30 * * * * *" (got "${opsTickSchedule}")`);
  const executorSweepSchedule = optional(env, 'EXECUTOR_SWEEP_SCHEDULE') ?? '*/10 * * * * *';
  if (!/^\S+( \S+){5}$/.test(executorSweepSchedule))
    throw new ConfigError('EXECUTOR_SWEEP_SCHEDULE', `must be a six-field cron with seconds, e.g. "*/10 * * * * *" (got "${executorSweepSchedule}")`);
  const bodyLimit = optional(env, 'BODY_LIMIT') ?? '1mb';
  const limit = bodyLimitBytes(bodyLimit);
  if (limit === undefined) throw new ConfigError('BODY_LIMIT', `must look like 512kb or 1mb (got "${bodyLimit}")`);
  // A stored intent is served whole by GET /api/intents/:id, and no response exceeds 1 MB.
  if (limit > 1024 * 1024) throw new ConfigError('BODY_LIMIT', `must be at most 1mb: a stored intent is served whole in one response (got "${bodyLimit}")`);
  return {
    port: listenPort,
    host: optional(env, 'HOST') ?? '0.0.0.0',
    databaseUrl,
    systemDatabaseUrl,
    embeddedPgPort: port(env, 'EMBEDDED_PG_PORT'),
    preparedStatements: oneOf(env, 'DATABASE_PREPARED_STATEMENTS', ['on', 'off'], 'on') === 'on',
    appVersion,
    appRole: oneOf(env, 'APP_ROLE', ROLES, 'all'),
    executorId,
    httpConnectorAllowlist: allowlist(env, 'HTTP_CONNECTOR_ALLOWLIST'),
    apiTokens: tokens,
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    opsTickSchedule,
    executorSweepSchedule,
    bodyLimit,
    production,
    telemetry: telemetry(env),
    runs: {
      concurrency: integer(env, 'RUN_CONCURRENCY', 1, 1000) ?? 16,
      globalConcurrency: integer(env, 'RUN_GLOBAL_CONCURRENCY', 1, 100_000),
      queuePollMs: integer(env, 'RUN_QUEUE_POLL_MS', 10, 60_000) ?? 50,
      directStart: oneOf(env, 'RUN_DIRECT_START', ['on', 'off'], 'on') === 'on',
    },
  };
}
