import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Chromium from '@sparticuz/chromium';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** Flags on top of the package's own (headless shell, no sandbox): nothing reaches off the machine unasked. */
const EXTRA_ARGS = ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/**
 * The Chromium that the npm package @sparticuz/chromium carries (a compressed binary and its graphics
 * libraries in its bin/, inflated on first use): nothing is downloaded at install or run time and no
 * system browser is needed. The package inflates into the temp folder and then trusts any `chromium`
 * binary it finds there, whatever else is missing: on a machine whose /tmp is shared and cleaned by
 * others, a binary left without its swiftshader libraries crashed on its first page. So each launch
 * inflates into a folder of its own, removed again by `close`. Returns the path it launched, so a
 * test can check which browser ran.
 */
export async function launchChromium(): Promise<{ browser: Browser; executablePath: string; close: () => Promise<void> }> {
  const folder = mkdtempSync(join(tmpdir(), 'durable-ops-chromium-'));
  // In a child process whose temp folder is that folder (Jest's process.env is a copy that Node's own
  // os.tmpdir() does not read, so it cannot be redirected here).
  const inflate = "import('@sparticuz/chromium').then(async (m) => process.stdout.write(await m.default.executablePath()))";
  const executablePath = execFileSync(process.execPath, ['--input-type=module', '-e', inflate], {
    env: { ...process.env, TMPDIR: folder },
    encoding: 'utf8',
    timeout: 120_000,
  }).trim();
  const remove = () => rmSync(folder, { recursive: true, force: true });
  try {
    const browser = await chromium.launch({ executablePath, args: [...Chromium.args, ...EXTRA_ARGS], timeout: 60_000 });
    const close = async () => {
      try {
        await browser.close();
      } finally {
        remove();
      }
    };
    return { browser, executablePath, close };
  } catch (error) {
    remove();
    throw error;
  }
}

/**
 * A browser context that may only talk to 127.0.0.1: every other request is aborted and recorded,
 * so a test can assert the page never reached off the machine.
 */
export async function loopbackContext(browser: Browser): Promise<{ context: BrowserContext; blocked: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  context.setDefaultTimeout(30_000);
  const blocked: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    const loopback = url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:';
    if (loopback) return route.continue();
    blocked.push(url.toString());
    return route.abort('blockedbyclient');
  });
  return { context, blocked };
}
