import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { NOTIFICATION_COALESCE_MS } from './dbos.service.js';

/**
 * DBOS flushes event and stream notifications on a timer (every 10 ms by default) whether or not
 * anything is pending; the service writes neither, so it sets the timer to NOTIFICATION_COALESCE_MS.
 */
describe("DBOS's notifier in an idle service", () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it(`wakes at most once per ${NOTIFICATION_COALESCE_MS} ms, not a hundred times a second`, async () => {
    const system = DBOSExecutor.globalInstance!.systemDatabase as unknown as { flushNotifications: () => Promise<void> };
    const flush = system.flushNotifications.bind(system);
    let wakes = 0;
    system.flushNotifications = async () => {
      wakes += 1;
      return flush();
    };
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } finally {
      system.flushNotifications = flush;
    }
    // With DBOS's default (10 ms) this counts about 200.
    expect(wakes).toBeGreaterThanOrEqual(1);
    expect(wakes).toBeLessThanOrEqual(3);
  });
});
