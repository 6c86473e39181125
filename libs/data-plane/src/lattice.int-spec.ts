import fc from 'fast-check';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { charsetBody, closeAgent, deepBody, hostileId, illFormedBody, inBatches, isoVariants, nastyText, rawRequest } from '../../../test/support/hostile.js';
import { waitFor } from '../../../test/support/wait.js';

const CLIENT = 'hostile-client-token-0001';
const OPERATOR = 'hostile-operator-token-01';
const VIEWER = 'hostile-viewer-token-0001';
const ALLOWED = 'http://127.0.0.1:9/allowed-prefix-secret-path/';
const LATTICE = new Set([200, 201, 202, 400, 401, 403, 404, 409]);
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Percent-encodes a query value, lone surrogates included (as the ill-formed UTF-8 bytes ED A0 80 / ED B0 80). */
const encodeQuery = (value: string): string =>
  value
    .split(/(\p{Cs})/u)
    .map((part) => (/^\p{Cs}$/u.test(part) ? (part.charCodeAt(0) < 0xdc00 ? '%ED%A0%80' : '%ED%B0%80') : encodeURIComponent(part)))
    .join('');
/** Fixed: the same 10,000 requests every run, so a failure reproduces. */
const SEED = 20_261_202;
const REQUESTS = 10_000;

/**
 * A fixed-seed run of hostile requests across every route of both planes, in-process against the
 * real service and database: never a 5xx, every error in the lattice shape, no response over 1 MB,
 * no allowlist value and no unbounded echo of input in any answer.
 */
