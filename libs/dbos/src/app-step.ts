import { DBOS, Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { currentOwnerXid, functionIDGetIncrement, getCurrentContextStore, runInStepContext } from '@dbos-inc/dbos-sdk/internal/context';
import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { serializeResErrorWithSerializer } from '@dbos-inc/dbos-sdk/internal/serialization';
import { withDbRetry } from '@dbos-inc/dbos-sdk/internal/system_database';
import { sleepms } from '@dbos-inc/dbos-sdk/internal/utils';
import type { CompiledQuery, QueryResult } from 'kysely';
import type { PoolClient } from 'pg';
import { sendTogether } from '#db';
import { withStepSpan } from './dbos-telemetry.js';
import { roundTripStepOutput, stepOutputText } from './plain-json.js';
import { timedStep } from './service-metrics.js';

/** Where a step's SQL runs: inside the step's checkpoint transaction, or on the app pool. */
export interface StepSql {
  /** True when the statements commit in the same transaction as the step's DBOS checkpoint. */
  readonly withCheckpoint: boolean;
  execute<R>(query: CompiledQuery<R>): Promise<R[]>;
}

function onClient(client: PoolClient): StepSql {
  return {
    withCheckpoint: true,
    async execute<R>(query: CompiledQuery<R>): Promise<R[]> {
      const result = await client.query<R & object>(query.sql, query.parameters as unknown[]);
      return result.rows;
    },
  };
}

/** What runAppStep needs of the app database: any Kysely instance. */
export interface QueryExecutor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

function onPool(db: QueryExecutor): StepSql {
  return {
    withCheckpoint: false,
    async execute<R>(query: CompiledQuery<R>): Promise<R[]> {
      return (await db.executeQuery(query)).rows;
    },
  };
}

export interface AppStepOptions {
  /** The app database (Kysely). */
  readonly db: QueryExecutor;
  /**
   * True when the app schema and the DBOS system schema live in one database (the default). The
   * step's statements then run on DBOS's own connection, in the transaction that records the
   * step's checkpoint: the app writes and the checkpoint commit together or not at all.
   */
  readonly sharedDatabase: boolean;
}

/**
 * A DBOS step whose only effects are app-database statements (no external calls, no retries).
 *
 * - Shared database: one transaction holds the step's cancellation check, its checkpoint lookup,
 *   `body`'s statements and the checkpoint itself (checkpointedStep). A crash before the commit
 *   leaves nothing; after it, the step replays from its checkpoint and `body` never runs again.
 *   One commit per step.
 * - Separate system database: a plain `DBOS.runStep` and `body` runs on the app pool. `body` must
 *   then keep its writes to one statement keyed so that a replay writes nothing twice, since the
 *   checkpoint commits separately, after it.
 *
 * With tracing on, the step gets its own span (workflowID, step.name, appVersion) either way; its
 * time goes to durable_ops.step.duration either way.
 */
export function runAppStep<T>(name: string, options: AppStepOptions, body: (sql: StepSql) => Promise<T>): Promise<T> {
  if (!options.sharedDatabase) return timedStep(name, () => DBOS.runStep(() => body(onPool(options.db)), { name }));
  if (!DBOS.isInWorkflow() || DBOS.isInStep()) throw new Error(`${name} must run inside a workflow, outside any step`);
  // Reserved before any await, as every DBOS step call does: the step's place in the workflow.
  const functionID = functionIDGetIncrement();
  const workflowID = DBOS.workflowID ?? '';
  return withStepSpan(name, () => checkpointedStep(workflowID, functionID, name, body));
}

/** The step's place: whether the workflow was cancelled, and its checkpoint if it has one (one row, always). */
const STEP_STATE = `
  SELECT ws.status, oo.function_name, oo.output, oo.error, oo.serialization, oo.child_workflow_id
    FROM (SELECT $1::text AS workflow_uuid) AS k
    LEFT JOIN dbos.workflow_status AS ws ON ws.workflow_uuid = k.workflow_uuid
    LEFT JOIN dbos.operation_outputs AS oo ON oo.workflow_uuid = k.workflow_uuid AND oo.function_id = $2`;

interface StepState {
  status: string | null;
  function_name: string | null;
  output: string | null;
  error: string | null;
  serialization: string | null;
  child_workflow_id: string | null;
}

/** A step's place that this execution may fill: the workflow is not cancelled and the step has no checkpoint. */
function untouched(row: Pick<StepState, 'status' | 'function_name'>): boolean {
  return row.status !== 'CANCELLED' && row.function_name == null;
}

/** db/system/0004_step_checkpoint.sql: ownership check and operation_outputs row, raising on either failure. */
const RECORD_CHECKPOINT = 'SELECT app.record_step_checkpoint($1, $2, $3, $4, $5, $6, $7, $8, $9)';

/** A step's checkpoint row, as app.record_step_checkpoint takes it. */
interface Checkpoint {
  readonly workflowID: string;
  readonly functionID: number;
  readonly name: string;
  readonly output: string | null;
  readonly serialization: string | null;
  readonly startedAt: number;
  readonly completedAt: number;
  /** This execution's ownership token (null: no check, as DBOS does without one). */
  readonly owner: string | null;
}

/**
 * The checkpoints and `COMMIT` of the transaction open on `client`, in one write. A refused checkpoint
 * (ownership lost, step already recorded) aborts the transaction, so the `COMMIT` rolls it back, and
 * is thrown as the DBOS error its own steps raise for it.
 */
async function commitWithCheckpoints(client: PoolClient, checkpoints: readonly Checkpoint[], applicationName: string | null): Promise<void> {
  sendTogether(client);
  const recorded = checkpoints.map((c) =>
    settle(
      client.query(RECORD_CHECKPOINT, [c.workflowID, c.functionID, c.name, c.output, c.startedAt, c.completedAt, c.serialization, c.owner, applicationName]),
    ),
  );
  const committed = client.query('COMMIT');
  const outcomes = await Promise.all(recorded);
  await committed;
  const refused = outcomes.findIndex((outcome) => 'error' in outcome);
  if (refused >= 0) {
    const { workflowID, functionID } = checkpoints[refused]!;
    throw checkpointError((outcomes[refused] as { error: unknown }).error, workflowID, functionID);
  }
}

function launched(name: string): DBOSExecutor {
  const executor = DBOSExecutor.globalInstance;
  if (!executor) throw new Error(`${name}: DBOS is not launched`);
  return executor;
}

/**
 * DBOS 5.3's transactional step (`runTransactionalInternalStep`: the same checks, the same
 * checkpoint row, the same errors) in two round trips instead of six. The statements of one
 * transaction are sent together where nothing in between depends on an answer:
 *
 * 1. `BEGIN`, the step's state (cancelled? checkpointed?) and `body`'s first statement, in one
 *    write. `body` runs before the state is known: when the step turns out to be checkpointed or
 *    the workflow cancelled, its statements are rolled back and its outcome ignored, so it has the
 *    effect DBOS gives it (none) and costs one round trip only on a replay.
 * 2. The checkpoint and `COMMIT`, in one write. The checkpoint raises when this execution no longer
 *    owns the workflow or another one recorded the step first (db/system/0004_step_checkpoint.sql),
 *    and a COMMIT after an error rolls back, so `body`'s statements never commit without it.
 *
 * A failure of `body` is recorded as the step's outcome, as DBOS does, so a replay fails the same way.
 */
async function checkpointedStep<T>(workflowID: string, functionID: number, name: string, body: (sql: StepSql) => Promise<T>): Promise<T> {
  const executor = launched(name);
  const system = executor.systemDatabase;
  const owner = currentOwnerXid(workflowID) ?? null;
  const startedAt = Date.now();
  let bodyError: { error: unknown } | undefined;
  const attempt = async (): Promise<{ stored: StepState } | { fresh: T }> => {
    bodyError = undefined;
    const client = await system.connect();
    let open = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      open = true;
      const state = client.query<StepState>(STEP_STATE, [workflowID, functionID]);
      const ran = settle(body(onClient(client)));
      const [row] = (await state).rows;
      const outcome = await ran;
      if (row && !untouched(row)) {
        open = false;
        await client.query('ROLLBACK');
        if (row.status === 'CANCELLED') throw new DBOSErrors.DBOSWorkflowCancelledError(workflowID);
        return { stored: row };
      }
      if ('error' in outcome) {
        bodyError = outcome;
        throw outcome.error;
      }
      const output = await stepOutputText(executor, outcome.value !== undefined ? outcome.value : null);
      // The COMMIT goes out with the checkpoint: the transaction ends there whatever the outcome.
      open = false;
      const checkpoint = { workflowID, functionID, name, output, serialization: null, startedAt, completedAt: Date.now(), owner };
      await commitWithCheckpoints(client, [checkpoint], system.appName ?? null);
      return { fresh: outcome.value };
    } catch (error) {
      if (open) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
  let result: { stored: StepState } | { fresh: T };
  try {
    result = await withDbRetry(attempt);
  } catch (error) {
    // The retries are over and the transaction rolled back: a failure of body's own is the step's outcome.
    if (bodyError && error === bodyError.error) await system.recordOperationError(workflowID, functionID, name, startedAt, error);
    throw error;
  }
  if ('fresh' in result) return result.fresh;
  return (await stored(executor, result.stored, workflowID, functionID, name)) as T;
}

/** A step's checkpoint as DBOS replays it: its recorded output, or its recorded error thrown. */
async function stored(executor: DBOSExecutor, row: StepState, workflowID: string, functionID: number, name: string): Promise<unknown> {
  if (row.function_name !== name) throw new DBOSErrors.DBOSUnexpectedStepError(workflowID, functionID, name, row.function_name ?? '?');
  return DBOSExecutor.reviveResultOrError(
    { output: row.output, error: row.error, serialization: row.serialization, childWorkflowID: row.child_workflow_id, functionName: row.function_name },
    executor.serializer,
  );
}

/** One step of a batch: runs `body` as the batch's next step (the name must be the next of the batch's names). */
export type BatchStep = <T>(name: string, body: (sql: StepSql) => Promise<T>) => Promise<T>;

/**
 * Consecutive app steps (runAppStep) in one transaction. `body` calls `step` once per name, in
 * order, and may pass each step's result to the next; each step keeps its own place, checkpoint
 * row, span and error, as with runAppStep.
 *
 * Shared database: one transaction of `names.length + 2` writes where runAppStep makes two per
 * step: `BEGIN` with the steps' state (cancelled? any of them checkpointed?) and the first step's
 * statements, one write per further step, then every checkpoint with `COMMIT`. One commit instead
 * of one per step. That is the fast path for a batch nobody ran before. Anything else (a step
 * already checkpointed, as in a fork or a replay; a cancelled workflow; a step that fails; a
 * checkpoint refused; a lost connection) rolls it back, and `body` runs again step by step
 * (runAppStep's transactions, with the places reserved here), which replays, fails or refuses
 * each step exactly as separate runAppSteps would. So `body` may run twice: it must do nothing but
 * call its steps.
 *
 * Separate system database: `body` with runAppStep for each step.
 */
export function runAppSteps<R>(names: readonly string[], options: AppStepOptions, body: (step: BatchStep) => Promise<R>): Promise<R> {
  if (!options.sharedDatabase) return body(inOrder(names, (_index, name, fn) => runAppStep(name, options, fn)));
  if (!DBOS.isInWorkflow() || DBOS.isInStep()) throw new Error(`${names.join(', ')} must run inside a workflow, outside any step`);
  // Reserved before any await, as every DBOS step call does: the steps' places in the workflow.
  const functionIDs = names.map(() => functionIDGetIncrement());
  const workflowID = DBOS.workflowID ?? '';
  return batchedSteps(workflowID, functionIDs, names, body, getCurrentContextStore());
}

/**
 * Per workflow execution (its DBOS context), the place right after a batch of steps this very
 * execution recorded in one transaction, all of them for the first time (runAppSteps' fast path).
 * Nothing can be recorded at that place before this execution gets to it (anything that records
 * there, a resume or a recovery elsewhere, takes the workflow's ownership first), so the effect
 * step that takes it need not read its state (runEffectStep). Keyed weakly: an execution that
 * ends before it gets there leaves nothing behind.
 */
const unrecordedPlace = new WeakMap<object, number>();

/** A BatchStep that checks each call against the batch's names and hands it to `run` with its index. */
function inOrder(names: readonly string[], run: <T>(index: number, name: string, fn: (sql: StepSql) => Promise<T>) => Promise<T>): BatchStep {
  let next = 0;
  return <T>(name: string, fn: (sql: StepSql) => Promise<T>): Promise<T> => {
    const index = next++;
    if (names[index] !== name)
      return Promise.reject(new Error(`step ${name} called where the batch has ${names[index] ?? 'no more steps'} (${names.join(' → ')})`));
    return run(index, name, fn);
  };
}

/** The steps' place in the workflow: whether it was cancelled, and any of them already checkpointed (one row per step). */
const STEPS_STATE = `
  SELECT ws.status, oo.function_name
    FROM unnest($2::int[]) AS k(function_id)
    LEFT JOIN dbos.workflow_status AS ws ON ws.workflow_uuid = $1
    LEFT JOIN dbos.operation_outputs AS oo ON oo.workflow_uuid = $1 AND oo.function_id = k.function_id`;

/** Thrown inside a batch's fast path to leave it for the step-by-step path. */
class LeaveBatch extends Error {}

async function batchedSteps<R>(
  workflowID: string,
  functionIDs: readonly number[],
  names: readonly string[],
  body: (step: BatchStep) => Promise<R>,
  context: object | undefined,
): Promise<R> {
  const executor = launched(names.join(', '));
  const fast = await inOneTransaction(executor, workflowID, functionIDs, names, body);
  if (fast) {
    if (context) unrecordedPlace.set(context, functionIDs.at(-1)! + 1);
    return fast.value;
  }
  return body(inOrder(names, (index, name, fn) => withStepSpan(name, () => checkpointedStep(workflowID, functionIDs[index]!, name, fn))));
}

/** The batch's fast path (see runAppSteps); undefined when it was left, with nothing committed. */
async function inOneTransaction<R>(
  executor: DBOSExecutor,
  workflowID: string,
  functionIDs: readonly number[],
  names: readonly string[],
  body: (step: BatchStep) => Promise<R>,
): Promise<{ value: R } | undefined> {
  const system = executor.systemDatabase;
  const owner = currentOwnerXid(workflowID) ?? null;
  const checkpoints: Checkpoint[] = [];
  let client: PoolClient | undefined;
  let open = false;
  try {
    client = await system.connect();
    const sql = onClient(client);
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    open = true;
    // Sent with BEGIN and the first step's statements; the steps run before it answers.
    const state = settle(client.query<{ status: string | null; function_name: string | null }>(STEPS_STATE, [workflowID, functionIDs]));
    const step = inOrder(names, async (index, name, fn) => {
      const startedAt = Date.now();
      const ran = settle(withStepSpan(name, () => fn(sql)));
      const known = index === 0 ? await state : undefined;
      // The body runs to its end before anything else happens on this connection: a body that reads
      // before it writes (CompileST, when the intent is not cached) would otherwise send its write
      // after the ROLLBACK below, outside the transaction, or on a connection already back in the pool.
      const outcome = await ran;
      if (known && !('value' in known && known.value.rows.every(untouched))) throw new LeaveBatch();
      if ('error' in outcome) throw new LeaveBatch();
      const value = outcome.value;
      const output = await stepOutputText(executor, value !== undefined ? value : null);
      checkpoints.push({ workflowID, functionID: functionIDs[index]!, name, output, serialization: null, startedAt, completedAt: Date.now(), owner });
      return value;
    });
    const value = await body(step);
    if (checkpoints.length !== names.length) throw new LeaveBatch();
    // The COMMIT goes out with the checkpoints: the transaction ends there whatever the outcome.
    open = false;
    await commitWithCheckpoints(client, checkpoints, system.appName ?? null);
    return { value };
  } catch {
    if (open) await client?.query('ROLLBACK').catch(() => undefined);
    return undefined;
  } finally {
    client?.release();
  }
}

function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** The checkpoint's refusals as the DBOS errors its own transactional step raises for them. */
function checkpointError(error: unknown, workflowID: string, functionID: number): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === 'DO409') return new DBOSErrors.DBOSWorkflowConflictError(workflowID);
  if (code === '23505') return new DBOSErrors.DBOSStepNondeterminismError(workflowID, functionID);
  return error;
}

