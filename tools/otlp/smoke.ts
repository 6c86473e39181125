/**
 * otlp:smoke — proves the OTLP wiring end to end: boots the BUILT service with export on, runs one
 * echo intent, and checks what arrives.
 *
 *   node dist-tools/tools/otlp/smoke.js        (mise run otlp:smoke)
 *
 * - No OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT: starts a loopback OTLP receiver, points the service at
 *   it, decodes the spans and log records it receives, and fails unless the run's trace holds
 *   POST /api/runs → IntentWorkflow → CompileST, ApplyPatchST, DecideST, ExecuteST, the workflow and
 *   step spans carry workflowID, step.name and appVersion, GET /api/runs/:id reports that trace, and
 *   a log record written inside the workflow carries workflowID.
 *   It also fails unless the OTLP metrics count the run (started, succeeded), time its four steps
 *   and the POST /api/runs request, and report the queue gauges, and unless GET /metrics shows
 *   the same counters in Prometheus format.
 * - With an endpoint set: first checks that it accepts an (empty) export (2xx), failing when it is
 *   unreachable or refuses; then runs the intent with export to it and fails if the service reports
 *   a failed export. Spans sent elsewhere cannot be decoded here: the report says so and names the
 *   trace to look up.
 *
 * Database: DATABASE_URL's server, in a throwaway database `durable_ops_smoke_<random>` (dropped
 * at the end); without DATABASE_URL, the embedded Postgres (.data/pg), shared with a running
 * service if there is one (the smoke then runs under its own app version, so nothing else picks
 * its run up).
 *
 * The service process, the port, the database and the waits come from the harness kit (tools/harness).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '#common';
import { createThrowawayDatabase, freePort, ServiceProcess, sleep, withDatabase } from '../harness/index.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';
import { checkRunMetrics } from './metric-check.js';
import { checkRunTrace, describeRunTrace, PIPELINE_STEP_NAMES, type RunTraceReport } from './trace-check.js';

const BOOT_TIMEOUT_MS = 90_000;
const RUN_TIMEOUT_MS = 60_000;
/** After the run succeeded: how long its spans may take to arrive (the service exports every second). */
const SPANS_TIMEOUT_MS = 20_000;
const PROBE_TIMEOUT_MS = 10_000;
const METRIC_EXPORT_INTERVAL_MS = 1000;
/** The Prometheus series GET /metrics must show after one successful run. */
const SCRAPED_SERIES = [
  'durable_ops_runs_started_total',
  'durable_ops_runs_succeeded_total',
  'durable_ops_step_duration_count',
  'http_server_request_duration_count',
];
const STOP_TIMEOUT_MS = 20_000;
/** The line the service logs when an export fails (apps/api/src/tracing.ts). */
const EXPORT_FAILED = /OTLP (trace|log|metric) \(.*\) export failed: .*/;

class SmokeFailure extends Error {
  override readonly name = 'SmokeFailure';
}

function say(line: string): void {
  process.stdout.write(`otlp:smoke: ${line}\n`);
}

