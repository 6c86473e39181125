import { Injectable } from '@nestjs/common';
import { CompiledQuery } from 'kysely';
import { Database, type ReceiptStatus } from '#db';
import type { StepSql } from '#dbos';

export interface ReceiptKey {
  readonly taskKey: string;
  readonly runId: string;
  readonly lineageRoot: string;
  readonly taskIndex: number;
  readonly connector: string;
}

/** Who is claiming: the run's execution (its DBOS ownership token) and what the run allows. */
export interface Claimant {
  /** The DBOS ownership token of this execution of the run. */
  readonly execution: string;
  /** The run's maxAttempts (its patch_card). */
  readonly maxAttempts: number;
  /**
   * Check in the claim's own transaction that the run's DBOS workflow is PENDING and owned by
   * `execution` (only possible when the app and DBOS system schemas share a database; otherwise the
   * caller checks just before).
   */
  readonly checkLive: boolean;
}

/** The outcome of one send, settled durably with the next claim (or on its own). */
export type Settlement =
  | { readonly taskKey: string; readonly seq: number; readonly status: 'succeeded'; readonly output: unknown }
  | { readonly taskKey: string; readonly seq: number; readonly status: 'failed'; readonly error: { name: string; message: string } };

/**
 * What a claim found: `replay` (the receipt succeeded, no effect), `attempt` (a new attempt),
 * `resend` (the run's last attempt never settled: sent again with the same key), `spent` (the run
 * used all its attempts), `unrunnable` (nothing counted), `refused` (this execution is not the
 * run's live one: cancelled, or superseded by a resume).
 */
export type ClaimVerdict = 'replay' | 'attempt' | 'resend' | 'spent' | 'unrunnable' | 'refused';

export interface Claim {
  verdict: ClaimVerdict;
  status: ReceiptStatus | null;
  /** The receipt's attempts across the lineage, this one included: the attempt number the connector sees. */
  attempts: number | null;
  /** The attempt within this run (1-based). */
  attempt: number | null;
  /** The send's sequence number on the task (settle it with this). */
  seq: number | null;
  output: unknown;
  /** The run whose execution produced the effect (for a succeeded receipt). */
  run_id: string | null;
}

/**
 * app.claim_task's two calls, as constant texts (each run's ExecuteST sends both; building and
 * compiling them per call showed in profiles): a claim, which also settles the previous send, and a
 * settlement alone.
 */
const CLAIM_SQL = `SELECT * FROM app.claim_task($1::jsonb, $2, $3, $4, $5::integer, $6, $7, $8, $9::integer, $10)`;
const SETTLE_SQL = `SELECT * FROM app.claim_task($1::jsonb, NULL, $2, NULL, NULL, NULL, false, $3, $4::integer, $5)`;

/** One row per task effect (task_key), shared by every run of a lineage; one app.task_attempts row per send. */
@Injectable()
export class ReceiptsRepository {
  constructor(private readonly db: Database) {}

  /**
   * One statement (app.claim_task): settles `settle` (the previous task's outcome, so it is durable
   * before the next effect) and claims `key`'s task for this execution, counting the attempt before
   * the effect unless the receipt already succeeded or `attempting` is false (a task that can no
   * longer run). Both only for the run's live execution.
   */
  async claim(settle: Settlement | undefined, key: ReceiptKey, attempting: boolean, claimant: Claimant): Promise<Claim> {
    const { rows } = await this.db.executeQuery<Claim>(
      CompiledQuery.raw(CLAIM_SQL, [
        settle ? JSON.stringify(settle) : null,
        key.taskKey,
        key.runId,
        key.lineageRoot,
        key.taskIndex,
        key.connector,
        attempting,
        claimant.execution,
        claimant.maxAttempts,
        claimant.checkLive,
      ]),
    );
    const row = rows[0];
    if (!row) throw new Error(`claiming task ${key.taskKey} of ${key.runId} returned nothing`);
    return row;
  }

  /**
   * Settles one send without claiming another (the last task of a step, or a failed one): the same
   * liveness rule as a claim. On `onStep` (the step's checkpoint transaction) it commits with the
   * checkpoint; otherwise on its own.
   */
  async settle(settle: Settlement, runId: string, claimant: Claimant, onStep?: StepSql): Promise<void> {
    const statement = CompiledQuery.raw(SETTLE_SQL, [JSON.stringify(settle), runId, claimant.execution, claimant.maxAttempts, claimant.checkLive]);
    if (onStep) await onStep.execute(statement);
    else await this.db.executeQuery(statement);
  }
}
