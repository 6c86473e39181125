import { once } from 'node:events';
import { createServer } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from '#common';
import type { ReceivedSpan } from '../tools/otlp/otlp-decode.js';
import { checkRunMetrics } from '../tools/otlp/metric-check.js';
import { startOtlpReceiver, type OtlpReceiver } from '../tools/otlp/otlp-receiver.js';
import { checkRunTrace, MANDATORY_SPAN_ATTRIBUTES, PIPELINE_STEP_NAMES } from '../tools/otlp/trace-check.js';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.js';
import { waitFor } from '../test/support/wait.js';
import { freePort, runScript, type ScriptResult, startService, type ServiceProcess } from '../tools/harness/index.js';

/**
 * Who traces each step: all four run through libs/dbos/src/app-step.ts (runAppStep, runEffectStep),
 * not DBOS.runStep, which DBOS would trace, so each carries the service's own span.
 */
const STEP_SCOPE: Record<(typeof PIPELINE_STEP_NAMES)[number], string> = {
  CompileST: 'durable-ops',
  ApplyPatchST: 'durable-ops',
  DecideST: 'durable-ops',
  ExecuteST: 'durable-ops',
};

/**
 * Telemetry (docs/architecture.md) against the built service: OTLP export to a loopback receiver, one trace per run
 * (POST /api/runs → IntentWorkflow → its steps, across the DBOS queue), the three attributes on
 * every workflow and step span, the run's traceId, logs with workflowID; and the otlp:smoke
 * command itself, passing against its own receiver and failing when the endpoint is down.
 */
const OPERATOR = 'otlp-e2e-operator-token-0123456789';
const APP_VERSION = 'otlp-e2e-1';

