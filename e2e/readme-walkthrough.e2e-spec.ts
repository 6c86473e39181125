import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '#common';
import { createTestDatabase, type TestDatabase } from '../test/support/test-database.js';
import { startService, type ServiceProcess } from '../tools/harness/index.js';

/** The README's curl walkthrough, run verbatim (only BASE points at this test's port). */
describe('README walkthrough', () => {
  let database: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    service = await startService('readme-walkthrough', { DATABASE_URL: database.url });
  });
  afterAll(async () => {
    service?.child.kill('SIGTERM');
    await service?.exited();
    await database?.drop();
  });

  it('works as written', () => {
    const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
    const block = /<!-- walkthrough:start -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme)?.[1];
    expect(block).toBeDefined();
    expect(block).toContain('BASE=http://localhost:3000');
    const script = `set -euo pipefail\n${block!.replace('BASE=http://localhost:3000', `BASE=${service.baseUrl}`)}`;
    const output = execFileSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });

    expect(output).toMatch(/intent: it_[0-9a-f]{32}/);
    expect(output).toMatch(/run: run_[0-9a-f]+/);
    expect(output).toContain('"status": "succeeded"');
    expect(output).toContain('"dbosStatus": "SUCCESS"');
    const stepLines = output.split('\n').filter((l) => /^\d+ \w+ \w+ \d+ms$/.test(l));
    expect(stepLines.map((l) => l.split(' ')[1])).toEqual(['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST']);
    for (const kind of ['CompileST plan_card', 'ApplyPatchST patch_card', 'DecideST decision', 'ExecuteST execution_report']) expect(output).toContain(kind);
  });
});