describe('hostile input across every route (fixed seed)', () => {
  let t: TestApp;
  let intentId: string;
  let runId: string;
  let artifactId: string;

  beforeAll(async () => {
    t = await startTestApp({
      API_TOKENS: `app:client:${CLIENT},op:operator:${OPERATOR}`,
      OPS_API_TOKENS: `view:viewer:${VIEWER}`,
      HTTP_CONNECTOR_ALLOWLIST: ALLOWED,
    });
    const auth = { authorization: `Bearer ${CLIENT}` };
    intentId = (
      await t.request('POST', '/api/intents', { goal: 'hostile', inputs: { tasks: [{ connector: 'echo', args: { value: 1 } }] }, constraints: {} }, auth)
    ).body.intentId;
    runId = (await t.request('POST', '/api/runs', { intentId }, auth)).body.runId;
    await waitFor('the seed run', async () =>
      (await t.request('GET', `/api/runs/${runId}`, undefined, auth)).body.dbosStatus === 'SUCCESS' ? true : undefined,
    );
    artifactId = (await t.request('GET', `/api/runs/${runId}/artifacts`, undefined, auth)).body.artifacts[0].artifactId;
  });
  afterAll(async () => {
    closeAgent();
    await t?.close();
  });

  const id = fc.oneof({ weight: 3, arbitrary: hostileId }, { weight: 1, arbitrary: fc.constantFrom('INTENT', 'RUN', 'ARTIFACT') });
  /**
   * Half the requests carry the token their route takes (a client token on the data plane, an operator
   * token on the control plane), so most hostile bodies, queries and IDs get past the door to the
   * parsers and services; the rest try every other credential.
   */
  const auth = fc.oneof(
    { weight: 6, arbitrary: fc.constant('ROUTE' as const) },
    {
      weight: 6,
      arbitrary: fc.constantFrom<Record<string, string>>(
        {},
        { authorization: `Bearer ${CLIENT}` },
        { authorization: `Bearer ${OPERATOR}` },
        { authorization: `Bearer ${VIEWER}` },
        { authorization: 'Bearer not-a-token-at-all-xx' },
        { authorization: CLIENT },
      ),
    },
  );
  const route = fc.constantFrom<[string, string]>(
    ['POST', '/api/intents'],
    ['GET', '/api/intents'],
    ['GET', '/api/intents/:id'],
    ['POST', '/api/runs'],
    ['GET', '/api/runs'],
    ['GET', '/api/runs/:id'],
    ['GET', '/api/runs/:id/steps'],
    ['GET', '/api/runs/:id/artifacts'],
    ['GET', '/api/runs/:id/artifacts/:aid'],
    ['GET', '/api/ops/wf'],
    ['GET', '/api/ops/wf/:id'],
    ['GET', '/api/ops/wf/:id/steps'],
    ['POST', '/api/ops/wf/:id/cancel'],
    ['POST', '/api/ops/wf/:id/resume'],
    ['POST', '/api/ops/wf/:id/fork'],
  );
  const intentBody = fc
    .record({
      goal: nastyText,
      notBefore: fc.oneof(isoVariants, fc.constant(undefined)),
      connector: fc.constantFrom('echo', 'http', 'fault', 'nope'),
      args: fc.oneof(
        fc.record({ value: nastyText }),
        fc.record({
          method: fc.constantFrom('GET', 'POST'),
          url: fc.constantFrom(`${ALLOWED}x`, 'http://127.0.0.1:9/elsewhere', 'http://evil.example/'),
          headers: fc.dictionary(fc.constantFrom('Authorization', 'Cookie', 'X-Api-Key', 'X-Trace', 'x-session-token'), fc.constantFrom('Bearer s3cret', 'v')),
        }),
      ),
    })
    .map(({ goal, notBefore, connector, args }) =>
      JSON.stringify({ goal, inputs: { tasks: [{ connector, args }] }, constraints: notBefore ? { notBefore } : {} }),
    );
  const runBody = fc
    .record({ intentId: fc.oneof(fc.constant('INTENT_ID'), nastyText), idempotencyKey: fc.oneof(nastyText, fc.constant(undefined)) })
    .map((b) => JSON.stringify(b));
  const actionBody = fc
    .record({ actor: nastyText, reason: nastyText, stepN: fc.oneof(fc.integer({ min: -1, max: 6 }), fc.constant('1')) }, { requiredKeys: [] })
    .map((b) => JSON.stringify(b));
  const body = fc.oneof(
    { weight: 3, arbitrary: intentBody },
    { weight: 2, arbitrary: runBody },
    { weight: 2, arbitrary: actionBody },
    { weight: 2, arbitrary: deepBody },
    { weight: 2, arbitrary: illFormedBody },
    { weight: 2, arbitrary: charsetBody },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.constantFrom('{"goal":', 'null', '[]', '1e999', '{"__proto__":{"x":1}}', '') },
  );
  const queryKey = fc.constantFrom('limit', 'cursor', 'status', 'intentId', 'createdAfter', 'createdBefore', 'name', 'queue', 'bogus');
  const queryValue = fc.oneof(isoVariants, nastyText, fc.constantFrom('1', '200', '201', '0', 'SUCCESS', 'succeeded', 'WyIxIiwieCJd'));
  const query = fc.array(fc.tuple(queryKey, queryValue), { maxLength: 3 });
  const request = fc.record({ route, id, aid: id, query, body, auth, json: fc.boolean() });

  /** The statuses the OpenAPI document lists for a route template (`:id`, `:aid` for its path parameters). */
  const documented = (method: string, template: string): Set<number> => {
    const entry = Object.entries(t.document.paths).find(([path]) => {
      let n = 0;
      return path.replace(/\{[^}]+\}/g, () => (n++ === 0 ? ':id' : ':aid')) === template;
    });
    const operation = entry?.[1][method.toLowerCase() as 'get' | 'post'];
    return new Set(Object.keys(operation?.responses ?? {}).map(Number));
  };

  it(`answers ${REQUESTS} hostile requests inside the lattice, bounded, without leaking`, async () => {
    const samples = fc.sample(request, { seed: SEED, numRuns: REQUESTS });
    const counts = new Map<number, number>();
    const failures: string[] = [];
    const ids = new Map([
      ['INTENT', intentId],
      ['RUN', runId],
      ['ARTIFACT', artifactId],
    ]);
    await inBatches(samples, 8, async (sample) => {
      const [method, template] = sample.route;
      const headers = sample.auth === 'ROUTE' ? { authorization: `Bearer ${template.startsWith('/api/ops') ? OPERATOR : CLIENT}` } : sample.auth;
      const search = sample.query.map(([k, v]) => `${k}=${encodeQuery(v)}`).join('&');
      const path =
        template.replace(':id', () => ids.get(sample.id) ?? sample.id).replace(':aid', () => ids.get(sample.aid) ?? sample.aid) +
        (search && method === 'GET' ? `?${search}` : '');
      const raw =
        typeof sample.body === 'string'
          ? sample.body.replace('"INTENT_ID"', JSON.stringify(intentId))
          : Buffer.isBuffer(sample.body)
            ? sample.body
            : sample.body.bytes;
      const contentType = typeof sample.body === 'object' && 'contentType' in sample.body ? sample.body.contentType : undefined;
      const res = await rawRequest(t.baseUrl, method, path, method === 'POST' ? raw : undefined, {
        ...headers,
        ...(method === 'POST' ? { 'content-type': contentType ?? (sample.json ? 'application/json' : 'text/plain') } : {}),
      });
      counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
      const problems: string[] = [];
      if (!LATTICE.has(res.status)) problems.push(`status ${res.status}`);
      // Swagger UI shows any other status as "Undocumented": the contract lists every answer.
      if (!documented(method, template).has(res.status)) problems.push(`status ${res.status} not in the OpenAPI document for ${method} ${template}`);
      if (res.bytes >= MAX_RESPONSE_BYTES) problems.push(`${res.bytes} bytes`);
      if (res.status >= 400 && !/^\{"error":"(validation|unauthorized|forbidden|not_found|conflict)"/.test(res.text)) problems.push('not a lattice error body');
      if (res.text.includes('allowed-prefix-secret-path') && !res.text.startsWith('{"intentId"')) problems.push('echoes the allowlist');
      if (/x{301}/.test(res.text) && res.status >= 400) problems.push('echoes unbounded input');
      if (/[\p{Cc}\u2028\u2029\u202e]/u.test(res.status >= 400 ? res.text : '')) problems.push('raw control or bidi character in an error');
      if (problems.length > 0 && failures.length < 20)
        failures.push(
          `${method} ${path.slice(0, 200)} [${JSON.stringify(headers)}] body=${String(raw).slice(0, 200)} → ${problems.join(', ')}: ${res.text.slice(0, 300)}`,
        );
    });
    expect(failures).toEqual([]);
    // The run really went through the service, not just its front door.
    for (const status of [200, 400, 401, 403, 404]) expect(counts.get(status) ?? 0).toBeGreaterThan(20);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(REQUESTS);
  });
});
