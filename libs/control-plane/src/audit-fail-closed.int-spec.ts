import { Injectable } from '@nestjs/common';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';
import { type OpsAction, OpsAuditRepository } from './ops-audit.repository.js';

const OPERATOR = 'failclosed-operator-0123456';
const op = { authorization: `Bearer ${OPERATOR}` };

/** The audit store, failing on demand as a full disk or a lost connection would. */
@Injectable()
class FailingAudit extends OpsAuditRepository {
  failing = false;
  attempts = 0;

  override async record(action: OpsAction): Promise<void> {
    this.attempts++;
    if (this.failing) throw new Error('the audit store is unavailable');
    return super.record(action);
  }
}

describe('control actions are fail-closed: OpsAuditRepository swapped with overrideProvider (@nestjs/testing)', () => {
  let t: TestApp;
  let audit: FailingAudit;

  beforeAll(async () => {
    t = await startTestApp({ API_TOKENS: `alice:operator:${OPERATOR}` }, { override: (b) => b.overrideProvider(OpsAuditRepository).useClass(FailingAudit) });
    audit = t.app.get(OpsAuditRepository);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a cancel whose audit row cannot be written is a 500 and leaves the run as it was; once the store is back it is recorded and applied', async () => {
    expect(audit).toBeInstanceOf(FailingAudit);
    const intent = await t.request('POST', '/api/intents', {
      goal: 'fail closed',
      inputs: { tasks: [{ connector: 'echo', args: { value: 1 } }] },
      constraints: { delayMs: 3_600_000 },
    });
    const runId = (await t.request('POST', '/api/runs', { intentId: intent.body.intentId })).body.runId as string;
    await waitFor('the run to wait', async () => ((await t.request('GET', `/api/runs/${runId}`)).body.status === 'waiting' ? true : undefined));
    const opsRows = () => t.db.selectFrom('app.artifacts').select('action_id').where('run_id', '=', runId).where('step_id', '=', 'OPS').execute();

    audit.failing = true;
    const refused = await t.request('POST', `/api/ops/wf/${runId}/cancel`, { actor: 'alice', reason: 'store down' }, op);
    expect(refused.status).toBe(500);
    expect(refused.body).toMatchObject({ error: 'internal', correlationId: expect.any(String) });
    expect(audit.attempts).toBe(1);
    // No audit row, no action: DBOS still has the run delayed, the projection still waits.
    expect((await t.request('GET', `/api/ops/wf/${runId}`, undefined, op)).body.status).toBe('DELAYED');
    expect((await t.request('GET', `/api/runs/${runId}`)).body.status).toBe('waiting');
    expect(await opsRows()).toEqual([]);

    audit.failing = false;
    const accepted = await t.request('POST', `/api/ops/wf/${runId}/cancel`, { actor: 'alice', reason: 'store back' }, op);
    expect(accepted.status).toBe(202);
    expect((await t.request('GET', `/api/ops/wf/${runId}`, undefined, op)).body.status).toBe('CANCELLED');
    expect(await opsRows()).toEqual([{ action_id: accepted.body.actionId }]);
  });
});