export interface EffectStepRetries {
  readonly maxAttempts: number;
  /** Seconds before the second attempt; multiplied by backoffRate after each (at most an hour). */
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  /** Whether an attempt's error is worth another attempt. */
  readonly shouldRetry: (error: unknown) => boolean;
}

/** DBOS's cap on the interval between a step's attempts. */
const MAX_RETRY_INTERVAL_SECONDS = 3600;

/**
 * An effect step's successful attempt: its value, and the app writes that record it (the last
 * task's receipt, the step's mark, artifact and projection). `record` issues its statements on `sql`
 * before its first await, so they go out together; it may run more than once (a retried commit), so
 * it must not consume anything.
 */
export interface EffectOutcome<T> {
  readonly value: T;
  readonly record: (sql: StepSql) => Promise<void>;
}

/**
 * A DBOS step with external effects and retries (ExecuteST): `DBOS.runStep` with `retriesAllowed`,
 * the same semantics, in fewer round trips when the system schema shares the app database.
 *
 * DBOS 5.3's runStep reads the workflow's status three times and the step's checkpoint once before
 * the first attempt (four round trips), then records the outcome in a transaction of three
 * (`BEGIN` + ownership check, `INSERT`, `COMMIT`). Here: one read for both (cancelled? checkpointed?),
 * and none at all right after steps that this execution has just recorded for the first time
 * (runAppSteps), where nothing can be recorded yet; a cancel since then is for the attempt to see
 * (ExecuteST's claim is refused) and still ends the step as a cancel. Then the attempts as DBOS
 * runs them (in DBOS's step context, so `DBOS.stepStatus` and its `cancelSignal` work; a cancel check before every attempt after the first; a cancelled workflow or
 * lost ownership ends the step at once; backoff between attempts), and a success recorded in one
 * transaction of two writes: `BEGIN` with the attempt's own app writes (`EffectOutcome.record`),
 * then the checkpoint (ownership check included, db/system/0004_step_checkpoint.sql) with `COMMIT`.
 * So the step's app writes commit with its checkpoint or not at all. A failure is recorded by DBOS
 * itself, as runStep records it; so is a failure of `record` that is not the database's.
 *
 * With a separate system database, it is `DBOS.runStep`, `record` running on the app pool at the
 * end of the attempt.
 */