describe('OTLP traces and logs (built service, loopback receiver)', () => {
  let database: TestDatabase;
  let receiver: OtlpReceiver;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    receiver = await startOtlpReceiver();
    service = await startService('otlp-e2e', {
      DATABASE_URL: database.url,
      DBOS_EXECUTOR_ID: 'otlp-e2e',
      APP_VERSION,
      LOG_LEVEL: 'info',
      OPS_API_TOKENS: `e2e:operator:${OPERATOR}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'durable-ops-e2e',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
    });
  });
  afterAll(async () => {
    if (service && service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exited();
    }
    await receiver?.close();
    await database?.drop();
  });

  async function run(constraints: Record<string, unknown> = {}): Promise<{ runId: string; view: any }> {
    const intent = await service!.request('POST', '/api/intents', {
      goal: `otlp e2e ${JSON.stringify(constraints)}`,
      inputs: { tasks: [{ connector: 'echo', args: { value: 'traced' } }] },
      constraints,
    });
    expect([200, 201]).toContain(intent.status);
    const started = await service!.request('POST', '/api/runs', { intentId: intent.body.intentId });
    expect(started.status).toBe(202);
    const runId = started.body.runId as string;
    const view = await waitFor(`run ${runId} to succeed`, async () => {
      const res = await service!.request('GET', `/api/runs/${runId}`);
      return res.body.dbosStatus === 'SUCCESS' ? res.body : undefined;
    });
    return { runId, view };
  }

  const spansOf = (traceId: string): ReceivedSpan[] => receiver.spans.filter((s) => s.traceId === traceId);

  it('one run is one trace: POST /api/runs → IntentWorkflow → the four steps, all attributed, with the traceId the run reports', async () => {
    const { runId, view } = await run();
    expect(view.traceId).toMatch(/^[0-9a-f]{32}$/);

    const report = await receiver.waitFor(
      `the trace of ${runId}`,
      () => {
        const current = checkRunTrace(receiver.spans, receiver.logs, {
          runId,
          appVersion: APP_VERSION,
          reportedTraceId: view.traceId,
          requireWorkflowLog: true,
        });
        return current.problems.length === 0 ? current : undefined;
      },
      20_000,
    );
    expect(report.traceId).toBe(view.traceId);

    // The HTTP span is the root, a SERVER span with the semantic attributes, under our service name.
    const http = report.http!;
    expect(http).toMatchObject({ name: 'POST /api/runs', kind: 2, parentSpanId: '', scope: 'durable-ops-http' });
    expect(http.attributes).toMatchObject({
      'http.request.method': 'POST',
      'url.path': '/api/runs',
      'http.route': '/api/runs',
      'http.response.status_code': 202,
    });
    expect(http.resource).toMatchObject({ 'service.name': 'durable-ops-e2e', 'service.version': APP_VERSION, 'service.instance.id': 'otlp-e2e' });

    // DBOS's own spans, in the request's trace although the workflow ran from the queue.
    const workflow = report.workflow!;
    expect(workflow).toMatchObject({ name: 'IntentWorkflow', scope: 'dbos-tracer', parentSpanId: http.spanId, traceId: view.traceId });
    expect(workflow.attributes).toMatchObject({ workflowID: runId, 'step.name': 'IntentWorkflow', appVersion: APP_VERSION, operationUUID: runId });
    for (const name of PIPELINE_STEP_NAMES) {
      const step = report.steps[name]!;
      expect(step).toMatchObject({ name, scope: STEP_SCOPE[name], parentSpanId: workflow.spanId, traceId: view.traceId });
      expect(step.attributes).toMatchObject({ workflowID: runId, 'step.name': name, appVersion: APP_VERSION });
    }
    expect(
      spansOf(view.traceId)
        .filter((s) => s.attributes['workflowID'] === runId)
        .map((s) => s.name),
    ).toEqual(expect.arrayContaining(['IntentWorkflow', ...PIPELINE_STEP_NAMES]));

    // A log record written inside the workflow carries workflowID and the trace context.
    const log = report.workflowLogs.find((l) => typeof l.body === 'string' && l.body.includes(`${runId} succeeded`));
    expect(log).toBeDefined();
    expect(log).toMatchObject({ traceId: view.traceId, severityText: 'INFO', attributes: { workflowID: runId, 'nest.context': 'IntentWorkflow' } });
    expect(log!.spanId).toBe(workflow.spanId);

    // Each step's mark names the span that wrote it.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const marks = await client.query<{ step_id: string; trace_id: string; span_id: string }>(
        'SELECT step_id, trace_id, span_id FROM app.run_steps WHERE run_id = $1',
        [runId],
      );
      expect(marks.rows.length).toBe(4);
      for (const mark of marks.rows) expect(mark).toEqual({ step_id: mark.step_id, trace_id: view.traceId, span_id: report.steps[mark.step_id]!.spanId });
    } finally {
      await client.end();
    }
  });

  it('traces a delayed run: it waits DELAYED on the queue (no process, no span), then its steps run in the request’s trace after the delay', async () => {
    const { runId, view } = await run({ delayMs: 300 });
    const report = await receiver.waitFor(
      `the trace of ${runId}`,
      () => {
        const checked = checkRunTrace(receiver.spans, receiver.logs, { runId, reportedTraceId: view.traceId });
        return checked.problems.length === 0 ? checked : undefined;
      },
      20_000,
    );
    // Nothing sleeps in a process: the wait was DBOS's DELAYED status, so there is no sleep step.
    expect(spansOf(view.traceId).filter((s) => s.name === 'DBOS.sleep')).toEqual([]);
    // DBOS stamps its spans from performance.now(), the SDK from its own anchored clock; the two drift
    // apart on a loaded machine, so the order is checked with a margin far below the 300 ms delay.
    const clockSkewMs = 50;
    const ms = (ns: bigint): number => Number(ns / 1000n) / 1000;
    expect(ms(report.steps['CompileST']!.startTimeUnixNano)).toBeGreaterThanOrEqual(ms(report.http!.startTimeUnixNano) + 300 - clockSkewMs);
  });

  it('a fork runs in a trace of its own, recorded on its run, linked to the original', async () => {
    const { runId, view } = await run();
    const fork = await service!.request(
      'POST',
      `/api/ops/wf/${runId}/fork`,
      { actor: 'e2e', reason: 'otlp fork trace', stepN: 4 },
      { authorization: `Bearer ${OPERATOR}` },
    );
    expect(fork.status).toBe(202);
    const forked = fork.body.forkedWorkflowID as string;
    const forkedView = await waitFor(`fork ${forked} to succeed`, async () => {
      const res = await service!.request('GET', `/api/runs/${forked}`);
      return res.body.dbosStatus === 'SUCCESS' && res.body.traceId ? res.body : undefined;
    });
    expect(forkedView.traceId).not.toBe(view.traceId);
    const workflow = await receiver.waitFor(
      `the workflow span of fork ${forked}`,
      () => receiver.spans.find((s) => s.name === 'IntentWorkflow' && s.attributes['workflowID'] === forked),
      20_000,
    );
    expect(workflow.traceId).toBe(forkedView.traceId);
    expect(workflow.links).toEqual([expect.objectContaining({ traceId: view.traceId, attributes: expect.objectContaining({ workflowID: runId }) })]);
    for (const attribute of MANDATORY_SPAN_ATTRIBUTES) expect(workflow.attributes[attribute]).toEqual(expect.any(String));
  });

  it('exports the runs as metrics over OTLP and serves them at GET /metrics, labelled without IDs', async () => {
    const { runId } = await run();
    await receiver.waitFor('the runs in the OTLP metrics', () => (checkRunMetrics(receiver.metrics).length === 0 ? true : undefined), 20_000);
    const latest = receiver.metrics.filter((m) => m.name === 'durable_ops.runs.succeeded').at(-1)!;
    expect(latest.resource).toMatchObject({ 'service.name': 'durable-ops-e2e', 'service.instance.id': 'otlp-e2e' });
    // Created through nestjs-otel's MetricService (its meter), not by hand.
    expect(latest.scope).toBe('nestjs-otel');

    // A control action is counted by op and outcome: a cancel of a finished run is a conflict.
    const cancel = await service!.request('POST', `/api/ops/wf/${runId}/cancel`, { actor: 'e2e', reason: 'metrics' }, { authorization: `Bearer ${OPERATOR}` });
    expect(cancel.status).toBe(409);

    const scraped = await fetch(`${service!.baseUrl}/metrics`);
    expect(scraped.status).toBe(200);
    const text = await scraped.text();
    const value = (series: RegExp): number => Number(series.exec(text)?.[1] ?? Number.NaN);
    expect(value(/^durable_ops_runs_started_total\{[^}]*queue="intents"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^durable_ops_runs_succeeded_total\{[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^durable_ops_step_duration_count\{[^}]*step_name="ExecuteST"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^durable_ops_control_actions_total\{[^}]*op="cancel",outcome="conflict"[^}]*\} (\d+)/m)).toBe(1);
    expect(value(/^durable_ops_queue_depth\{[^}]*queue="intents"[^}]*\} (\d+)/m)).toBe(0);
    expect(text).toMatch(/^http_server_request_duration_count\{http_route="\/api\/runs\/:runId",http_request_method="GET",http_response_status_code="200"/m);
    expect(text).not.toContain(runId);
    expect(text).not.toContain(OPERATOR);
  });

  it('sends no /healthz spans', () => {
    expect(receiver.spans.filter((s) => s.attributes['url.path'] === '/healthz')).toEqual([]);
  });
});

describe('mise run otlp:smoke (node dist-tools/tools/otlp/smoke.js)', () => {
  const adminUrl = (): string => {
    const url = process.env['DURABLE_OPS_TEST_ADMIN_URL'];
    if (!url) throw new Error('no test server: run through jest (globalSetup starts it)');
    return url;
  };

  const smoke = (env: Record<string, string>): Promise<ScriptResult> =>
    runScript(join(projectRoot(), 'dist-tools', 'tools', 'otlp', 'smoke.js'), [], {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATABASE_URL: adminUrl(),
      ...env,
    });

  it('passes against its own loopback receiver, reporting the trace with the three attributes', async () => {
    const result = await smoke({});
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/loopback OTLP receiver on http:\/\/127\.0\.0\.1:\d+/);
    expect(result.stdout).toMatch(/a throwaway database durable_ops_smoke_[0-9a-f]+/);
    for (const name of ['IntentWorkflow', ...PIPELINE_STEP_NAMES] as const) {
      const scope = name === 'IntentWorkflow' ? 'dbos-tracer' : STEP_SCOPE[name];
      expect(result.stdout).toMatch(new RegExp(`${name} \\[${scope}\\].*workflowID=run_\\w+ step\\.name=${name} appVersion=`));
    }
    expect(result.stdout).toMatch(/POST \/api\/runs \[durable-ops-http\]/);
    expect(result.stdout).toMatch(/OK: one trace [0-9a-f]{32}/);
  });

  it('with an endpoint configured, exports there instead of starting a receiver, and names the trace to look up', async () => {
    const endpoint = await startOtlpReceiver();
    try {
      const result = await smoke({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint.url });
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
      expect(result.stdout).not.toMatch(/loopback OTLP receiver/);
      expect(result.stdout).toContain(`the OTLP traces endpoint ${endpoint.url}/v1/traces accepts exports (HTTP 200)`);
      expect(result.stdout).toMatch(/cannot decode them/);
      const [, traceId, runId] = /look up trace ([0-9a-f]{32}) \(workflowID=(run_\w+)\)/.exec(result.stdout) ?? [];
      // What the smoke could not check, this receiver can: the run's trace arrived complete.
      expect(checkRunTrace(endpoint.spans, endpoint.logs, { runId: runId!, reportedTraceId: traceId!, requireWorkflowLog: true }).problems).toEqual([]);
    } finally {
      await endpoint.close();
    }
  });

  it('fails, naming the endpoint, when the configured OTLP endpoint is down', async () => {
    const port = await freePort();
    const result = await smoke({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`FAILED: the OTLP traces endpoint http://127.0.0.1:${port}/v1/traces is unreachable: ECONNREFUSED`);
  });

  it('fails when the configured endpoint refuses exports', async () => {
    const refusing = createServer((_req, res) => res.writeHead(503).end('overloaded'));
    refusing.listen(0, '127.0.0.1');
    await once(refusing, 'listening');
    const port = (refusing.address() as { port: number }).port;
    try {
      const result = await smoke({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces` });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('rejected an empty export: HTTP 503');
    } finally {
      refusing.close();
    }
  });
});
