import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { projectRoot } from '#common';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.js';
import { launchChromium, loopbackContext } from './support/browser.js';
import { startService, type ServiceProcess } from '../tools/harness/index.js';

const UI_TIMEOUT = 30_000;

/** The Swagger UI block of one operation, by tag and Nest's operationId. */
function operation(page: Page, operationId: string, tag = 'ops'): Locator {
  return page.locator(`#operations-${tag}-${operationId}`);
}

/**
 * The top-level "Authorize" dialog: in one scheme's box (`ops` for the control plane, `client` for
 * the data plane), log out whatever is set, apply `token`, close.
 */
async function authorize(page: Page, token: string, schemeName: 'ops' | 'client' = 'ops'): Promise<void> {
  await page.locator('.scheme-container button.authorize').click();
  const modal = page.locator('.dialog-ux .modal-ux');
  await modal.waitFor({ state: 'visible' });
  const scheme = modal.locator('.auth-container').filter({ has: page.locator('h4', { hasText: new RegExp(`^\\s*${schemeName}\\b`) }) });
  const logout = scheme.getByRole('button', { name: 'Remove authorization' });
  if (await logout.isVisible()) await logout.click();
  await scheme.locator('input[aria-label="auth-bearer-value"]').fill(token);
  await scheme.getByRole('button', { name: 'Apply credentials' }).click();
  // Applied: the dialog now offers Logout and masks the value.
  await logout.waitFor({ state: 'visible' });
  await modal.locator('button.btn-done').first().click();
  await modal.waitFor({ state: 'detached' });
}

/** Expands an operation and switches it to "Try it out" (idempotent). */
async function tryItOut(block: Locator): Promise<void> {
  const control = block.locator('button.opblock-summary-control');
  if ((await control.getAttribute('aria-expanded')) !== 'true') await control.click();
  const tryOut = block.locator('button.try-out__btn');
  await tryOut.waitFor({ state: 'visible' });
  if (!(await tryOut.textContent())?.includes('Cancel')) await tryOut.click();
  await block.locator('button.execute').waitFor({ state: 'visible' });
}

/**
 * Clicks Execute and waits for the live response to show `status`, which the OpenAPI document must
 * list for this operation (Swagger UI marks other codes "Undocumented"); returns the rendered body.
 */
async function execute(block: Locator, status: number): Promise<string> {
  const live = block.locator('.live-responses-table tr.response');
  // Clear any earlier response so a stale one cannot satisfy the wait.
  const clear = block.locator('button.btn-clear');
  if (await clear.isVisible()) await clear.click();
  await live.waitFor({ state: 'detached' });
  await block.locator('button.execute').click();
  await live.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  const cell = live.locator('.response-col_status');
  expect(/^\s*(\d{3})/.exec((await cell.textContent()) ?? '')?.[1]).toBe(String(status));
  expect(await cell.locator('.response-undocumented').count()).toBe(0);
  return (await live.locator('.response-col_description').innerText()).trim();
}

/**
 * Swagger UI in a real browser against the built service: the bearer scheme from the OpenAPI
 * document is what the "Authorize" button fills, and the control plane answers the UI with the
 * same auth lattice as curl (401 without a token, 200 for a viewer/operator GET, 403 for a viewer
 * POST).
 */
