import { DBOS, Error as DBOSErrors, type WorkflowHandle } from '@dbos-inc/dbos-sdk';
import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { applySystemSql, createPool, warmPool } from '#db';
import { nestDbosLogger } from './dbos-logger.js';
import { dbosTracingEnabled } from './dbos-telemetry.js';
import { ExecutionSlots } from './execution-slots.js';
import { ExecutorLock, markLastSeen, recoverOwn, registerExecutor, takeOverGoneExecutors, type ExecutorIdentity, type Takeover } from './executor-liveness.js';
import { roundTripPlainJsonDirectly } from './plain-json.js';
import { claimQueuedWorkflowsInOneStatement } from './queue-claim.js';
import { recordNoErrorWhileStopping, recordWorkflowOutputInOneStatement } from './workflow-outcome.js';
import { initWorkflowStatusInOneStatement } from './workflow-start.js';
import { DEFAULT_QUEUE, DEFAULT_RUN_EXECUTION, QUEUES, intentsQueueOptions, isQueueName, type QueueName, type RunExecution } from './queues.js';

export * from './dbos-telemetry.js';

export const DBOS_OPTIONS = Symbol('DBOS_OPTIONS');

/** SQLSTATE 3D000: the database named in the URL does not exist. */
const INVALID_CATALOG_NAME = '3D000';

/** The DBOS application name is constant: a version name belongs to one app name per system database. */
export const DBOS_APP_NAME = 'durable-ops';

/**
 * How often DBOS's notifier flushes coalesced LISTEN/NOTIFY wake-ups of workflow events and streams
 * (DBOS's default: 10 ms). The service uses neither, so this only sets how often an idle notifier
 * wakes; it would bound how late a `DBOS.getEvent` or stream reader in another process hears of a
 * write (it also polls).
 */
export const NOTIFICATION_COALESCE_MS = 1_000;

export interface DbosOptions {
  readonly systemDatabaseUrl: string;
  readonly appVersion: string;
  readonly executorId: string;
  readonly logLevel: string;
  /** Queues this process dequeues from; [] for an API-only process. Default: all. */
  readonly listenQueues?: readonly QueueName[];
  /** System-pool connections opened at boot and kept open (default 0: opened on demand). */
  readonly warmConnections?: number;
  /** Named prepared statements on the system pools (default off; see DATABASE_PREPARED_STATEMENTS). */
  readonly preparedStatements?: boolean;
  /** What this process is, as app.ops_executors records it (all, api, worker, cli). Default: all. */
  readonly role?: string;
  /**
   * Take over the runs of gone executors: at boot and on this six-field cron (a DBOS schedule on the
   * `ops` queue, so one live worker handles each firing). Unset: never (an api process, the CLI).
   */
  readonly takeoverSchedule?: string;
  /** Where a recovered workflow that was started without a queue goes, by workflow name (default: DBOS's internal queue). */
  readonly recoveryQueues?: Readonly<Record<string, QueueName>>;
  /** How long the boot waits for this executor ID's liveness lock (default 30 s). */
  readonly livenessWaitMs?: number;
  /** Called when the liveness connection is lost while running. Default: log and exit the process (fail-stop). */
  readonly onLivenessLost?: (reason: string) => void;
  /** How runs execute here (default DEFAULT_RUN_EXECUTION). */
  readonly runs?: RunExecution;
}

export const EXECUTOR_SWEEP_WORKFLOW = 'ExecutorSweepWorkflow';
export const EXECUTOR_SWEEP_SCHEDULE_NAME = 'executor-sweep';

export class UnknownQueueError extends Error {
  constructor(name: string) {
    super(`unknown queue "${name}" (registered: ${Object.keys(QUEUES).join(', ')})`);
    this.name = 'UnknownQueueError';
  }
}

export interface EnqueueParams {
  readonly workflowID: string;
  readonly queueName: string;
  readonly priority?: number | undefined;
  readonly timeoutMS?: number | undefined;
  readonly queuePartitionKey?: string | undefined;
}

export interface StartRunParams extends EnqueueParams {
  /** The run may not start before this instant (epoch ms): it waits DELAYED on the queue, holding no slot. */
  readonly notBeforeMs?: number | undefined;
  /** False: always through the queue (e.g. a retried request, whose workflow may already exist). Default true. */
  readonly mayStartHere?: boolean;
}

/** DBOS's system pool: one connection per run the intents queue may execute here at once (16), and 8 for the rest. */
export const SYSTEM_POOL_SIZE = QUEUES.intents.workerConcurrency + 8;

