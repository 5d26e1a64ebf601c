/**
 * Call records in PostgreSQL (`DATABASE_URL=postgres://…`), for a fleet of agents writing to one place:
 * same interface and the same behaviour as `SqliteCallStore` (tests/store/call-store-behaviour.test.ts
 * runs one suite over both), through Bun's built-in client (`SQL` from "bun", which works in the
 * compiled binary).
 *
 * Writes never make a call wait: `add`/`save`/`addTurn`/`end` return at once and the write goes through
 * the WriteQueue ops built for SQLite (src/store/write-queue.ts, `runAsync`): in order, one at a time,
 * bounded (`maxQueuedWrites`, overflow counted in `voice_agent_store_writes_total{outcome="overflow"}`),
 * retried with backoff while the server is unreachable or restarting, so a PostgreSQL restart loses no
 * record. A call's `end` writes its row and every turn in one transaction.
 *
 * Each row carries the AGENT_ID of the agent holding the call. At open, the calls this agent left live
 * (it was killed) are ended with reason "restart"; other agents' live calls are not touched.
 * `list()` shows this agent's live calls (the very objects being updated), the other agents' live calls
 * as last written, and the fleet's ended calls, newest first.
 *
 *   const store = await PgCallStore.open({ url: cfg.databaseUrl, agentId: cfg.agentId, log });
 */
import { SQL } from "bun";
import { markEnded, type CallListOptions, type CallRecord, type CallRecordStore, type TurnRecord } from "../pipeline/call-record";
import type { Logger } from "../util/log";
import { migratePg } from "./pg-schema";
import { CALL_COLUMNS, TURN_COLUMNS, callParams, rowToCall, rowToTurn, turnParams, type CallRow, type TurnRow } from "./rows";
import { StoreError } from "./schema";
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, RETENTION_BATCH, RETENTION_INTERVAL_MS, type RecoveryReport } from "./sqlite-call-store";
import { WriteQueue } from "./write-queue";

export interface PgCallStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** This agent's name in the `agent` column (AGENT_ID). */
  agentId: string;
  log?: Logger;
  now?: () => Date;
  retentionDays?: number;
  /** Largest number of writes queued while the database is unavailable (default 10,000). */
  maxQueuedWrites?: number;
  /** Connections in the pool (default 4). */
  maxConnections?: number;
}

/**
 * PostgreSQL errors a retry cannot fix: SQLSTATE classes 22 (data exception), 23 (integrity constraint)
 * and 42 (syntax error or access rule), https://www.postgresql.org/docs/15/errcodes-appendix.html.
 * Everything else (connection refused or closed, 57P01 admin shutdown, 57P03 cannot connect now, 08xxx,
 * 53xxx resources, 40xxx serialization) is retried.
 */
export function isRetryablePgError(err: unknown): boolean {
  if (err instanceof StoreError) return false;
  const sqlState = String((err as { errno?: unknown } | null)?.errno ?? "");
  return !/^(22|23|42)/.test(sqlState);
}

const AGENT = "agent";
const callCols = [AGENT, ...CALL_COLUMNS];
const UPSERT_CALL = `INSERT INTO calls (${callCols.join(", ")}) VALUES (${callCols.map((_, i) => `$${i + 1}`).join(", ")})
  ON CONFLICT (id) DO UPDATE SET ${callCols.filter((c) => c !== "id").map((c) => `${c} = excluded.${c}`).join(", ")}`;
const UPSERT_TURN = `INSERT INTO turns (${TURN_COLUMNS.join(", ")}) VALUES (${TURN_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})
  ON CONFLICT (call_id, idx) DO UPDATE SET ${TURN_COLUMNS.filter((c) => c !== "call_id" && c !== "idx").map((c) => `${c} = excluded.${c}`).join(", ")}`;

type Tx = Pick<SQL, "unsafe">;

export class PgCallStore implements CallRecordStore {
  private readonly active = new Map<string, CallRecord>();
  /** Ended calls whose final write has not landed yet: reads see them as ended at once. */
  private readonly ending = new Map<string, CallRecord>();
  private readonly queue: WriteQueue;
  private closed = false;
  private retentionTimer: ReturnType<typeof setTimeout> | undefined;
  /** Calls deleted by retention since open. */
  pruned = 0;

  private constructor(
    private readonly sql: SQL,
    private readonly o: PgCallStoreOptions,
    private readonly now: () => Date,
    readonly recovery: RecoveryReport,
  ) {
    this.queue = new WriteQueue({ log: o.log, maxPending: o.maxQueuedWrites, retryable: isRetryablePgError });
  }

