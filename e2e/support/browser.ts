import Chromium from '@sparticuz/chromium';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** Flags on top of the package's own (headless shell, no sandbox): nothing reaches off the machine unasked. */
const EXTRA_ARGS = ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/**
 * The Chromium that the npm package @sparticuz/chromium carries (a compressed binary in its bin/,
 * inflated into the temp folder on first use): nothing is downloaded at install or run time and no
 * system browser is needed. Returns the path it launched, so a test can check which browser ran.
 */
export async function launchChromium(): Promise<{ browser: Browser; executablePath: string }> {
  const executablePath = await Chromium.executablePath();
  const browser = await chromium.launch({ executablePath, args: [...Chromium.args, ...EXTRA_ARGS], timeout: 60_000 });
  return { browser, executablePath };
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
