import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '#common';
import { runScript } from '../tools/harness/index.js';

/**
 * One round of `wf:intent:chaos` in `npm test`: the chaos runner (dist-tools/tools/chaos/main.js)
 * boots the built service on a throwaway database of the test server, kill -9s it mid-ExecuteST,
 * in a durable sleep and mid control action, restarts it, cancels and resumes sleeping runs, and
 * proves exactly-once (its own SQL, every effect counted at the effect server, and `ops verify`). It exits 0 only when everything holds; the full soak
 * (`wf:intent:chaos:soak`, 20 rounds) runs in `mise run full`.
 */
describe('wf:intent:chaos (one round)', () => {
  it('survives kill -9 mid-ExecuteST, mid-sleep and mid control action, exactly once', async () => {
    const root = projectRoot();
    const adminUrl = process.env.DURABLE_OPS_TEST_ADMIN_URL;
    if (!adminUrl) throw new Error('no test server: run through jest (globalSetup starts it)');
    // The round's throwaway database lives on the test server (real or embedded).
    const result = await runScript(join(root, 'dist-tools', 'tools', 'chaos', 'main.js'), ['--rounds', '1'], {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATABASE_URL: adminUrl,
    });
    const { code } = result;
    const output = result.stdout + result.stderr;
    mkdirSync(join(root, 'e2e', 'artifacts'), { recursive: true });
    writeFileSync(join(root, 'e2e', 'artifacts', 'chaos-e2e.log'), output);
    if (code !== 0) throw new Error(`the chaos round exited ${code}:\n${output}`);
    expect(output).toMatch(/round 1\/1 \[[a-z-]+\] PASS/);
    // The oracle ran and judged (a round fails without it), and the effects were counted at the server.
    expect(output).toMatch(/ops verify: all \d+ invariants hold/);
    expect(output).toMatch(/effects: \d+ requests for \d+ keys = one per task \+ \d+ answered 503 \+ \d+ in-flight task\(s\) re-sent after a crash/);
  }, 240_000);
});
