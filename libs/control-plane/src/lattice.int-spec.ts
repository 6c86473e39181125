import fc from 'fast-check';
import { deepBody, illFormedBody, isoVariants, nastyText } from '../../../test/support/hostile.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

const OPERATOR = 'lattice-operator-token-000';
const VIEWER = 'lattice-viewer-token-00000';
const LATTICE = new Set([200, 202, 400, 401, 403, 404, 409]);

/**
 * No input — any body, any query, any id, any token — gets anything but the lattice from the
 * control plane: 400/401/403/404/409, or success. Never a 5xx. Against the real module and database.
 */
describe('control plane lattice (property-based)', () => {
  let t: TestApp;
  let finished: string;

  beforeAll(async () => {
    t = await startTestApp({ OPS_API_TOKENS: `op:operator:${OPERATOR},view:viewer:${VIEWER}` });
    const intent = await t.request('POST', '/api/intents', {
      goal: 'lattice',
      inputs: { tasks: [{ connector: 'echo', args: { value: 1 } }] },
      constraints: {},
    });
    finished = (await t.request('POST', '/api/runs', { intentId: intent.body.intentId })).body.runId;
    await waitFor('the seed run', async () => ((await t.request('GET', `/api/runs/${finished}`)).body.dbosStatus === 'SUCCESS' ? true : undefined));
  });
  afterAll(async () => {
    await t?.close();
  });

  const id = fc.oneof(
    fc.string({ maxLength: 260 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom('run_missing', '..', '%', 'a/b', ' ', '\u0000', '\u0001', '\u007f', '\u0085', '\u202e', '\n', 'run\u0000x', 'x'.repeat(300)),
    fc.constant('FINISHED'),
  );
  const text = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.constantFrom('', 'x'.repeat(600), '\u0000', 'alice'),
    nastyText,
  );
  const actionBody = fc.record(
    {
      actor: text,
      reason: text,
      stepN: fc.oneof(fc.integer({ min: -5, max: 10 }), fc.double(), fc.string({ maxLength: 4 }), fc.constant(null)),
      appVersion: fc.oneof(text, fc.constant(undefined)),
      extra: fc.anything(),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    actionBody.map((b) => JSON.stringify(b)),
    deepBody,
    illFormedBody,
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 60 }),
    fc.constantFrom('{"actor":', 'null', '[]', '"s"', '1e999', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'),
  );
  const queryKey = fc.oneof(
    fc.constantFrom('status', 'name', 'queue', 'createdAfter', 'createdBefore', 'limit', 'cursor', 'status[]', '__proto__'),
    fc.string({ maxLength: 10 }),
  );
  const queryValue = fc.oneof(
    text.map((v) => v.replace(/\p{Cs}/gu, '\ufffd')),
    isoVariants,
    fc.constantFrom('ERROR', 'SUCCESS', '0', '1', '200', '201', '-1', '1e3', '2026-01-01T00:00:00Z', 'WyIxIiwieCJd', 'eyJ4IjoxfQ'),
  );
  const query = fc.array(fc.tuple(queryKey, queryValue), { maxLength: 5 });
  const auth = fc.constantFrom<Record<string, string>>(
    {},
    { authorization: `Bearer ${OPERATOR}` },
    { authorization: `Bearer ${VIEWER}` },
    { authorization: 'Bearer nope' },
    { authorization: OPERATOR },
    { authorization: 'Basic Zm9vOmJhcg==' },
  );
  const route = fc.constantFrom(['GET', ''], ['GET', '/:id'], ['GET', '/:id/steps'], ['POST', '/:id/cancel'], ['POST', '/:id/resume'], ['POST', '/:id/fork']);

  it('answers every request inside the lattice', async () => {
    await fc.assert(
      fc.asyncProperty(route, id, query, body, auth, fc.boolean(), async ([method, template], rawId, params, rawBody, headers, jsonType) => {
        const wfId = rawId === 'FINISHED' ? finished : rawId;
        const search = new URLSearchParams(params).toString();
        const path = `/api/ops/wf${template.replace(':id', encodeURIComponent(wfId))}${search ? `?${search}` : ''}`;
        const res = await fetch(t.baseUrl + path, {
          method,
          headers: { ...headers, ...(method === 'POST' ? { 'content-type': jsonType ? 'application/json' : 'text/plain' } : {}) },
          ...(method === 'POST' ? { body: rawBody } : {}),
        });
        const text = await res.text();
        if (!LATTICE.has(res.status)) throw new Error(`${method} ${path} body=${String(rawBody).slice(0, 300)} → ${res.status} ${text}`);
        const unauthenticated = !headers.authorization?.startsWith('Bearer ') || headers.authorization.endsWith('nope');
        if (unauthenticated) expect(res.status).toBe(401);
        if (res.status >= 400) expect(JSON.parse(text)).toHaveProperty('error');
      }),
      { numRuns: 1500 },
    );
  });
});