  /**
   * Connects, migrates (versioned, src/store/pg-schema.ts) and ends the calls this agent left live.
   * @throws StoreError "open_failed" (unreachable, refused, bad credentials), "newer_schema", "migration_failed".
   */
  static async open(o: PgCallStoreOptions): Promise<PgCallStore> {
    const sql = new SQL({ url: o.url, max: o.maxConnections ?? 4, connectionTimeout: 5, idleTimeout: 60 });
    const now = o.now ?? (() => new Date());
    const where = redact(o.url);
    try {
      await migratePg(sql);
      const recovery = await recoverAgentCalls(sql, o.agentId, now());
      const store = new PgCallStore(sql, o, now, recovery);
      if (recovery.ended.length > 0) {
        o.log?.warn({ count: recovery.ended.length, callIds: recovery.ended.slice(0, 20), agent: o.agentId }, "calls left live by the previous run marked ended (restart)");
      }
      if (o.retentionDays !== undefined) store.scheduleRetention(1000);
      return store;
    } catch (err) {
      await sql.close().catch(() => undefined);
      if (err instanceof StoreError) throw err;
      throw new StoreError("open_failed", `DATABASE_URL: cannot use ${where}: ${(err as Error).message}`, { cause: err });
    }
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Writes waiting for the database (or being written). */
  get queuedWrites(): number {
    return this.queue.size;
  }

  add(record: CallRecord): void {
    this.active.set(record.id, record);
    this.save(record);
  }

  save(record: CallRecord): void {
    this.write(`call:${record.id}`, "save", record.id, () => this.upsertCall(this.sql, record));
  }

  addTurn(callId: string, turn: TurnRecord): void {
    this.write(`turn:${callId}:${turn.index}`, "turn", callId, () =>
      this.sql.begin(async (tx) => {
        await tx.unsafe(UPSERT_TURN, Object.values(turnParams(callId, turn)));
        await tx.unsafe("UPDATE calls SET updated_at = $1 WHERE id = $2", [this.now().toISOString(), callId]);
      }),
    );
  }

  /** As SqliteCallStore.end: the record ended, then its row and all its turns in one transaction. */
  end(id: string, reason: string, now = this.now()): void {
    const r = this.active.get(id);
    if (!r) return;
    this.active.delete(id);
    markEnded(r, reason, now);
    this.queue.discard(`turn:${id}:`);
    const turns = [...r.turns];
    this.ending.set(id, r);
    this.write(`call:${id}`, "end", id, async () => {
      await this.sql.begin(async (tx) => {
        await this.upsertCall(tx, r);
        for (const t of turns) await tx.unsafe(UPSERT_TURN, Object.values(turnParams(id, t)));
        await tx.unsafe("DELETE FROM turns WHERE call_id = $1 AND idx >= $2", [id, turns.length]);
      });
      this.ending.delete(id);
    });
  }

  /** Waits until the queued writes have landed or `timeoutMs` passed; returns the number left. */
  flush(timeoutMs = 5000): Promise<number> {
    return this.queue.flush(timeoutMs);
  }

  /** A live call of this agent, else the stored one (any agent's). @throws StoreError "unavailable". */
  async get(id: string): Promise<CallRecord | undefined> {
    const live = this.active.get(id) ?? this.ending.get(id);
    if (live) return live;
    const rows = (await this.read(() => this.sql.unsafe("SELECT * FROM calls WHERE id = $1", [id]))) as CallRow[];
    if (rows.length === 0) return undefined;
    const turns = await this.turnsOf([id]);
    return rowToCall(fromPg(rows[0]!), turns.get(id) ?? []);
  }

  /**
   * Live calls (this agent's first, then the fleet's, start order) and the fleet's ended calls (newest
   * first, at most `limit`, default DEFAULT_LIST_LIMIT, capped at MAX_LIST_LIMIT). @throws StoreError "unavailable".
   */
  async list(opts: CallListOptions = {}): Promise<{ active: CallRecord[]; recent: CallRecord[] }> {
    const keep = (r: CallRecord) => (!opts.direction || r.direction === opts.direction) && (!opts.status || r.status === opts.status);
    // The calls whose final write is still queued, taken before the queries: one whose write lands while
    // they run is then shown from memory — read after them, it was in neither (gone from `ending`, not yet
    // in the queries' snapshot).
    const ending = new Map(this.ending);
    const limit = Math.min(Math.max(1, Math.floor(opts.limit ?? DEFAULT_LIST_LIMIT)), MAX_LIST_LIMIT);
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.direction) where.push(`direction = $${args.push(opts.direction)}`);
    if (opts.status) where.push(`status = $${args.push(opts.status)}`);
    const cond = where.map((w) => ` AND ${w}`).join("");
    const others = (await this.read(() =>
      this.sql.unsafe(`SELECT * FROM calls WHERE state <> 'ended' AND agent <> $${args.length + 1}${cond} ORDER BY started_at, id`, [...args, this.o.agentId]),
    )) as CallRow[];
    const ended = (await this.read(() =>
      this.sql.unsafe(`SELECT * FROM calls WHERE state = 'ended'${cond} ORDER BY started_at DESC, id LIMIT $${args.length + 1}`, [...args, limit]),
    )) as CallRow[];
    const turns = await this.turnsOf([...others, ...ended].map((r) => r.id));
    const toCall = (row: CallRow) => rowToCall(fromPg(row), turns.get(row.id) ?? []);
    // Calls this agent ended whose final write is still queued are shown from memory, not as stored.
    const pendingEnded = [...ending.values()].filter(keep);
    const recent = [...pendingEnded, ...ended.filter((r) => !ending.has(r.id)).map(toCall)]
      .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : a.id < b.id ? -1 : 1))
      .slice(0, limit);
    const mine = (id: string) => this.active.has(id) || ending.has(id) || this.ending.has(id);
    return { active: [...[...this.active.values()].filter(keep), ...others.filter((r) => !mine(r.id)).map(toCall)], recent };
  }

  /** Number of stored calls (any state, any agent). */
  async count(): Promise<number> {
    const [row] = (await this.read(() => this.sql.unsafe("SELECT count(*)::int AS n FROM calls"))) as { n: number }[];
    return row!.n;
  }

  /** Writes what is queued (up to `flushMs`), then closes the pool; later writes are dropped. Idempotent. */
  async close(flushMs = 5000): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.retentionTimer);
    const left = await this.queue.flush(flushMs);
    if (left > 0) this.o.log?.error({ left }, "call store closing with writes still queued");
    this.queue.close();
    this.closed = true;
    await this.sql.close({ timeout: 2 }).catch(() => undefined);
  }

  /** As SqliteCallStore.prune: ended calls older than RECORD_RETENTION_DAYS, in batches. */
  async prune(now = this.now()): Promise<number> {
    const days = this.o.retentionDays;
    if (days === undefined || this.closed || this.queue.size > 0) return 0;
    const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
    let total = 0;
    try {
      for (;;) {
        const rows = await this.sql.unsafe(
          `DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE state = 'ended' AND started_at < $1 ORDER BY started_at LIMIT ${RETENTION_BATCH}) RETURNING id`,
          [cutoff],
        );
        total += rows.length;
        if (rows.length < RETENTION_BATCH || this.closed) break;
      }
    } catch (err) {
      this.o.log?.warn({ err: (err as Error).message }, "call store retention pass failed; retried next hour");
    }
    this.pruned += total;
    if (total > 0) this.o.log?.info({ deleted: total, olderThan: cutoff, retentionDays: days }, "call records pruned (RECORD_RETENTION_DAYS)");
    return total;
  }

  // ---------------------------------------------------------------- internals

  private upsertCall(tx: Tx, r: CallRecord): Promise<unknown> {
    return tx.unsafe(UPSERT_CALL, [this.o.agentId, ...Object.values(callParams(r, this.now().toISOString()))]);
  }

  private write(key: string, op: string, callId: string, fn: () => Promise<unknown>): void {
    if (this.closed) return;
    this.queue.runAsync(key, op, callId, fn);
  }

  private async turnsOf(ids: string[]): Promise<Map<string, TurnRecord[]>> {
    const out = new Map<string, TurnRecord[]>();
    if (ids.length === 0) return out;
    const rows = (await this.read(() =>
      this.sql.unsafe(`SELECT * FROM turns WHERE call_id IN (${ids.map((_, i) => `$${i + 1}`).join(", ")}) ORDER BY call_id, idx`, ids),
    )) as TurnRow[];
    for (const row of rows) out.set(row.call_id, [...(out.get(row.call_id) ?? []), rowToTurn(row)]);
    return out;
  }

  private async read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StoreError("unavailable", `the call database is unavailable: ${(err as Error).message}`, { cause: err });
    }
  }

  private scheduleRetention(firstMs: number): void {
    this.retentionTimer = setTimeout(() => {
      void this.prune().finally(() => {
        if (!this.closed) this.scheduleRetention(RETENTION_INTERVAL_MS);
      });
    }, firstMs);
    (this.retentionTimer as { unref?: () => void }).unref?.();
  }
}

/** BIGINT columns arrive as strings or bigints from the client: back to numbers (ms fit in 2^53). */
function fromPg(row: CallRow): CallRow {
  return row.duration_ms === null ? row : { ...row, duration_ms: Number(row.duration_ms) };
}

/** Ends this agent's calls left live by its previous run (reason "restart", ended at their last write). */
async function recoverAgentCalls(sql: SQL, agent: string, now: Date): Promise<RecoveryReport> {
  const rows = await sql.unsafe(
    `UPDATE calls SET state = 'ended', end_reason = 'restart', ended_at = updated_at,
       duration_ms = GREATEST(0, (EXTRACT(EPOCH FROM updated_at::timestamptz) - EXTRACT(EPOCH FROM COALESCE(answered_at, started_at)::timestamptz)) * 1000)::bigint,
       status = CASE WHEN direction = 'outbound' THEN 'failed' ELSE status END,
       hangup_code = NULL, hangup_reason = 'the agent restarted during the call', hangup_source = 'local', updated_at = $2
     WHERE agent = $1 AND state <> 'ended' RETURNING id`,
    [agent, now.toISOString()],
  );
  return { ended: (rows as { id: string }[]).map((r) => r.id) };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "DATABASE_URL";
  }
}
