import { hostname } from 'node:os';
import pg from 'pg';

/**
 * Executor liveness through Postgres alone. Each process holds, for its whole life, a session-level
 * advisory lock keyed by its executor ID on a connection of its own (ExecutorLock). Postgres releases
 * the lock when that connection's backend ends, so "the lock can be taken" means "no live process has
 * this executor ID": the sweep (takeOverGoneExecutors) takes it and, while holding it, puts the gone
 * executor's PENDING workflows back on a queue in one statement. Any worker then claims each of them
 * once (DBOS's dequeue flips ENQUEUED → PENDING under the claimant's executor ID).
 */

/** The lock key of an executor ID ($1): the first 64 bits of its md5, as app.ops_executor_lock_key in db/system. */
const LOCK_KEY = `('x' || substr(md5($1::text), 1, 16))::bit(64)::bigint`;

/** DBOS puts a recovered workflow that was started without a queue on its internal queue. */
export const DBOS_INTERNAL_QUEUE = '_dbos_internal_queue';

/** SQLSTATE 55P03: lock_timeout expired. */
const LOCK_NOT_AVAILABLE = '55P03';
/** SQLSTATE 42P01 / 42703: the dbos schema is not (fully) migrated yet. */
const SCHEMA_NOT_READY = new Set(['42P01', '42703', '3F000']);

export interface ExecutorIdentity {
  readonly executorId: string;
  readonly appVersion: string;
  /** The DBOS application name: rows of another application sharing the system database are never touched. */
  readonly appName: string;
}

export interface TakeoverOptions {
  /** Where a workflow started without a queue goes, by workflow name; any other goes to DBOS's internal queue. */
  readonly recoveryQueues: Readonly<Record<string, string>>;
}

export interface Takeover {
  readonly executorId: string;
  readonly workflowIds: readonly string[];
}

export class ExecutorIdInUseError extends Error {
  constructor(executorId: string, waitedMs: number) {
    super(
      `executor ID "${executorId}" is held by another live process (its liveness lock was not released within ${waitedMs} ms): ` +
        'give every process its own DBOS_EXECUTOR_ID, or leave it unset',
    );
    this.name = 'ExecutorIdInUseError';
  }
}

/**
 * The process's liveness lock. The connection is dedicated (never pooled) and watched: if it errors or
 * ends while held, `onLost` runs, and the process must stop executing at once (fail-stop), because
 * another process may now take over its runs.
 */
export class ExecutorLock {
  private client: pg.Client | undefined;
  private releasing = false;

  constructor(
    private readonly url: string,
    readonly executorId: string,
    private readonly onLost: (reason: string) => void,
  ) {}

  get held(): boolean {
    return this.client !== undefined;
  }

  /** The backend holding the lock (for tests and diagnostics). */
  backendPid: number | undefined;

  /** Takes the lock, waiting up to `waitMs` for a sweep that holds it for a moment (or a dying predecessor). */
  async acquire(waitMs: number): Promise<void> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'durable-ops-liveness',
      // Client side: probe a silent peer after 5 s idle, so a partitioned process hears of it and stops.
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      // Server side: a client that vanished without closing its socket is dropped after ~25 s, releasing the lock.
      options: '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3',
    });
    client.on('error', (error) => this.lost(`the liveness connection failed: ${error.message}`));
    client.on('end', () => this.lost('the liveness connection ended'));
    await client.connect();
    try {
      await client.query(`SET lock_timeout = ${Math.max(1, Math.round(waitMs))}`);
      await client.query(`SELECT pg_advisory_lock(${LOCK_KEY})`, [this.executorId]);
      await client.query('RESET lock_timeout');
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      this.backendPid = rows[0]?.pid;
    } catch (error) {
      this.releasing = true;
      await client.end().catch(() => undefined);
      if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new ExecutorIdInUseError(this.executorId, waitMs);
      throw error;
    }
    this.client = client;
  }

  /** Releases the lock by closing its connection (after DBOS stopped: nothing executes under this ID any more). */
  async release(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.releasing = true;
    await client?.end().catch(() => undefined);
  }

  private lost(reason: string): void {
    if (this.releasing) return;
    this.releasing = true;
    this.client = undefined;
    this.onLost(reason);
  }
}

function scope(params: unknown[], identity: ExecutorIdentity): string {
  params.push(identity.appVersion, identity.appName);
  return `application_version = $${params.length - 1} AND (application_name = $${params.length} OR application_name IS NULL)`;
}

/**
 * One statement, so a takeover is all or nothing: every PENDING workflow of `executorId` (this
 * application version's) goes back to ENQUEUED on its own queue, or, started without one, on the queue
 * `recoveryQueues` names for it (DBOS's internal queue otherwise), as DBOS's own launch recovery does.
 * Run only while holding that executor's lock.
 */