/**
 * The one DBOS runtime of the process. Planes register their workflows in their constructors or
 * onModuleInit (Nest runs every onModuleInit before any onApplicationBootstrap), so registration
 * always precedes DBOS.launch(); queues are registered right after it.
 */
@Injectable()
export class DbosService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DBOS');
  private launchedAt: Date | undefined;
  /** Set when the application starts shutting down (recordNoErrorWhileStopping). */
  private stopping = false;
  private readonly afterLaunchHooks: (() => Promise<void>)[] = [];
  private pool: pg.Pool | undefined;
  private lock: ExecutorLock | undefined;
  /** The scheduled sweep; registered in every process (before launch), scheduled only where takeoverSchedule is set. */
  readonly sweepWorkflow: () => Promise<void>;
  private readonly runs: RunExecution;
  /** Every run executing in this process, however it started (see ExecutionSlots). */
  readonly slots: ExecutionSlots;

  constructor(@Inject(DBOS_OPTIONS) private readonly options: DbosOptions) {
    this.runs = options.runs ?? DEFAULT_RUN_EXECUTION;
    this.slots = new ExecutionSlots(this.runs.concurrency);
    // TakeoverST's output (who was taken over, which workflows) stays in the step's checkpoint.
    this.sweepWorkflow = DBOS.registerWorkflow(
      async () => {
        await DBOS.runStep(() => this.takeOver(), { name: 'TakeoverST' });
      },
      { name: EXECUTOR_SWEEP_WORKFLOW },
    );
  }

  /** Whether this process executes runs (role all or worker): it dequeues the intents queue. */
  get executesRuns(): boolean {
    return this.options.listenQueues === undefined || this.options.listenQueues.includes(DEFAULT_QUEUE);
  }

  get launched(): boolean {
    return this.launchedAt !== undefined;
  }

  get appVersion(): string {
    return this.options.appVersion;
  }

  get executorId(): string {
    return this.options.executorId;
  }

  private get identity(): ExecutorIdentity {
    return { executorId: this.options.executorId, appVersion: this.options.appVersion, appName: DBOS_APP_NAME };
  }

  async onApplicationBootstrap(): Promise<void> {
    this.pool = await this.systemPool();
    // Liveness first: nothing may execute under this executor ID unless this process holds its lock.
    this.lock = new ExecutorLock(this.options.systemDatabaseUrl, this.options.executorId, this.options.onLivenessLost ?? ((reason) => this.failStop(reason)));
    await this.lock.acquire(this.options.livenessWaitMs ?? 30_000);
    const recovered = await recoverOwn(this.pool, this.identity, { recoveryQueues: this.options.recoveryQueues ?? {} });
    if (recovered?.length) this.logger.log(`recovering ${recovered.length} workflow(s) this executor ID left unfinished`);
    DBOS.setConfig({
      name: DBOS_APP_NAME,
      systemDatabaseUrl: this.options.systemDatabaseUrl,
      systemDatabasePool: this.pool,
      applicationVersion: this.options.appVersion,
      executorID: this.options.executorId,
      logLevel: this.options.logLevel,
      logger: nestDbosLogger(),
      runAdminServer: false,
      // DBOS flushes event and stream notifications on a timer, every 10 ms by default, whether or not
      // there is anything to flush: 100 wake-ups a second of an idle process. The service writes no
      // workflow events or streams, so its notifier only ever wakes to find nothing (see
      // NOTIFICATION_COALESCE_MS).
      notificationCoalesceMs: NOTIFICATION_COALESCE_MS,
      // Spans only when the process installed an OTLP TracerProvider (apps/api/src/tracing.ts): DBOS
      // then creates them with it, and never exports on its own (enableOTLP stays off).
      enableOTLP: false,
      ...(dbosTracingEnabled() ? { tracingEnabled: true } : {}),
      ...(this.options.listenQueues ? { listenQueues: [...this.options.listenQueues] } : {}),
    });
    // Workflow arguments and results that are plain JSON skip superjson's walks (plain-json.ts).
    roundTripPlainJsonDirectly();
    await DBOS.launch();
    const executor = DBOSExecutor.globalInstance;
    if (executor) {
      initWorkflowStatusInOneStatement(executor.systemDatabase);
      claimQueuedWorkflowsInOneStatement(executor.systemDatabase);
      recordWorkflowOutputInOneStatement(executor.systemDatabase);
      recordNoErrorWhileStopping(executor.systemDatabase, () => this.stopping);
    }
    await applySystemSql(this.options.systemDatabaseUrl);
    for (const [name, options] of Object.entries(QUEUES)) await DBOS.registerQueue(name, name === DEFAULT_QUEUE ? intentsQueueOptions(this.runs) : options);
    await registerExecutor(this.pool, this.identity, this.options.role ?? 'all');
    if (this.options.takeoverSchedule !== undefined) {
      await this.takeOver();
      await DBOS.applySchedules([
        { scheduleName: EXECUTOR_SWEEP_SCHEDULE_NAME, workflowFn: this.sweepWorkflow, schedule: this.options.takeoverSchedule, queueName: 'ops' },
      ]);
    }
    for (const hook of this.afterLaunchHooks) await hook();
    this.launchedAt = new Date();
    this.logger.log(`launched: appVersion=${this.options.appVersion} executorID=${this.options.executorId}`);
  }

  /** Work that needs a launched DBOS (schedules): register it in a constructor or onModuleInit. */
  afterLaunch(hook: () => Promise<void>): void {
    this.afterLaunchHooks.push(hook);
  }

  async onApplicationShutdown(): Promise<void> {
    // From here a workflow's error may be the stop's own: not recorded (recordNoErrorWhileStopping).
    this.stopping = true;
    if (this.launched) {
      this.launchedAt = undefined;
      await DBOS.shutdown();
    }
    // After DBOS: nothing executes under this ID any more, so its runs may be taken over from here on.
    if (this.lock?.held && this.pool) await markLastSeen(this.pool, this.options.executorId).catch(() => undefined);
    await this.lock?.release();
    this.lock = undefined;
    // After DBOS: it does not close a pool it was given.
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }

  /** Takes over the runs of every gone executor (see executor-liveness.ts); logs what it took. */
  async takeOver(): Promise<Takeover[]> {
    if (!this.pool) throw new Error('DBOS is not launched');
    const takeovers = await takeOverGoneExecutors(this.pool, this.identity, { recoveryQueues: this.options.recoveryQueues ?? {} });
    for (const t of takeovers) this.logger.warn(`executor ${t.executorId} is gone: took over ${t.workflowIds.length} workflow(s)`);
    return takeovers;
  }

  /**
   * The liveness lock is gone, so another process may take over this one's runs any moment: stop
   * executing now rather than risk running a workflow twice. The supervisor restarts the process.
   */
  private failStop(reason: string): never {
    this.logger.fatal(`${reason}: stopping this process (fail-stop), its runs are taken over elsewhere`);
    process.exit(70);
  }

  /**
   * DBOS's system pool, ours so that it is sized and kept warm like the app's (DBOS's own closes
   * idle connections after 10 s, so every burst after a pause paid a backend start per connection):
   * - SYSTEM_POOL_SIZE connections: a transactional step (runAppStep) holds one for its whole
   *   transaction, so there is room for every run the intents queue may execute here at once,
   *   plus enqueues, queue polling and the tick;
   * - `warmConnections` of them opened at boot and never closed for idling, so a burst of runs does
   *   not wait for backend starts (see warmPool);
   * - the idle-in-transaction cap DBOS sets on a pool of its own (60 s);
   * - a system database that does not exist yet is created first, as DBOS does for its own pool.
   */
  private async systemPool(): Promise<pg.Pool> {
    const url = this.options.systemDatabaseUrl;
    const warm = Math.min(this.options.warmConnections ?? 0, SYSTEM_POOL_SIZE);
    const pool = createPool(url, {
      max: SYSTEM_POOL_SIZE,
      min: warm,
      name: 'durable-ops-dbos',
      options: '-c idle_in_transaction_session_timeout=60000',
      prepare: this.options.preparedStatements ?? false,
    });
    try {
      (await pool.connect()).release();
    } catch (error) {
      if ((error as { code?: string }).code !== INVALID_CATALOG_NAME) {
        await pool.end();
        throw error;
      }
      this.logger.log('the DBOS system database does not exist: creating it');
      await DBOS.migrate(url);
    }
    if (warm > 0) await warmPool(pool, warm);
    return pool;
  }

  /**
   * Starts a run under its (idempotent) workflow ID: right here, with no queue in between, when this
   * process executes runs and has a free slot; otherwise on its queue, where a worker dequeues it
   * (a delayed run always: DELAYED until due, it holds no slot anywhere). The direct start records
   * the workflow PENDING under this executor, so it is recovered like any other run.
   * Resolves to whether it started here.
   */
  async startRun<Args extends unknown[], R>(workflow: (...args: Args) => Promise<R>, params: StartRunParams, ...args: Args): Promise<boolean> {
    const delayMs = params.notBeforeMs === undefined ? 0 : params.notBeforeMs - Date.now();
    const direct =
      delayMs <= 0 &&
      params.mayStartHere !== false &&
      this.runs.directStart &&
      this.runs.globalConcurrency === undefined &&
      params.queuePartitionKey === undefined &&
      this.executesRuns &&
      this.slots.tryReserve(params.workflowID);
    if (!direct) {
      await this.enqueue(workflow, delayMs > 0 ? { ...params, delaySeconds: delayMs / 1000 } : params, ...args);
      return false;
    }
    try {
      await DBOS.startWorkflow(workflow, {
        workflowID: params.workflowID,
        ...(params.timeoutMS !== undefined ? { timeoutMS: params.timeoutMS } : {}),
      })(...args);
    } finally {
      // The workflow function takes its reservation as it starts; one left means it did not start
      // here (the ID already existed, or the start failed).
      this.slots.cancelReservation(params.workflowID);
    }
    return true;
  }

  /**
   * A run of the intents queue asleep until `wakeAt` (epoch ms), under a global limit
   * (RUN_GLOBAL_CONCURRENCY): the queue's global count is its PENDING workflows in Postgres, a sleeping
   * one too, so while asleep the workflow's queue name is set aside in its row (a takeover still puts
   * it back on the intents queue: recoveryQueues). Woken, the run goes back on the queue in its place
   * (ENQUEUED, its creation time unchanged), so it executes only when the global limit has room, and
   * this execution ends: DBOS parks it and delivers the outcome of the execution that dequeues it.
   * That one finds the deadline past and does not sleep again. Without a global limit, or for a run
   * not on the intents queue, just `sleep`.
   */
  async asleep(runId: string, wakeAt: number, sleep: () => Promise<void>): Promise<void> {
    if (this.runs.globalConcurrency === undefined || !this.pool || wakeAt <= Date.now()) return sleep();
    const left = await this.pool.query(
      `UPDATE dbos.workflow_status SET queue_name = NULL WHERE workflow_uuid = $1 AND status = 'PENDING' AND queue_name = $2`,
      [runId, DEFAULT_QUEUE],
    );
    if (left.rowCount !== 1) return sleep();
    try {
      await sleep();
    } catch (error) {
      // Cancelled (its queue name is cleared anyway), or the process is stopping: back on its queue.
      await this.pool
        .query(`UPDATE dbos.workflow_status SET queue_name = $2 WHERE workflow_uuid = $1 AND status = 'PENDING' AND queue_name IS NULL`, [runId, DEFAULT_QUEUE])
        .catch(() => undefined);
      throw error;
    }
    const back = await this.pool.query(
      `UPDATE dbos.workflow_status
          SET status = 'ENQUEUED', queue_name = $2, owner_xid = NULL, started_at_epoch_ms = NULL,
              updated_at = (EXTRACT(EPOCH FROM now()) * 1000)::bigint
        WHERE workflow_uuid = $1 AND status = 'PENDING' AND queue_name IS NULL`,
      [runId, DEFAULT_QUEUE],
    );
    // Not PENDING any more (cancelled meanwhile): DBOS's next call in the workflow says so.
    if (back.rowCount === 1) throw new DBOSErrors.DBOSWorkflowCancelledError(runId);
  }

  /** Starts `workflow` on a registered queue under a caller-chosen (idempotent) workflow ID. */
  async enqueue<Args extends unknown[], R>(
    workflow: (...args: Args) => Promise<R>,
    params: EnqueueParams & { readonly delaySeconds?: number },
    ...args: Args
  ): Promise<WorkflowHandle<R>> {
    if (!isQueueName(params.queueName)) throw new UnknownQueueError(params.queueName);
    return DBOS.startWorkflow(workflow, {
      workflowID: params.workflowID,
      queueName: params.queueName,
      ...(params.timeoutMS !== undefined ? { timeoutMS: params.timeoutMS } : {}),
      enqueueOptions: {
        ...(params.priority !== undefined ? { priority: params.priority } : {}),
        ...(params.queuePartitionKey !== undefined ? { queuePartitionKey: params.queuePartitionKey } : {}),
        ...(params.delaySeconds !== undefined ? { delaySeconds: params.delaySeconds } : {}),
      },
    })(...args);
  }
}