/** An endpoint as it may be printed: no credentials, no query. */
function shown(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** An empty Export{Trace,Logs}ServiceRequest (zero bytes in protobuf) must be accepted with a 2xx. */
async function probe(endpoint: string, signal: 'traces' | 'logs' | 'metrics'): Promise<void> {
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: new Uint8Array(0),
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new SmokeFailure(`the OTLP ${signal} endpoint ${shown(endpoint)} is unreachable: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  await response.arrayBuffer().catch(() => undefined);
  if (response.status < 200 || response.status > 299)
    throw new SmokeFailure(`the OTLP ${signal} endpoint ${shown(endpoint)} rejected an empty export: HTTP ${response.status}`);
  say(`the OTLP ${signal} endpoint ${shown(endpoint)} accepts exports (HTTP ${response.status})`);
}

interface Database {
  readonly url: string | undefined;
  readonly describe: string;
  drop(): Promise<void>;
}

async function throwawayDatabase(serverUrl: string | undefined): Promise<Database> {
  if (!serverUrl) return { url: undefined, describe: 'the embedded Postgres (.data/pg)', drop: () => Promise.resolve() };
  const adminUrl = withDatabase(serverUrl, 'postgres');
  const db = await createThrowawayDatabase(adminUrl, 'durable_ops_smoke');
  return { url: db.url, describe: `a throwaway database ${db.name} on ${new URL(adminUrl).host}`, drop: () => db.drop() };
}

/** Boots the built service with `env` (this process's environment, adjusted) and waits for /healthz. */
async function startSmokeService(env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
  const defined = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const logFile = join(tmpdir(), `durable-ops-otlp-smoke-${process.pid}.log`);
  const service = new ServiceProcess('the service', await freePort(), defined, logFile, { keepOutput: 1_000_000 });
  try {
    await service.start(BOOT_TIMEOUT_MS);
  } catch (error) {
    throw new SmokeFailure(`the service did not come up (see ${logFile}): ${(error as Error).message}\n${service.output().slice(-2000)}`);
  }
  return service;
}

async function runOneIntent(service: ServiceProcess): Promise<{ runId: string; run: Record<string, unknown> }> {
  const intent = await service.request<Record<string, unknown>>('POST', '/api/intents', {
    goal: 'otlp:smoke — one traced run',
    inputs: { tasks: [{ connector: 'echo', args: { value: 'otlp-smoke' } }] },
    constraints: {},
  });
  if (intent.status !== 201 && intent.status !== 200) throw new SmokeFailure(`POST /api/intents answered ${intent.status}: ${JSON.stringify(intent.body)}`);
  const started = await service.request<Record<string, unknown>>('POST', '/api/runs', { intentId: intent.body['intentId'] });
  if (started.status !== 202) throw new SmokeFailure(`POST /api/runs answered ${started.status}: ${JSON.stringify(started.body)}`);
  const runId = String(started.body['runId']);
  say(`run ${runId} started`);
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const run = await service.request<Record<string, unknown>>('GET', `/api/runs/${runId}`);
    const status = run.body['dbosStatus'];
    if (status === 'SUCCESS') return { runId, run: run.body };
    if (status === 'ERROR' || status === 'CANCELLED' || status === 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')
      throw new SmokeFailure(`run ${runId} ended ${String(status)}: ${JSON.stringify(run.body['error'])}`);
    if (Date.now() > deadline) throw new SmokeFailure(`run ${runId} did not succeed within ${RUN_TIMEOUT_MS / 1000} s (dbosStatus ${String(status)})`);
    await sleep(200);
  }
}

/** Stops what the smoke started; once, whether it ends, fails, or is interrupted. */
let cleanup: () => Promise<void> = () => Promise.resolve();

async function smoke(): Promise<void> {
  const config = loadConfig();
  const external = config.telemetry.tracesEndpoint;
  let receiver: OtlpReceiver | undefined;
  let service: ServiceProcess | undefined;
  let database: Database | undefined;
  let passed = false;
  let cleaning: Promise<void> | undefined;
  cleanup = () =>
    (cleaning ??= (async () => {
      await service?.stop(STOP_TIMEOUT_MS);
      await database?.drop().catch((error: unknown) => say(`could not drop the throwaway database: ${String(error)}`));
      await receiver?.close();
      // The service log is kept (and named in the failure) only when the smoke fails.
      if (passed && service) rmSync(service.logFile, { force: true });
    })());
  try {
    if (external) {
      await probe(external, 'traces');
      if (config.telemetry.logsEndpoint) await probe(config.telemetry.logsEndpoint, 'logs');
      if (config.telemetry.metricsEndpoint) await probe(config.telemetry.metricsEndpoint, 'metrics');
    } else {
      receiver = await startOtlpReceiver();
      say(`no OTEL_EXPORTER_OTLP_ENDPOINT: loopback OTLP receiver on ${receiver.url}`);
    }

    database = await throwawayDatabase(config.databaseUrl);
    // On a shared (embedded) database, a version of its own keeps other processes off the smoke's run.
    const appVersion = database.url ? config.appVersion : `otlp-smoke-${randomBytes(4).toString('hex')}`;
    // LOG_LEVEL=info: the workflow's log line is one of the things checked; NO_COLOR: a plain log file.
    const env: NodeJS.ProcessEnv = { ...process.env, APP_VERSION: appVersion, DBOS_EXECUTOR_ID: `otlp-smoke-${process.pid}`, LOG_LEVEL: 'info', NO_COLOR: '1' };
    delete env['DBOS_SYSTEM_DATABASE_URL'];
    if (database.url) env['DATABASE_URL'] = database.url;
    else delete env['DATABASE_URL'];
    if (receiver) {
      env['OTEL_EXPORTER_OTLP_ENDPOINT'] = receiver.url;
      delete env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
      delete env['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT'];
      delete env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'];
    }
    // Metrics are pushed every second here, so they arrive while the smoke waits.
    env['OTEL_METRIC_EXPORT_INTERVAL'] ??= String(METRIC_EXPORT_INTERVAL_MS);
    say(`booting the built service (appVersion ${appVersion}) on ${database.describe}`);
    service = await startSmokeService(env);

    const { runId, run } = await runOneIntent(service);
    const reportedTraceId = (run['traceId'] ?? null) as string | null;
    say(`run ${runId} succeeded; GET /api/runs/${runId} reports traceId ${reportedTraceId ?? 'null'}`);

    const scrape = await fetch(`${service.baseUrl}/metrics`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const scraped = await scrape.text();
    const missingSeries = SCRAPED_SERIES.filter((series) => !new RegExp(`^${series}\\{[^}]*\\} [1-9]`, 'm').test(scraped));
    if (scrape.status !== 200 || missingSeries.length > 0)
      throw new SmokeFailure(`GET /metrics answered ${scrape.status} without ${missingSeries.join(', ') || 'the Prometheus text'}`);
    say(`GET /metrics: ${SCRAPED_SERIES.join(', ')} reported`);

    if (!receiver) {
      // Stopping the service flushes its exporters; a refused or failed export is in its log.
      await service.stop(STOP_TIMEOUT_MS);
      const failed = EXPORT_FAILED.exec(service.output());
      if (failed) throw new SmokeFailure(`the service could not export: ${failed[0]} (see ${service.logFile})`);
      if (!reportedTraceId) throw new SmokeFailure(`run ${runId} recorded no traceId: tracing is not on in the service (see ${service.logFile})`);
      say(`exported to ${shown(external!)} without errors. The smoke did not receive these spans, so it cannot decode them:`);
      say(`look up trace ${reportedTraceId} (workflowID=${runId}) in your tracing backend.`);
      passed = true;
      return;
    }

    const expectation = { runId, appVersion, reportedTraceId, requireWorkflowLog: true };
    let report: RunTraceReport;
    try {
      report = await receiver.waitFor(
        `the spans of run ${runId}`,
        () => {
          const current = checkRunTrace(receiver!.spans, receiver!.logs, expectation);
          return current.problems.length === 0 ? current : undefined;
        },
        SPANS_TIMEOUT_MS,
      );
    } catch {
      report = checkRunTrace(receiver.spans, receiver.logs, expectation);
      for (const line of describeRunTrace(report)) say(line);
      for (const error of receiver.errors) say(`receiver: undecodable export: ${error}`);
      const failed = EXPORT_FAILED.exec(service.output());
      if (failed) say(`service: ${failed[0]}`);
      throw new SmokeFailure(
        `after ${SPANS_TIMEOUT_MS / 1000} s (${receiver.exports.traces} trace / ${receiver.exports.logs} log exports received), missing:\n  - ${report.problems.join('\n  - ')}`,
      );
    }
    for (const line of describeRunTrace(report)) say(line);

    let metricProblems: string[] = [];
    try {
      await receiver.waitFor(
        'the run in the OTLP metrics',
        () => {
          metricProblems = checkRunMetrics(receiver!.metrics);
          return metricProblems.length === 0 ? true : undefined;
        },
        SPANS_TIMEOUT_MS,
      );
    } catch {
      throw new SmokeFailure(
        `after ${SPANS_TIMEOUT_MS / 1000} s (${receiver.exports.metrics} metric exports received), missing:\n  - ${metricProblems.join('\n  - ')}`,
      );
    }
    say(`OTLP metrics: runs started/succeeded, run and step durations (${PIPELINE_STEP_NAMES.join(', ')}), POST /api/runs duration, queue gauges`);
    say(`OK: one trace ${report.traceId ?? ''} — POST /api/runs → IntentWorkflow → 4 steps, each with workflowID, step.name, appVersion; metrics arrived`);
    passed = true;
  } finally {
    await cleanup();
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`otlp:smoke: interrupted (${signal}); cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

smoke().then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof SmokeFailure || error instanceof ConfigError) process.stderr.write(`otlp:smoke: FAILED: ${error.message}\n`);
    else process.stderr.write(`otlp:smoke: FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
