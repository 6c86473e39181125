import { startTestApp, type TestApp } from '../../../test/support/test-app.js';

const OPERATOR = 'security-operator-token-1';
const intent = (goal: string) => ({ goal, inputs: { tasks: [{ connector: 'echo', args: { value: goal } }] }, constraints: {} });
const as = (token: string) => ({ authorization: `Bearer ${token}` });

describe('security: no client token outside production (the README walkthrough)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR}` });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('keeps the data plane open to anonymous requests, records them as anonymous, and still refuses a bad token', async () => {
    const created = await t.request('POST', '/api/intents', intent('open'));
    expect(created.status).toBe(201);
    const row = await t.db.selectFrom('app.intents').select('created_by').where('id', '=', created.body.intentId).executeTakeFirstOrThrow();
    expect(row.created_by).toBe('anonymous');
    expect((await t.request('GET', '/api/intents', undefined, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await t.request('GET', '/api/ops/wf')).status).toBe(401);
    expect((await t.request('GET', '/api/intents', undefined, as(OPERATOR))).status).toBe(403);
  });
});
