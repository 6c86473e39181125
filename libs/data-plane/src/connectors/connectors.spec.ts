import 'reflect-metadata';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ValidationFailed } from '#common';
import { ConnectorRegistry } from './connector.registry.js';
import { PermanentTaskError, TransientTaskError, isTransient, type Connector, type TaskContext } from './connector.js';
import { EchoConnector } from './echo.connector.js';
import { FaultConnector, type FaultArgs } from './fault.connector.js';
import { HttpConnector, type HttpArgs, keptBody, MAX_HTTP_RESPONSE_BYTES } from './http.connector.js';
import { checkAllowlist } from './url-allowlist.js';

const ARGS = 'inputs.tasks.0.args';

function context(overrides: Partial<TaskContext> = {}): TaskContext {
  return { taskKey: 'tk_test', attempt: 1, timeoutMs: 2000, signal: new AbortController().signal, ...overrides };
}

/** The ValidationFailed a call throws (fails the test if it throws nothing or something else). */
function validationError(fn: () => unknown): ValidationFailed {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationFailed);
    return error as ValidationFailed;
  }
  throw new Error('expected a ValidationFailed, nothing was thrown');
}

const pathsOf = (error: ValidationFailed) => error.details.map((d) => d.path);

describe('EchoConnector', () => {
  const echo = new EchoConnector();

  it('accepts {value} and echoes it back', async () => {
    const args = echo.parseArgs({ value: { nested: ['a', 1, true] } }, ARGS);
    await expect(echo.execute(args)).resolves.toEqual({ value: { nested: ['a', 1, true] } });
    await expect(echo.execute(echo.parseArgs({ value: 'hello' }, ARGS))).resolves.toEqual({ value: 'hello' });
    await expect(echo.execute(echo.parseArgs({ value: 0 }, ARGS))).resolves.toEqual({ value: 0 });
  });

  it('rejects missing value with the task path', () => {
    expect(pathsOf(validationError(() => echo.parseArgs({}, ARGS)))).toEqual([`${ARGS}.value`]);
  });

  it('rejects extra keys', () => {
    expect(validationError(() => echo.parseArgs({ value: 1, extra: 2 }, ARGS)).details).toEqual([
      { path: `${ARGS}.extra`, message: 'property extra should not exist' },
    ]);
  });

  it('rejects args that are not an object', () => {
    expect(pathsOf(validationError(() => echo.parseArgs('hello', ARGS)))).toEqual([ARGS]);
    expect(pathsOf(validationError(() => echo.parseArgs([1], ARGS)))).toEqual([ARGS]);
    expect(pathsOf(validationError(() => echo.parseArgs(null, ARGS)))).toEqual([ARGS]);
  });

  it('accepts {value: null}: null is a JSON value', async () => {
    const args = echo.parseArgs({ value: null }, ARGS);
    await expect(echo.execute(args)).resolves.toEqual({ value: null });
    await expect(echo.execute(echo.parseArgs(JSON.parse('{"value":null}'), ARGS))).resolves.toEqual({ value: null });
  });

  it('still requires the value key (an explicit undefined is no JSON value)', () => {
    expect(validationError(() => echo.parseArgs({ value: undefined }, ARGS)).details).toEqual([
      { path: `${ARGS}.value`, message: expect.stringContaining('required') as string },
    ]);
  });

  it.each(['toString', 'valueOf', 'hasOwnProperty', 'constructor', '__proto__', 'prototype'])(
    'rejects a %s key anywhere in args (it would be dropped silently), with its path',
    (name) => {
      const nested = JSON.parse(`{"value": {"deep": [{"${name}": 1}]}}`) as unknown;
      expect(validationError(() => echo.parseArgs(nested, ARGS)).details).toEqual([
        { path: `${ARGS}.value.deep.0.${name}`, message: `property ${name} is not allowed` },
      ]);
      const top = JSON.parse(`{"value": 1, "${name}": "x"}`) as unknown;
      expect(pathsOf(validationError(() => echo.parseArgs(top, ARGS)))).toEqual([`${ARGS}.${name}`]);
    },
  );

  it('turns {constructor: 1} nested in a value into a validation error, never a TypeError', () => {
    expect(pathsOf(validationError(() => echo.parseArgs({ value: { a: { constructor: 1 } } }, ARGS)))).toEqual([`${ARGS}.value.a.constructor`]);
  });
});

