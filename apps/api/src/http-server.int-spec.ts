import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { closeAgent, rawRequest } from '../../../test/support/hostile.js';
import { ECHO_INTENT } from '../../../test/support/runs.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const COULD_NOT_READ = '{"error":"validation","details":[{"path":"","message":"the request could not be read"}]}';

/**
 * What the HTTP server (http-server.ts: Fastify, body-parser, the planes' gate) answers where a server's
 * defaults differ: paths, path parameters, router refusals, body encodings and content types.
 */
describe('the HTTP server answers as the service always has', () => {
  let t: TestApp;
  let intentId: string;

  beforeAll(async () => {
    t = await startTestApp();
    intentId = (await t.request('POST', '/api/intents', ECHO_INTENT)).body.intentId as string;
  });
  afterAll(async () => {
    closeAgent();
    await t?.close();
  });

  const start = (body: Buffer | string, headers: Record<string, string>) => rawRequest(t.baseUrl, 'POST', '/api/runs', body, headers);

  it('matches a route with or without a trailing slash, in any case', async () => {
    for (const path of ['/api/runs', '/api/runs/', '/API/RUNS', '/Api/Runs/?limit=1']) {
      expect([path, (await rawRequest(t.baseUrl, 'GET', path)).status]).toEqual([path, 200]);
    }
    expect((await rawRequest(t.baseUrl, 'GET', '//api/runs')).status).toBe(404);
  });

  it('lets any path parameter reach its pipe (a 400 for a bad ID, never the router’s 414)', async () => {
    const long = await rawRequest(t.baseUrl, 'GET', `/api/runs/${'a'.repeat(5_000)}`);
    expect(long).toMatchObject({ status: 400, text: expect.stringContaining('runId must be an ID') as string });
  });

  it('answers a path that does not percent-decode in the lattice, not with the router’s own body', async () => {
    for (const path of ['/api/runs/%ZZ', '/api/runs/%ED%A0%80']) {
      expect(await rawRequest(t.baseUrl, 'GET', path)).toMatchObject({ status: 400, text: COULD_NOT_READ });
    }
  });

  it('reads JSON bodies plain, gzip, deflate and brotli; refuses other encodings', async () => {
    const body = JSON.stringify({ intentId });
    expect((await start(body, JSON_TYPE)).status).toBe(202);
    expect((await start(gzipSync(body), { ...JSON_TYPE, 'content-encoding': 'gzip' })).status).toBe(202);
    expect((await start(deflateSync(body), { ...JSON_TYPE, 'content-encoding': 'deflate' })).status).toBe(202);
    expect((await start(brotliCompressSync(body), { ...JSON_TYPE, 'content-encoding': 'br' })).status).toBe(202);
    expect(await start(body, { ...JSON_TYPE, 'content-encoding': 'compress' })).toMatchObject({
      status: 400,
      text: '{"error":"validation","details":[{"path":"","message":"the body encoding is not supported"}]}',
    });
    expect(await start('garbage', { ...JSON_TYPE, 'content-encoding': 'gzip' })).toMatchObject({ status: 400, text: COULD_NOT_READ });
  });

  it('takes JSON whatever the case of its media type and a UTF-8 BOM; leaves other content types unread', async () => {
    const body = JSON.stringify({ intentId });
    expect((await start(body, { 'content-type': 'Application/JSON; charset=utf-8' })).status).toBe(202);
    expect((await start(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]), JSON_TYPE)).status).toBe(202);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/vnd.api+json']) {
      const res = await start(body, { 'content-type': type });
      expect([type, res.status, res.text]).toEqual([type, 400, expect.stringContaining('"path":"intentId"')]);
    }
  });

  it('refuses bodies over the limit and non-JSON JSON as before', async () => {
    expect(await start(`{"intentId":"${'x'.repeat(2_000_000)}"}`, JSON_TYPE)).toMatchObject({
      status: 400,
      text: '{"error":"validation","details":[{"path":"","message":"the body is larger than the limit"}]}',
    });
    for (const body of ['null', '"s"', '   ', '{"intentId":']) {
      expect([body, await start(body, JSON_TYPE)]).toEqual([
        body,
        expect.objectContaining({ status: 400, text: '{"error":"validation","details":[{"path":"","message":"the body is not valid JSON"}]}' }),
      ]);
    }
  });

  it('authenticates an unknown path under a plane before answering 404', async () => {
    expect((await rawRequest(t.baseUrl, 'GET', '/api/ops/nothing')).status).toBe(401);
    expect((await rawRequest(t.baseUrl, 'GET', '/api/nothing')).status).toBe(404);
  });
});