describe('Swagger UI in Chromium', () => {
  const operatorToken = `op_${randomBytes(16).toString('hex')}`;
  const viewerToken = `view_${randomBytes(16).toString('hex')}`;
  const clientToken = `app_${randomBytes(16).toString('hex')}`;
  let intentId: string;
  let browser: Browser | undefined;
  let executablePath = '';
  let closeBrowser: (() => Promise<void>) | undefined;
  let database: TestDatabase | undefined;
  let service: ServiceProcess | undefined;
  let runId: string;

  beforeAll(async () => {
    ({ browser, executablePath, close: closeBrowser } = await launchChromium());
    database = await createTestDatabase();
    service = await startService('swagger-ui', {
      DATABASE_URL: database.url,
      OPS_API_TOKENS: `alice:operator:${operatorToken},victor:viewer:${viewerToken}`,
      API_TOKENS: `app:client:${clientToken}`,
    });
    const asClient = { authorization: `Bearer ${clientToken}` };
    const intent = await service.request(
      'POST',
      '/api/intents',
      {
        goal: 'ui',
        inputs: { tasks: [{ connector: 'echo', args: { value: 1 } }] },
        constraints: {},
      },
      asClient,
    );
    expect(intent.status).toBe(201);
    intentId = intent.body.intentId as string;
    const run = await service.request('POST', '/api/runs', { intentId }, asClient);
    expect(run.status).toBe(202);
    runId = run.body.runId as string;
    expect(runId).toEqual(expect.any(String));
  });

  afterAll(async () => {
    const failures: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    };
    await attempt(async () => closeBrowser?.());
    await attempt(async () => {
      if (!service || service.child.exitCode !== null || service.child.signalCode !== null) return;
      const gone = service.exited();
      service.child.kill('SIGTERM');
      const timer = setTimeout(() => service?.child.kill('SIGKILL'), 20_000);
      try {
        await gone;
      } finally {
        clearTimeout(timer);
      }
    });
    await attempt(async () => database?.drop());
    if (failures.length > 0) throw failures[0];
  });

  it("runs the Chromium that npm's @sparticuz/chromium carries, not a system browser", () => {
    expect(executablePath).not.toMatch(/^\/usr\//);
    expect(browser!.version()).toMatch(/^\d+\./);
  });

  it('lists runs only once authorized, and refuses a viewer cancel with 403', async () => {
    const { context, blocked } = await loopbackContext(browser!);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const opsRequests: { method: string; url: string; authorization: string | undefined }[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/api/ops/')) {
        opsRequests.push({ method: request.method(), url: request.url(), authorization: request.headers()['authorization'] });
      }
    });

    await page.goto(`${service!.baseUrl}/api/docs`, { waitUntil: 'load' });
    await page.locator('#swagger-ui .information-container .title', { hasText: 'Durable Ops' }).waitFor({ timeout: UI_TIMEOUT });
    await page.locator('.scheme-container button.authorize').waitFor({ state: 'visible' });

    const list = operation(page, 'OpsController_list');
    await list.waitFor({ state: 'visible' });
    await tryItOut(list);

    // No token yet: the UI's own request is refused.
    const unauthorized = await execute(list, 401);
    expect(unauthorized).toContain('"unauthorized"');
    expect(unauthorized).not.toContain(runId);
    expect(opsRequests.at(-1)).toMatchObject({ method: 'GET', authorization: undefined });

    // The Authorize button is what makes it work.
    await authorize(page, operatorToken);
    const listed = await execute(list, 200);
    expect(listed).toContain(runId);
    expect(listed).toContain('"items"');
    expect(opsRequests.at(-1)).toMatchObject({ method: 'GET', authorization: `Bearer ${operatorToken}` });
    expect(new URL(opsRequests.at(-1)!.url).pathname).toBe('/api/ops/wf');

    await list.locator('.live-responses-table').scrollIntoViewIfNeeded();
    const artifacts = join(projectRoot(), 'e2e', 'artifacts');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'swagger-ui-ops-list.png'), fullPage: true });

    // A viewer may read but not act: cancel from the UI is 403, and nothing was done.
    await authorize(page, viewerToken);
    const cancel = operation(page, 'OpsController_cancel');
    await tryItOut(cancel);
    await cancel.locator('tr[data-param-name="id"] input').fill(runId);
    await cancel.locator('textarea.body-param__text').fill(JSON.stringify({ actor: 'ui', reason: 'viewer cannot' }));
    const forbidden = await execute(cancel, 403);
    expect(forbidden).toContain('"forbidden"');
    expect(opsRequests.at(-1)).toMatchObject({ method: 'POST', authorization: `Bearer ${viewerToken}` });
    expect(new URL(opsRequests.at(-1)!.url).pathname).toBe(`/api/ops/wf/${runId}/cancel`);

    const detail = await service!.request('GET', `/api/ops/wf/${runId}`, undefined, { authorization: `Bearer ${viewerToken}` });
    expect(detail.status).toBe(200);
    expect(JSON.stringify(detail.body)).not.toContain('viewer cannot');

    expect(blocked).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });
  it("fills the data plane's own scheme (client): its routes answer 401, then 200 once authorized, and a client token is 403 on the control plane", async () => {
    // A browser of its own: the package's Chromium runs --single-process, and a second context in a
    // browser whose first context has closed never opens its page.
    const own = await launchChromium();
    try {
      await clientSchemeWalk(own.browser);
    } finally {
      await own.close();
    }
  });

  async function clientSchemeWalk(browser: Browser): Promise<void> {
    const { context, blocked } = await loopbackContext(browser);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const requests: { path: string; authorization: string | undefined }[] = [];
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith('/api/intents') || path.startsWith('/api/ops/')) requests.push({ path, authorization: request.headers()['authorization'] });
    });
    await page.goto(`${service!.baseUrl}/api/docs`, { waitUntil: 'load' });
    await page.locator('.scheme-container button.authorize').waitFor({ state: 'visible' });

    const list = operation(page, 'IntentsController_list', 'intents');
    await list.waitFor({ state: 'visible' });
    await tryItOut(list);
    expect(await execute(list, 401)).toContain('"unauthorized"');
    expect(requests.at(-1)).toEqual({ path: '/api/intents', authorization: undefined });

    await authorize(page, clientToken, 'client');
    const listed = await execute(list, 200);
    expect(listed).toContain(intentId);
    expect(requests.at(-1)).toEqual({ path: '/api/intents', authorization: `Bearer ${clientToken}` });

    // The client box fills the data plane only: the control plane still gets no token, then a client
    // token in the ops box is refused as the wrong plane (403, documented).
    const ops = operation(page, 'OpsController_list');
    await tryItOut(ops);
    expect(await execute(ops, 401)).toContain('"unauthorized"');
    expect(requests.at(-1)).toEqual({ path: '/api/ops/wf', authorization: undefined });
    await authorize(page, clientToken, 'ops');
    expect(await execute(ops, 403)).toContain('"forbidden"');

    expect(blocked).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  }
});