describe('HttpConnector', () => {
  describe('parseArgs', () => {
    const http = new HttpConnector(['https://api.example.com/v1/', 'http://127.0.0.1:8080/']);

    it('accepts a URL under an allowed prefix', () => {
      const args = http.parseArgs({ method: 'POST', url: 'https://api.example.com/v1/orders', body: { a: 1 }, headers: { 'x-trace': 't' } }, ARGS);
      expect(args).toMatchObject({ method: 'POST', url: 'https://api.example.com/v1/orders', body: { a: 1 }, headers: { 'x-trace': 't' } });
      expect(http.parseArgs({ method: 'GET', url: 'http://127.0.0.1:8080/health' }, ARGS).url).toBe('http://127.0.0.1:8080/health');
    });

    it.each([
      ['another host', 'https://evil.example.com/v1/orders'],
      ['another path on an allowed host', 'https://api.example.com/v2/orders'],
      ['http instead of https', 'http://api.example.com/v1/orders'],
      ['another port', 'http://127.0.0.1:8081/health'],
    ])('rejects a URL on %s, naming the url path but never the allowlist (server configuration)', (_what, url) => {
      const error = validationError(() => http.parseArgs({ method: 'GET', url }, ARGS));
      expect(error.details).toEqual([
        { path: `${ARGS}.url`, message: 'url is not under an allowed prefix (the service operator sets HTTP_CONNECTOR_ALLOWLIST)' },
      ]);
      expect(JSON.stringify(error.details)).not.toMatch(/api\.example\.com|127\.0\.0\.1:8080/);
    });

    it('rejects every URL when the allowlist is empty, with the same words (whether it is empty is configuration too)', () => {
      const error = validationError(() => new HttpConnector([]).parseArgs({ method: 'GET', url: 'https://api.example.com/v1/x' }, ARGS));
      expect(error.details[0]).toEqual({
        path: `${ARGS}.url`,
        message: 'url is not under an allowed prefix (the service operator sets HTTP_CONNECTOR_ALLOWLIST)',
      });
    });

    it.each([
      'Authorization',
      'authorization',
      'Proxy-Authorization',
      'Cookie',
      'X-Api-Key',
      'Api-Key',
      'X-Auth-Token',
      'X-Session-Token',
      'x-client-secret',
      'X-Password',
      'Ocp-Apim-Subscription-Key',
      'X-Functions-Key',
      'X-RapidAPI-Key',
      'X-Goog-Api-Key',
      'X-Jwt-Assertion',
      'X-Authorization',
      'X-Authentication',
      'X-CSRFToken',
      'X-SessionId',
      'X-Cookie',
      'X-Passphrase',
    ])('refuses the credential header %s with a 400 that says what to do instead', (name) => {
      const error = validationError(() => http.parseArgs({ method: 'POST', url: 'https://api.example.com/v1/x', headers: { [name]: 'Bearer s3cret' } }, ARGS));
      expect(error.details).toEqual([{ path: `${ARGS}.headers.${name}`, message: expect.stringContaining('looks like a credential') as string }]);
      expect(error.details[0]?.message).toContain('Allowlist a gateway prefix that adds the credential');
      expect(JSON.stringify(error.details)).not.toContain('s3cret');
    });

    it.each(['X-Trace', 'Accept', 'Content-Type', 'X-Request-Id', 'If-Match', 'X-Keyboard-Layout', 'Monkey', 'X-Passthrough', 'X-Author-Name'])(
      'keeps the ordinary header %s',
      (name) => {
        expect(http.parseArgs({ method: 'POST', url: 'https://api.example.com/v1/x', headers: { [name]: 'v' } }, ARGS).headers).toEqual({ [name]: 'v' });
      },
    );

    it.each(['Idempotency-Key', 'idempotency-key', 'IDEMPOTENCY-KEY'])('rejects a user-supplied %s header', (name) => {
      const error = validationError(() => http.parseArgs({ method: 'POST', url: 'https://api.example.com/v1/x', headers: { [name]: 'mine' } }, ARGS));
      expect(error.details).toEqual([{ path: `${ARGS}.headers.${name}`, message: expect.stringContaining('set by the service') as string }]);
    });

    it('rejects non-string header values', () => {
      const error = validationError(() => http.parseArgs({ method: 'GET', url: 'https://api.example.com/v1/x', headers: { 'x-n': 1 } }, ARGS));
      expect(pathsOf(error)).toEqual([`${ARGS}.headers.x-n`]);
    });

    it.each(['get', 'HEAD', 'CONNECT', undefined])('rejects method %p', (method) => {
      expect(pathsOf(validationError(() => http.parseArgs({ method, url: 'https://api.example.com/v1/x' }, ARGS)))).toEqual([`${ARGS}.method`]);
    });

    it.each(['not a url', 'ftp://api.example.com/v1/x', '/v1/x'])('rejects url %p', (url) => {
      expect(pathsOf(validationError(() => http.parseArgs({ method: 'GET', url }, ARGS)))).toContain(`${ARGS}.url`);
    });

    it('rejects unknown keys', () => {
      expect(pathsOf(validationError(() => http.parseArgs({ method: 'GET', url: 'https://api.example.com/v1/x', timeout: 5 }, ARGS)))).toEqual([
        `${ARGS}.timeout`,
      ]);
    });

    const urlDetail = (connector: HttpConnector, url: string) => {
      const error = validationError(() => connector.parseArgs({ method: 'GET', url }, ARGS));
      expect(pathsOf(error)).toEqual([`${ARGS}.url`]);
      return error.details[0]!;
    };

    it.each([
      ['a host that merely starts with the allowed host', ['https://api.example.com'], 'https://api.example.com.evil.net/x'],
      ['a host that extends the allowed host and path', ['https://api.example.com/v1/'], 'https://api.example.com.evil.net/v1/x'],
      ['dot segments climbing out of the prefix', ['https://api.example.com/v1/'], 'https://api.example.com/v1/../admin'],
      ['encoded dot segments climbing out', ['https://api.example.com/v1/'], 'https://api.example.com/v1/%2e%2e/admin'],
      ['an encoded slash', ['https://api.example.com/v1/'], 'https://api.example.com/v1/..%2Fadmin'],
      ['a sibling path sharing a text prefix', ['https://api.example.com/v1'], 'https://api.example.com/v10/x'],
      ['the allowed origin as userinfo of another host', ['http://127.0.0.1:8080'], 'http://127.0.0.1:8080@localhost:9000/'],
      ['another port written after the allowed one', ['http://127.0.0.1:8080'], 'http://127.0.0.1:80801/'],
    ])('rejects %s', (_what, allowlist, url) => {
      urlDetail(new HttpConnector(allowlist), url);
    });

    it.each(['https://user:pw@api.example.com/v1/x', 'https://user@api.example.com/v1/x', 'http://127.0.0.1:8080@127.0.0.1:8080/x'])(
      'rejects a URL with credentials (%s), saying so',
      (url) => {
        expect(urlDetail(http, url).message).toContain('username or password');
      },
    );

    it.each([
      ['https://api.example.com/v1', 'https://api.example.com/v1'],
      ['https://api.example.com/v1', 'https://api.example.com/v1/'],
      ['https://api.example.com/v1', 'https://api.example.com/v1/orders?x=1'],
      ['https://api.example.com/v1/', 'https://api.example.com/v1/orders/7'],
      ['https://api.example.com/v1/', 'https://api.example.com/v1/a/../orders'],
      ['https://api.example.com', 'https://api.example.com/anything'],
      ['https://api.example.com/', 'https://API.Example.com:443/x'],
      ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080/health'],
    ])('prefix %s admits %s', (prefix, url) => {
      expect(new HttpConnector([prefix]).parseArgs({ method: 'GET', url }, ARGS).url).toBe(url);
    });

    it.each([
      ['bad name', 'header names'],
      ['x:y', 'header names'],
      ['x(y)', 'header names'],
      ['é', 'header names'],
      ['x-crlf', 'control characters'],
      ['x-lf', 'control characters'],
      ['x-nul', 'NUL character'], // caught by the generic NUL guard in validateContract, before the header rules,
      ['x-euro', 'U+00FF'],
      ['Host', 'managed by the HTTP client'],
      ['Transfer-Encoding', 'managed by the HTTP client'],
      ['connection', 'managed by the HTTP client'],
    ])('rejects header %p at parseArgs, on the header path', (name, message) => {
      const values: Record<string, string> = { 'x-crlf': 'a\r\nInjected: 1', 'x-lf': 'a\nb', 'x-nul': 'a\u0000b', 'x-euro': '€' };
      const headers = { [name]: values[name] ?? 'v' };
      const error = validationError(() => http.parseArgs({ method: 'POST', url: 'https://api.example.com/v1/x', headers }, ARGS));
      expect(error.details).toEqual([{ path: `${ARGS}.headers.${name}`, message: expect.stringContaining(message) as string }]);
    });

    it('rejects one header given twice under different cases', () => {
      const headers = { 'X-Trace': 'a', 'x-trace': 'b' };
      const error = validationError(() => http.parseArgs({ method: 'GET', url: 'https://api.example.com/v1/x', headers }, ARGS));
      expect(pathsOf(error)).toEqual([`${ARGS}.headers.x-trace`]);
    });

    it('accepts ordinary header names and values (tab, obs-text, empty)', () => {
      const headers = { "x-a!#$%&'*+-.^_`|~9": 'v', 'x-tab': 'a\tb', 'x-latin1': 'é', 'x-empty': '', 'Content-Type': 'text/plain' };
      expect(http.parseArgs({ method: 'POST', url: 'https://api.example.com/v1/x', headers }, ARGS).headers).toEqual(headers);
    });
  });

  describe('checkAllowlist (the one matcher behind parseArgs and execute)', () => {
    it.each([
      ['https://api.example.com/v1/x', ['https://api.example.com/v1'], true],
      ['https://api.example.com/v1', ['https://api.example.com/v1/'], true],
      ['https://api.example.com/v10', ['https://api.example.com/v1'], false],
      ['https://api.example.com.evil.net/', ['https://api.example.com'], false],
      ['https://api.example.com/x', ['http://api.example.com/'], false],
      ['https://api.example.com:8443/x', ['https://api.example.com/'], false],
      ['https://api.example.com/x', ['not a url', 'https://api.example.com/'], true],
      ['https://api.example.com/x', ['https://u:p@api.example.com/'], false],
      ['https://api.example.com/x', [], false],
    ])('%s under %j → %p', (url, allowlist, allowed) => {
      expect(checkAllowlist(url, allowlist).allowed).toBe(allowed);
    });

    it('names why a URL is refused', () => {
      expect(checkAllowlist('nope', ['https://a.example/'])).toEqual({ allowed: false, reason: 'invalid' });
      expect(checkAllowlist('ftp://a.example/', ['https://a.example/'])).toEqual({ allowed: false, reason: 'invalid' });
      expect(checkAllowlist('https://u@a.example/', ['https://a.example/'])).toEqual({ allowed: false, reason: 'credentials' });
      expect(checkAllowlist('https://a.example/x%2fy', ['https://a.example/'])).toEqual({ allowed: false, reason: 'encoded-separator' });
      expect(checkAllowlist('https://b.example/', ['https://a.example/'])).toEqual({ allowed: false, reason: 'not-listed' });
    });
  });

  describe('execute against a loopback server', () => {
    interface Seen {
      method: string;
      url: string;
      headers: IncomingMessage['headers'];
      rawHeaders: string[];
      body: string;
    }
    let server: Server;
    let base: string;
    const seen: Seen[] = [];
    /** A second server, never allow-listed: nothing may reach it. */
    let other: Server;
    let elsewhere: string;
    const reachedElsewhere: string[] = [];

    beforeAll(async () => {
      server = createServer((req: IncomingMessage, res: ServerResponse) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          seen.push({
            method: req.method ?? '',
            url: req.url ?? '',
            headers: req.headers,
            rawHeaders: req.rawHeaders,
            body: Buffer.concat(chunks).toString('utf8'),
          });
          const status = Number(/^\/status\/(\d+)/.exec(req.url ?? '')?.[1] ?? 200);
          if (req.url === '/text') {
            res.writeHead(200, { 'content-type': 'text/plain' }).end('plain words');
            return;
          }
          const redirect = /^\/redirect\/(\d+)/.exec(req.url ?? '');
          if (redirect) {
            const headers = req.url?.endsWith('/nowhere') ? {} : { location: `${elsewhere}/stolen` };
            res.writeHead(Number(redirect[1]), headers).end();
            return;
          }
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status, path: req.url }));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      other = createServer((req, res) => {
        reachedElsewhere.push(req.url ?? '');
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"stolen":true}');
      });
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      elsewhere = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      for (const s of [server, other]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    });

    beforeEach(() => {
      seen.length = 0;
      reachedElsewhere.length = 0;
    });

    const connector = () => new HttpConnector([`${base}/`]);
    const call = (args: unknown, ctx: Partial<TaskContext> = {}) => {
      const http = connector();
      return http.execute(http.parseArgs(args, ARGS), context(ctx));
    };

    it('sends the task key as Idempotency-Key, the JSON body and the user headers; 200 → {status, body}', async () => {
      const result = await call(
        { method: 'POST', url: `${base}/orders`, body: { item: 'book', qty: 2 }, headers: { 'x-trace': 'abc' } },
        { taskKey: 'tk_123' },
      );
      expect(result).toEqual({ status: 200, body: { status: 200, path: '/orders' } });
      expect(seen).toHaveLength(1);
      expect(seen[0]?.method).toBe('POST');
      expect(seen[0]?.headers['idempotency-key']).toBe('tk_123');
      expect(seen[0]?.headers['content-type']).toBe('application/json');
      expect(seen[0]?.headers['x-trace']).toBe('abc');
      expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ item: 'book', qty: 2 });
    });

    it(`keeps a response body up to ${MAX_HTTP_RESPONSE_BYTES} bytes; beyond, its first bytes, its size and truncated: true`, () => {
      const small = 'a'.repeat(MAX_HTTP_RESPONSE_BYTES);
      expect(keptBody(small)).toEqual({ body: small });
      expect(keptBody('{"a":1}')).toEqual({ body: { a: 1 } });
      const big = `{"x":"${'é'.repeat(MAX_HTTP_RESPONSE_BYTES)}"}`;
      const kept = keptBody(big) as { body: string; truncated: true; bytes: number };
      expect(kept.truncated).toBe(true);
      expect(kept.bytes).toBe(Buffer.byteLength(big));
      expect(Buffer.byteLength(kept.body)).toBeLessThanOrEqual(MAX_HTTP_RESPONSE_BYTES);
      expect(big.startsWith(kept.body)).toBe(true);
    });

    it('sends no body on GET', async () => {
      await expect(call({ method: 'GET', url: `${base}/thing`, body: { ignored: true } })).resolves.toMatchObject({ status: 200 });
      expect(seen[0]).toMatchObject({ method: 'GET', body: '' });
      expect(seen[0]?.headers['idempotency-key']).toBe('tk_test');
    });

    it('returns a non-JSON body as text', async () => {
      await expect(call({ method: 'GET', url: `${base}/text` })).resolves.toEqual({ status: 200, body: 'plain words' });
    });

    it('treats a 5xx answer as transient', async () => {
      const error = await call({ method: 'POST', url: `${base}/status/503`, body: {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientTaskError);
      expect(isTransient(error)).toBe(true);
      expect((error as Error).message).toContain('503');
    });

    it('treats a 4xx answer as permanent', async () => {
      const error = await call({ method: 'DELETE', url: `${base}/status/404` }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentTaskError);
      expect(isTransient(error)).toBe(false);
      expect((error as Error).message).toContain('404');
    });

    it('treats a refused connection as transient', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const http = new HttpConnector([`http://127.0.0.1:${port}/`]);
      const error = await http.execute(http.parseArgs({ method: 'GET', url: `http://127.0.0.1:${port}/x` }, ARGS), context()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientTaskError);
    });

    it('treats an aborted call (cancel) as transient, not as an answer', async () => {
      const aborted = new AbortController();
      aborted.abort();
      const error = await call({ method: 'GET', url: `${base}/x` }, { signal: aborted.signal }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientTaskError);
    });

    it.each([301, 302, 303, 307, 308])('never follows a %i redirect: permanent, naming the Location', async (status) => {
      const error = await call({ method: 'POST', url: `${base}/redirect/${status}`, body: { a: 1 } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentTaskError);
      expect((error as Error).message).toContain(String(status));
      expect((error as Error).message).toContain(`${elsewhere}/stolen`);
      expect(seen).toHaveLength(1);
      expect(reachedElsewhere).toEqual([]);
    });

    it('treats a 3xx without a Location as permanent too', async () => {
      const error = await call({ method: 'GET', url: `${base}/redirect/300/nowhere` }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentTaskError);
      expect((error as Error).message).toContain('no Location');
    });

    it('lets a user Content-Type replace the default instead of adding a second one', async () => {
      await call({ method: 'POST', url: `${base}/typed`, body: 'raw', headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
      expect(seen[0]?.headers['content-type']).toBe('text/plain; charset=utf-8');
      await call({ method: 'POST', url: `${base}/typed`, body: {}, headers: { 'CONTENT-TYPE': 'application/merge-patch+json' } });
      expect(seen[1]?.headers['content-type']).toBe('application/merge-patch+json');
      expect(seen[1]?.rawHeaders.filter((h) => h.toLowerCase() === 'content-type')).toHaveLength(1);
    });

    it('re-checks with the same matcher at execute: a text-prefix match is not enough', async () => {
      // Parsed under a wider allowlist, executed under a narrower one whose path is a mere text prefix.
      const args = new HttpConnector([`${base}/`]).parseArgs({ method: 'GET', url: `${base}/v10/x` }, ARGS);
      const error = await new HttpConnector([`${base}/v1`]).execute(args, context()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentTaskError);
      expect(seen).toHaveLength(0);
    });

    it('re-checks credentials at execute, without sending', async () => {
      const port = new URL(base).port;
      const args: HttpArgs = { method: 'GET', url: `http://127.0.0.1:${port}@127.0.0.1:${port}/x` };
      const error = await connector()
        .execute(args, context())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentTaskError);
      expect(seen).toHaveLength(0);
    });

    it('refuses, permanently and without sending, a URL that is no longer allow-listed', async () => {
      const args = connector().parseArgs({ method: 'POST', url: `${base}/orders`, body: {} }, ARGS);
      const now = new HttpConnector(['https://elsewhere.example.com/']);
      const error = await now.execute(args, context()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentTaskError);
      expect((error as Error).message).toContain('no longer');
      expect(seen).toHaveLength(0);
    });
  });
});

