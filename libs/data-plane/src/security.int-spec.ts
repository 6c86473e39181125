import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { nested, rawRequest, closeAgent, utf7 } from '../../../test/support/hostile.js';
import { waitFor } from '../../../test/support/wait.js';

const CLIENT = 'security-client-token-001';
const OTHER_CLIENT = 'security-client-token-002';
const OPERATOR = 'security-operator-token-1';
const VIEWER = 'security-viewer-token-001';
const ALLOWED = 'http://127.0.0.1:9/secret-allowlist-path/';
const intent = (goal: string, extra: Record<string, unknown> = {}) => ({
  goal,
  inputs: { tasks: [{ connector: 'echo', args: { value: goal } }], ...extra },
  constraints: {},
});
const as = (token: string) => ({ authorization: `Bearer ${token}` });
/** An intent's JSON text with `value` (JSON text) as its one task's argument. */
const intentJson = (value: string) => `{"goal":"g","inputs":{"tasks":[{"connector":"echo","args":{"v":${value}}}]},"constraints":{}}`;

describe('security: a closed data plane, guarded roles, refusals that change nothing', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      API_TOKENS: `app:client:${CLIENT},other:client:${OTHER_CLIENT},alice:operator:${OPERATOR}`,
      OPS_API_TOKENS: `victor:viewer:${VIEWER}`,
      HTTP_CONNECTOR_ALLOWLIST: ALLOWED,
    });
  });
  afterAll(async () => {
    closeAgent();
    await t?.close();
  });

  const counts = async () => {
    const row = await sql<{
      intents: number;
      runs: number;
    }>`SELECT (SELECT count(*) FROM app.intents)::int AS intents, (SELECT count(*) FROM app.runs)::int AS runs`.execute(t.db);
    return row.rows[0]!;
  };

  it('refuses anonymous and non-client tokens on every data-plane route (401 / 403), writing nothing', async () => {
    const before = await counts();
    for (const [method, path, body] of [
      ['POST', '/api/intents', intent('anon')],
      ['GET', '/api/intents', undefined],
      ['GET', '/api/intents/it_00000000000000000000000000000000', undefined],
      ['POST', '/api/runs', { intentId: 'it_00000000000000000000000000000000' }],
      ['GET', '/api/runs', undefined],
      ['GET', '/api/runs/run_x', undefined],
      ['GET', '/api/runs/run_x/steps', undefined],
      ['GET', '/api/runs/run_x/artifacts', undefined],
      ['GET', '/api/runs/run_x/artifacts/1', undefined],
    ] as const) {
      expect({ path, method, status: (await t.request(method, path, body)).status }).toEqual({ path, method, status: 401 });
      expect({ path, method, status: (await t.request(method, path, body, { authorization: 'Bearer wrong-token-wrong-token' })).status }).toEqual({
        path,
        method,
        status: 401,
      });
      for (const token of [OPERATOR, VIEWER]) {
        const res = await t.request(method, path, body, as(token));
        expect({ path, method, status: res.status, error: res.body.error }).toEqual({ path, method, status: 403, error: 'forbidden' });
      }
    }
    expect(await counts()).toEqual(before);
  });

  it('refuses an anonymous body before reading it: 401 even for malformed or 100,000-deep JSON', async () => {
    for (const body of ['{"goal":', nested(100_000), Buffer.from([0x7b, 0xff, 0x7d])]) {
      const res = await rawRequest(t.baseUrl, 'POST', '/api/intents', body, { 'content-type': 'application/json' });
      expect(res.status).toBe(401);
    }
  });

  it('gives a client token 403 on the control plane, and a viewer 403 on its actions', async () => {
    expect((await t.request('GET', '/api/ops/wf', undefined, as(CLIENT))).status).toBe(403);
    expect((await t.request('POST', '/api/ops/wf/run_x/cancel', { actor: 'a', reason: 'r' }, as(CLIENT))).status).toBe(403);
    expect((await t.request('GET', '/api/ops/wf', undefined, as(VIEWER))).status).toBe(200);
    expect((await t.request('POST', '/api/ops/wf/run_x/cancel', { actor: 'a', reason: 'r' }, as(VIEWER))).status).toBe(403);
    expect((await t.request('POST', '/api/ops/wf/run_x/cancel', { actor: 'a', reason: 'r' }, as(OPERATOR))).status).toBe(404);
  });

  it('records the principal that created each intent and run (the first creator keeps an intent)', async () => {
    const created = await t.request('POST', '/api/intents', intent('principal'), as(CLIENT));
    expect(created.status).toBe(201);
    expect((await t.request('POST', '/api/intents', intent('principal'), as(OTHER_CLIENT))).status).toBe(200);
    const run = await t.request('POST', '/api/runs', { intentId: created.body.intentId, idempotencyKey: 'sec-1' }, as(OTHER_CLIENT));
    expect(run.status).toBe(202);
    expect((await t.request('POST', '/api/runs', { intentId: created.body.intentId, idempotencyKey: 'sec-1' }, as(CLIENT))).status).toBe(200);
    const intentRow = await t.db.selectFrom('app.intents').select('created_by').where('id', '=', created.body.intentId).executeTakeFirstOrThrow();
    const runRow = await t.db.selectFrom('app.runs').select('created_by').where('id', '=', run.body.runId).executeTakeFirstOrThrow();
    expect({ intent: intentRow.created_by, run: runRow.created_by }).toEqual({ intent: 'app', run: 'other' });
    await waitFor('the run', async () =>
      (await t.request('GET', `/api/runs/${run.body.runId}`, undefined, as(CLIENT))).body.dbosStatus === 'SUCCESS' ? true : undefined,
    );
  });

  it('refuses credential headers in http tasks, stores nothing, and never quotes the allowlist', async () => {
    const before = await counts();
    for (const headers of [{ Authorization: 'Bearer s3cret-value' }, { Cookie: 'sid=s3cret-value' }, { 'X-Api-Key': 's3cret-value' }]) {
      const res = await t.request(
        'POST',
        '/api/intents',
        { goal: 'creds', inputs: { tasks: [{ connector: 'http', args: { method: 'GET', url: `${ALLOWED}x`, headers } }] }, constraints: {} },
        as(CLIENT),
      );
      expect(res.status).toBe(400);
      expect(res.body.details[0].message).toContain('looks like a credential');
      expect(res.text).not.toContain('s3cret');
    }
    const outside = await t.request(
      'POST',
      '/api/intents',
      { goal: 'outside', inputs: { tasks: [{ connector: 'http', args: { method: 'GET', url: 'http://127.0.0.1:9/elsewhere' } }] }, constraints: {} },
      as(CLIENT),
    );
    expect(outside.status).toBe(400);
    expect(outside.text).not.toContain('secret-allowlist-path');
    expect(await counts()).toEqual(before);
  });

  it('refuses lone surrogates (no two keys or goals collapse into one) and audit text with Cc/Cf/Zl/Zp characters', async () => {
    const before = await counts();
    for (const escape of ['\\ud800', '\\udc00']) {
      const goal = await rawRequest(
        t.baseUrl,
        'POST',
        '/api/intents',
        `{"goal":"a${escape}","inputs":{"tasks":[{"connector":"echo","args":{"value":1}}]},"constraints":{}}`,
        {
          'content-type': 'application/json',
          ...as(CLIENT),
        },
      );
      expect(goal.status).toBe(400);
      expect(goal.text).toContain('lone surrogates');
      const key = await rawRequest(t.baseUrl, 'POST', '/api/runs', `{"intentId":"it_00000000000000000000000000000000","idempotencyKey":"${escape}"}`, {
        'content-type': 'application/json',
        ...as(CLIENT),
      });
      expect(key.status).toBe(400);
    }
    expect(await counts()).toEqual(before);
    for (const bad of ['\u202e', '\u2028', '\u0085', '\u200b', '\u2029', '\ufeff']) {
      for (const field of ['actor', 'reason']) {
        const res = await t.request('POST', '/api/ops/wf/run_x/cancel', { actor: 'a', reason: 'r', [field]: `x${bad}y` }, as(OPERATOR));
        expect({ field, bad, status: res.status, path: res.body.details?.[0]?.path }).toEqual({ field, bad, status: 400, path: field });
      }
    }
    const accepted = await t.request('POST', '/api/ops/wf/run_x/cancel', { actor: 'Zoë Ångström 山田', reason: 'ünïcode is fine 👍' }, as(OPERATOR));
    expect(accepted.status).toBe(404);
  });

  it('answers instants Date.parse cannot read, NUL in paths and deep bodies with 400s', async () => {
    for (const value of ['2024-W01', '2024-001', '20240101T000000Z', '2024-01-01 10', '2024-01-01T10:00:00,5Z', '2024-02-30T00:00:00Z']) {
      const res = await t.request('GET', `/api/ops/wf?createdAfter=${encodeURIComponent(value)}`, undefined, as(VIEWER));
      expect({ value, status: res.status }).toEqual({ value, status: 400 });
      const body = { goal: 'nb', inputs: { tasks: [{ connector: 'echo', args: { value: 1 } }] }, constraints: { notBefore: value } };
      expect({ value, status: (await t.request('POST', '/api/intents', body, as(CLIENT))).status }).toEqual({ value, status: 400 });
    }
    for (const path of ['/api/runs/%00', '/api/intents/%00', '/api/runs/run_x/artifacts/%00', '/api/ops/wf/%00', '/api/runs/%E0', '/api/runs/a%0d%0ab']) {
      const res = await rawRequest(t.baseUrl, 'GET', path, undefined, as(path.startsWith('/api/ops') ? VIEWER : CLIENT));
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
    }
    const deep = await rawRequest(t.baseUrl, 'POST', '/api/intents', nested(100_000), { 'content-type': 'application/json', ...as(CLIENT) });
    expect(deep.status).toBe(400);
    expect(deep.text).toContain('nested deeper than 64 levels');
    // body-parser decodes any utf-* charset: in UTF-7 the brackets are base64 the depth scan cannot see,
    // and UTF-16 can carry lone surrogates past the UTF-8 check. Both are refused on the raw bytes.
    for (const [charset, body] of [
      ['utf-7', utf7(nested(3_000))],
      ['utf-7', utf7(intentJson(nested(3_000, '{"a":', '}').replace(/\}+$/, (m) => `1${m}`)))],
      ['utf-16le', Buffer.from(intentJson('"\\ud800"'), 'utf16le')],
      ['UTF-16', Buffer.from(`\ufeff${intentJson('1')}`, 'utf16le')],
    ] as const) {
      const res = await rawRequest(t.baseUrl, 'POST', '/api/intents', body, { 'content-type': `application/json; charset=${charset}`, ...as(CLIENT) });
      expect({ charset, status: res.status, text: res.text }).toEqual({
        charset,
        status: 400,
        text: '{"error":"validation","details":[{"path":"","message":"the body must be UTF-8 (no charset, or charset=utf-8)"}]}',
      });
    }
  });

  it('refuses a query string that is not well-formed percent-encoded UTF-8 (no value collapses into U+FFFD)', async () => {
    for (const [path, token] of [
      ['/api/runs?intentId=%ED%A0%80', CLIENT],
      ['/api/runs?intentId=%ED%B0%80', CLIENT],
      ['/api/intents?cursor=%FF', CLIENT],
      ['/api/runs?status=running%', CLIENT],
      ['/api/ops/wf?name=%C0%80', VIEWER],
      ['/api/ops/wf?queue=a%E2%80', VIEWER],
    ] as const) {
      const res = await rawRequest(t.baseUrl, 'GET', path, undefined, as(token));
      expect({ path, status: res.status, text: res.text }).toEqual({
        path,
        status: 400,
        text: '{"error":"validation","details":[{"path":"query","message":"the query string is not well-formed percent-encoded UTF-8"}]}',
      });
    }
    expect((await rawRequest(t.baseUrl, 'GET', '/api/ops/wf?name=%C3%A9%F0%9F%91%8D%20x', undefined, as(VIEWER))).status).toBe(200);
    expect((await rawRequest(t.baseUrl, 'GET', '/api/runs?intentId=%ED%A0%80', undefined, {})).status).toBe(401);
  });

  it('echoes no unbounded or raw ID in a 404', async () => {
    const id = `${'x'.repeat(150)}%E2%80%AE`;
    const res = await rawRequest(t.baseUrl, 'GET', `/api/runs/${'y'.repeat(120)}`, undefined, as(CLIENT));
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text).message).toBe(`run ${'y'.repeat(64)}… not found`);
    expect((await rawRequest(t.baseUrl, 'GET', `/api/runs/${id}`, undefined, as(CLIENT))).status).toBe(400);
  });

  it('refuses an intent whose stored JSON would not fit one response (1e20 is served as 21 digits; a body at the limit)', async () => {
    const before = await counts();
    const numbers = `{"goal":"amplified","inputs":{"tasks":[{"connector":"echo","args":{"value":[${Array(190_000).fill('1e20').join(',')}]}}]},"constraints":{}}`;
    const atLimit = (blob: string) => JSON.stringify(intent('at the limit', { data: { blob } }));
    const largest = atLimit('z'.repeat(1024 * 1024 - 1 - Buffer.byteLength(atLimit(''))));
    for (const body of [numbers, largest]) {
      expect(Buffer.byteLength(body)).toBeLessThan(1024 * 1024);
      const res = await rawRequest(t.baseUrl, 'POST', '/api/intents', body, { 'content-type': 'application/json', ...as(CLIENT) });
      expect({ status: res.status, message: JSON.parse(res.text).details?.[0]?.message }).toEqual({
        status: 400,
        message: expect.stringMatching(/^the intent is \d+ bytes as stored JSON .*; at most 1044480, so that GET \/api\/intents\/:id fits one response$/),
      });
    }
    expect(await counts()).toEqual(before);
  });

  it('lists intents as summaries (no payload), and reads the full intent by its own route', async () => {
    const long = 'g'.repeat(1500);
    const created = await t.request('POST', '/api/intents', intent(long, { data: { blob: 'z'.repeat(50_000) } }), as(CLIENT));
    const page = await t.request('GET', '/api/intents?limit=200', undefined, as(CLIENT));
    const item = page.body.items.find((i: { intentId: string }) => i.intentId === created.body.intentId);
    expect(item).toEqual({ intentId: created.body.intentId, goal: `${'g'.repeat(200)}…`, taskCount: 1, createdAt: expect.any(String) });
    expect(page.text).not.toContain('zzzz');
    const full = await t.request('GET', `/api/intents/${created.body.intentId}`, undefined, as(CLIENT));
    expect(full.body.goal).toBe(long);
    expect(full.body.inputs.data.blob).toHaveLength(50_000);
  });
});
