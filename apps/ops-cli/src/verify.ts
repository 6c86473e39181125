import type { AppConfig } from '#common';
import { resolveDatabases } from '#db';
import { runInvariantCheck } from '../../../libs/proof/src/invariants/invariants.js';
import type { Io } from './io.js';

/**
 * The SQL oracle, without Nest or DBOS: every invariant in db/invariants judged on one snapshot.
 * Exit code 0 when all hold, 1 on a violation (the report's last line names them), 2 when the oracle
 * cannot judge this setup (app and system databases differ, or a schema is missing).
 */
export async function runVerify(config: AppConfig, io: Io): Promise<number> {
  const databases = await resolveDatabases(config);
  try {
    return await runInvariantCheck(
      databases,
      (text) => io.out(text),
      (text) => io.err(`verify: ${text}`),
    );
  } finally {
    await databases.embedded?.stop();
  }
}