describe('FaultConnector', () => {
  const settings = new Map<string, string>();
  const reads: string[] = [];
  const fault = new FaultConnector((key) => {
    reads.push(key);
    return Promise.resolve(settings.get(key));
  });
  const parse = (args: unknown): FaultArgs => fault.parseArgs(args, ARGS);

  beforeEach(() => {
    settings.clear();
    reads.length = 0;
  });

  it('permanent always fails permanently', async () => {
    for (const attempt of [1, 2, 10]) {
      const error = await fault.execute(parse({ mode: 'permanent' }), context({ attempt })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentTaskError);
      expect(isTransient(error)).toBe(false);
    }
  });

  it('transient with failTimes 2 fails attempts 1 and 2, then succeeds on 3', async () => {
    const args = parse({ mode: 'transient', failTimes: 2 });
    await expect(fault.execute(args, context({ attempt: 1 }))).rejects.toBeInstanceOf(TransientTaskError);
    await expect(fault.execute(args, context({ attempt: 2 }))).rejects.toBeInstanceOf(TransientTaskError);
    await expect(fault.execute(args, context({ attempt: 3 }))).resolves.toEqual({ mode: 'transient', attempt: 3 });
  });

  it('transient without failTimes fails once', async () => {
    const args = parse({ mode: 'transient' });
    await expect(fault.execute(args, context({ attempt: 1 }))).rejects.toBeInstanceOf(TransientTaskError);
    await expect(fault.execute(args, context({ attempt: 2 }))).resolves.toEqual({ mode: 'transient', attempt: 2 });
  });

  it("until-fixed fails permanently until the setting fault.<flag> is 'fixed'", async () => {
    const args = parse({ mode: 'until-fixed', flag: 'drill-1' });
    const error = await fault.execute(args, context()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentTaskError);
    expect((error as Error).message).toContain('fault.drill-1');
    expect(reads).toEqual(['fault.drill-1']);

    settings.set('fault.drill-1', 'broken');
    await expect(fault.execute(args, context())).rejects.toBeInstanceOf(PermanentTaskError);
    settings.set('fault.other', 'fixed');
    await expect(fault.execute(args, context())).rejects.toBeInstanceOf(PermanentTaskError);

    settings.set('fault.drill-1', 'fixed');
    await expect(fault.execute(args, context({ attempt: 4 }))).resolves.toEqual({ mode: 'until-fixed', attempt: 4 });
  });

  it.each([
    ['until-fixed without a flag', { mode: 'until-fixed' }, `${ARGS}.flag`],
    ['a flag outside until-fixed', { mode: 'permanent', flag: 'x' }, `${ARGS}.flag`],
    ['a flag in transient mode', { mode: 'transient', flag: 'x' }, `${ARGS}.flag`],
    ['failTimes outside transient', { mode: 'permanent', failTimes: 2 }, `${ARGS}.failTimes`],
    ['failTimes in until-fixed mode', { mode: 'until-fixed', flag: 'x', failTimes: 2 }, `${ARGS}.failTimes`],
    ['an unknown mode', { mode: 'sometimes' }, `${ARGS}.mode`],
    ['failTimes 0', { mode: 'transient', failTimes: 0 }, `${ARGS}.failTimes`],
    ['failTimes 101', { mode: 'transient', failTimes: 101 }, `${ARGS}.failTimes`],
    ['a flag with spaces', { mode: 'until-fixed', flag: 'a b' }, `${ARGS}.flag`],
    ['an unknown key', { mode: 'permanent', extra: 1 }, `${ARGS}.extra`],
  ])('parseArgs rejects %s', (_what, args, path) => {
    expect(pathsOf(validationError(() => parse(args)))).toEqual([path]);
  });

  it('parseArgs accepts each valid mode', () => {
    expect(parse({ mode: 'permanent' })).toMatchObject({ mode: 'permanent' });
    expect(parse({ mode: 'transient', failTimes: 100 })).toMatchObject({ mode: 'transient', failTimes: 100 });
    expect(parse({ mode: 'until-fixed', flag: 'a.b_c-1' })).toMatchObject({ mode: 'until-fixed', flag: 'a.b_c-1' });
  });
});