async function reenqueue(client: pg.ClientBase, executorId: string, identity: ExecutorIdentity, options: TakeoverOptions): Promise<string[]> {
  const params: unknown[] = [executorId, JSON.stringify(options.recoveryQueues), DBOS_INTERNAL_QUEUE];
  const { rows } = await client.query<{ workflow_uuid: string }>(
    `UPDATE dbos.workflow_status
        SET status = 'ENQUEUED',
            started_at_epoch_ms = NULL,
            owner_xid = NULL,
            updated_at = (EXTRACT(EPOCH FROM now()) * 1000)::bigint,
            queue_name = COALESCE(queue_name, $2::jsonb ->> name, $3)
      WHERE status = 'PENDING' AND executor_id = $1 AND ${scope(params, identity)}
      RETURNING workflow_uuid`,
    params,
  );
  return rows.map((r) => r.workflow_uuid);
}

/**
 * At boot, before DBOS launches: this process's own PENDING workflows from a previous life under the
 * same executor ID (it holds the lock, so that life is over). DBOS's launch recovery would do the same,
 * but would put a run started without a queue on DBOS's internal queue, which every process (an api
 * process too) dispatches. Returns undefined when the dbos schema is not migrated yet (DBOS's recovery
 * at launch then covers it).
 */
export async function recoverOwn(pool: pg.Pool, identity: ExecutorIdentity, options: TakeoverOptions): Promise<string[] | undefined> {
  const client = await pool.connect();
  try {
    return await reenqueue(client, identity.executorId, identity, options);
  } catch (error) {
    if (SCHEMA_NOT_READY.has((error as { code?: string }).code ?? '')) return undefined;
    throw error;
  } finally {
    client.release();
  }
}

/**
 * The sweep: every other executor that holds PENDING workflows of this application version and whose
 * lock can be taken (so no live process has that ID) loses them to the queues, exactly once: the lock
 * is a transaction lock, so two sweepers serialize on it, and the second finds nothing PENDING left. A
 * sweeper that dies mid-way rolls back and releases the lock; the next sweep does the work. Also
 * records, for every executor whose lock is held, that it was seen alive now.
 */
export async function takeOverGoneExecutors(pool: pg.Pool, identity: ExecutorIdentity, options: TakeoverOptions): Promise<Takeover[]> {
  const client = await pool.connect();
  try {
    const params: unknown[] = [identity.executorId];
    const candidates = await client.query<{ executor_id: string }>(
      `SELECT DISTINCT executor_id FROM dbos.workflow_status
        WHERE status = 'PENDING' AND executor_id IS NOT NULL AND executor_id <> $1 AND ${scope(params, identity)}`,
      params,
    );
    const takeovers: Takeover[] = [];
    for (const { executor_id: executorId } of candidates.rows) {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query<{ got: boolean }>(`SELECT pg_try_advisory_xact_lock(${LOCK_KEY}) AS got`, [executorId]);
        if (!rows[0]?.got) {
          await client.query('ROLLBACK');
          continue;
        }
        const workflowIds = await reenqueue(client, executorId, identity, options);
        await client.query(
          `UPDATE app.ops_executors SET taken_over_at = now(), taken_over_by = $2, taken_over_workflows = COALESCE(taken_over_workflows, 0) + $3
            WHERE executor_id = $1`,
          [executorId, identity.executorId, workflowIds.length],
        );
        await client.query('COMMIT');
        if (workflowIds.length > 0) takeovers.push({ executorId, workflowIds });
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
    await client.query('UPDATE app.ops_executors SET last_seen_at = now() WHERE app.ops_executor_alive(executor_id)');
    return takeovers;
  } finally {
    client.release();
  }
}

/** Registers (or re-registers) this process in app.ops_executors, seen alive now. */
export async function registerExecutor(pool: pg.Pool, identity: ExecutorIdentity, role: string): Promise<void> {
  await pool.query(
    `INSERT INTO app.ops_executors (executor_id, role, host, pid, app_version, started_at, last_seen_at)
     VALUES ($1, $2, $3, $4, $5, now(), now())
     ON CONFLICT (executor_id) DO UPDATE SET
       role = EXCLUDED.role, host = EXCLUDED.host, pid = EXCLUDED.pid, app_version = EXCLUDED.app_version,
       started_at = EXCLUDED.started_at, last_seen_at = EXCLUDED.last_seen_at,
       taken_over_at = NULL, taken_over_by = NULL, taken_over_workflows = NULL`,
    [identity.executorId, role, hostname(), process.pid, identity.appVersion],
  );
}

/** At a clean shutdown: the last moment this executor was alive. */
export async function markLastSeen(pool: pg.Pool, executorId: string): Promise<void> {
  await pool.query('UPDATE app.ops_executors SET last_seen_at = now() WHERE executor_id = $1', [executorId]);
}