export function runEffectStep<T>(name: string, options: AppStepOptions, retries: EffectStepRetries, fn: () => Promise<EffectOutcome<T>>): Promise<T> {
  if (!options.sharedDatabase) {
    const attempt = async (): Promise<T> => {
      const outcome = await fn();
      await outcome.record(onPool(options.db));
      return outcome.value;
    };
    return timedStep(name, () => DBOS.runStep(attempt, { name, retriesAllowed: true, ...retries }));
  }
  const context = getCurrentContextStore();
  if (!context || !DBOS.isInWorkflow() || DBOS.isInStep()) throw new Error(`${name} must run inside a workflow, outside any step`);
  // Reserved before any await, as every DBOS step call does: the step's place in the workflow.
  const functionID = functionIDGetIncrement();
  const workflowID = DBOS.workflowID ?? '';
  // Right after steps this execution just recorded for the first time: nothing can be recorded here yet.
  const unrecorded = unrecordedPlace.get(context) === functionID;
  unrecordedPlace.delete(context);
  // The workflow's context as it is now: each attempt runs in a step context made from it.
  const workflowContext = { ...context };
  return withStepSpan(name, () => effectStep(workflowID, functionID, workflowContext, name, retries, fn, unrecorded));
}

async function effectStep<T>(
  workflowID: string,
  functionID: number,
  context: NonNullable<ReturnType<typeof getCurrentContextStore>>,
  name: string,
  retries: EffectStepRetries,
  fn: () => Promise<EffectOutcome<T>>,
  unrecorded: boolean,
): Promise<T> {
  const executor = launched(name);
  const system = executor.systemDatabase;
  const owner = currentOwnerXid(workflowID) ?? null;
  const startedAt = Date.now();
  const row = unrecorded
    ? undefined
    : await withDbRetry(async () => {
        const client = await system.connect();
        try {
          return (await client.query<StepState>(STEP_STATE, [workflowID, functionID])).rows[0];
        } finally {
          client.release();
        }
      });
  if (row?.status === 'CANCELLED') throw new DBOSErrors.DBOSWorkflowCancelledError(workflowID);
  if (row?.function_name != null) return (await stored(executor, row, workflowID, functionID, name)) as T;

  let watch = system.watchForCancellation(workflowID);
  const errors: Error[] = [];
  let failure: Error | undefined;
  let interval = Math.min(retries.intervalSeconds, MAX_RETRY_INTERVAL_SECONDS);
  try {
    for (let attempt = 1; attempt <= retries.maxAttempts; attempt++) {
      if (attempt > 1) {
        await system.checkIfCanceled(workflowID);
        // Not cancelled now: a signal that fired reports a cancel since reversed by a resume.
        if (watch.cancelled) {
          watch.release();
          watch = system.watchForCancellation(workflowID);
        }
      }
      const current = watch;
      let outcome: EffectOutcome<T>;
      try {
        outcome = await runInStepContext(
          context,
          functionID,
          { maxAttempts: retries.maxAttempts, currentAttempt: attempt, getCancelSignal: () => current.signal },
          fn,
        );
      } catch (error) {
        // An attempt that failed after the cancel signal fired ends the workflow, unless a resume
        // reversed the cancel. So does any failure when the state was not read: a cancel since the
        // steps before is seen first by the attempt (its claim is refused), and is a cancel still.
        if (watch.cancelled || unrecorded) await system.checkIfCanceled(workflowID);
        // Lost ownership: another execution owns the run; retrying would only run the step again here.
        if (error instanceof DBOSErrors.DBOSWorkflowConflictError) throw error;
        if (!retries.shouldRetry(error)) {
          failure = error as Error;
          break;
        }
        errors.push(error as Error);
        if (attempt < retries.maxAttempts) {
          // DBOS's own backoff wait between attempts (not a durable sleep, as in runStep).
          await sleepms(interval * 1000);
          interval = Math.min(interval * retries.backoffRate, MAX_RETRY_INTERVAL_SECONDS);
        }
        continue;
      }
      try {
        return await recordSuccess(executor, { workflowID, functionID, name, startedAt, owner }, outcome);
      } catch (error) {
        // DBOS's refusals (cancelled, ownership lost) end the step as they are; an error of the step's
        // app writes (a replay that broke determinism), once withDbRetry is through with it, is its outcome.
        if (error instanceof DBOSErrors.DBOSError) throw error;
        failure = error as Error;
        break;
      }
    }
  } finally {
    watch.release();
  }
  const error = failure ?? new DBOSErrors.DBOSMaxStepRetriesError(name, retries.maxAttempts, errors);
  const serialized = await serializeResErrorWithSerializer(error, executor.serializer, executor.serializer.name());
  await system.recordOperationResult(workflowID, functionID, name, true, startedAt, Date.now(), {
    error: serialized.serializedValue,
    serialization: serialized.serialization,
  });
  throw error;
}

/**
 * The attempt's app writes and its output as the step's checkpoint, in one transaction of two writes:
 * `BEGIN` with `record`'s statements, then the checkpoint with `COMMIT`. Returns the output as a
 * replay would.
 */
async function recordSuccess<T>(
  executor: DBOSExecutor,
  step: Pick<Checkpoint, 'workflowID' | 'functionID' | 'name' | 'startedAt' | 'owner'>,
  outcome: EffectOutcome<T>,
): Promise<T> {
  const output = await roundTripStepOutput(executor, outcome.value, step.name);
  // One completion time for every retry of the write, so a retry after a commit whose answer was lost finds its own row.
  const checkpoint = { ...step, output: output.stringified, serialization: output.sername, completedAt: Date.now() };
  const system = executor.systemDatabase;
  await withDbRetry(async () => {
    const client = await system.connect();
    let open = false;
    try {
      // With the pools' clients, BEGIN goes out in the same write as record's statements.
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      open = true;
      await outcome.record(onClient(client));
      // The COMMIT goes out with the checkpoint: the transaction ends there whatever the outcome.
      open = false;
      await commitWithCheckpoints(client, [checkpoint], system.appName ?? null);
    } catch (error) {
      if (open) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  });
  return output.deserialized;
}