describe('isTransient', () => {
  it('is true only for TransientTaskError', () => {
    expect(isTransient(new TransientTaskError('x'))).toBe(true);
    expect(isTransient(new PermanentTaskError('x'))).toBe(false);
    expect(isTransient(new Error('x'))).toBe(false);
    expect(isTransient(Object.assign(new Error('x'), { name: 'TransientTaskError' }))).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });

  it('names the error kinds so a stored error says which it was', () => {
    expect(new TransientTaskError('x').name).toBe('TransientTaskError');
    expect(new PermanentTaskError('x').name).toBe('PermanentTaskError');
  });
});

describe('ConnectorRegistry', () => {
  const custom: Connector<{ n: number }> = {
    name: 'custom',
    parseArgs: () => ({ n: 1 }),
    execute: () => Promise.resolve('done'),
  };

  it('finds registered connectors, including user-added ones', () => {
    const echo = new EchoConnector();
    const registry = new ConnectorRegistry([echo, new FaultConnector(() => Promise.resolve(undefined))]);
    registry.register(custom);
    expect(registry.get('echo')).toBe(echo);
    expect(registry.get('custom')).toBe(custom);
    expect(registry.names()).toEqual(['custom', 'echo', 'fault']);
  });

  it('rejects an unknown connector with a validation error naming the registered ones', () => {
    const registry = new ConnectorRegistry([new EchoConnector(), new HttpConnector([])]);
    const error = validationError(() => registry.get('smtp', 'inputs.tasks.3.connector'));
    expect(error.details).toEqual([{ path: 'inputs.tasks.3.connector', message: 'unknown connector "smtp" (registered: echo, http)' }]);
    expect(pathsOf(validationError(() => registry.get('smtp')))).toEqual(['connector']);
  });

  it('refuses to register two connectors under one name', () => {
    const registry = new ConnectorRegistry([new EchoConnector()]);
    expect(() => registry.register(new EchoConnector())).toThrow('connector "echo" is registered twice');
    expect(() => new ConnectorRegistry([custom, custom])).toThrow('registered twice');
  });
});
