/**
 * Call records in an embedded SQLite database (`bun:sqlite`, `DATA_DIR/calls.db`), written as things
 * happen: the call's row when it is created and on every change (`save`), each turn as it completes
 * (`addTurn`), everything once more when it ends (`end`). Same interface as the in-memory `CallStore`.
 *
 * Durability: WAL journal, `synchronous=NORMAL` — a committed write survives the process being killed
 * (kill -9, crash, OOM) because it is in the WAL file; only an operating-system crash or power loss can
 * lose the last commits (https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html#pragma_synchronous).
 * Every write is one short transaction on the calling thread (measured well under 1 ms; see tests/store)
 * with `busy_timeout = 0`: a database locked by another process, a full disk or an I/O error never makes
 * a call wait; the write is queued and retried in the background (src/store/write-queue.ts), and the
 * failure is logged once and counted.
 *
 * Retention: with `retentionDays`, ended calls that started longer ago are deleted (with their turns)
 * in the background, in small batches, once at open and then every RETENTION_INTERVAL_MS.
 *
 * On open, calls not ended (the process died while they were live) are marked ended with reason
 * "restart" at the time of their last write, so no call stays "connected" forever.
 *
 *   const store = SqliteCallStore.open({ dir: cfg.dataDir, log });
 *   store.add(record); store.save(record); store.addTurn(record.id, turn); store.end(record.id, "remote_bye");
 *   store.close();
 */
import { Database, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { markEnded, type CallListOptions, type CallRecord, type CallRecordStore, type TurnRecord } from "../pipeline/call-record";
import type { Logger } from "../util/log";
import { migrate, StoreError } from "./schema";
import { WriteQueue } from "./write-queue";
import { startWalCheckpointer, type WalCheckpointer } from "./wal-checkpointer";
import { CALL_COLUMNS, TURN_COLUMNS, callParams, rowToCall, rowToTurn, turnParams, type CallRow, type TurnRow } from "./rows";

/** File name inside DATA_DIR. */
export const DB_FILE = "calls.db";
/** `list()` returns at most this many ended calls when no limit is given. */
export const DEFAULT_LIST_LIMIT = 200;
/** Largest `limit` honoured by `list()`. */
export const MAX_LIST_LIMIT = 1000;
/** Retention pass period, ms (hourly). */
export const RETENTION_INTERVAL_MS = 3_600_000;
/** Calls deleted per retention batch; batches run a few ms apart so no call waits for one. */
export const RETENTION_BATCH = 200;

export interface SqliteCallStoreOptions {
  /** Directory of the database (created with mode 0700 if missing: transcripts are personal data). */
  dir: string;
  log?: Logger;
  /** Wall clock for `updated_at` and restart recovery; default `() => new Date()`. */
  now?: () => Date;
  /** RECORD_RETENTION_DAYS: delete ended calls that started more than this many days ago; default keep all. */
  retentionDays?: number;
  /** Largest number of writes queued while the database is unavailable (default 10,000). */
  maxQueuedWrites?: number;
  /**
   * Who checkpoints the WAL: "auto" (default) SQLite itself, on the connection that commits, every
   * 1,000 pages; "worker" a thread of its own every WAL_CHECKPOINT_INTERVAL_MS, so the checkpoint's fsync
   * (measured 10–115 ms at 200 calls) never holds the thread that writes here (wal-checkpointer.ts). The
   * agent uses "worker"; if the worker fails, the connection checkpoints by itself again.
   */
  walCheckpoint?: "auto" | "worker";
}

/** What recovery found at open. */
export interface RecoveryReport {
  /** Calls that were live when the previous process stopped, now ended with reason "restart". */
  ended: string[];
}

export class SqliteCallStore implements CallRecordStore {
  private readonly active = new Map<string, CallRecord>();
  private readonly upsertCall: Statement;
  private readonly upsertTurn: Statement;
  private readonly trimTurns: Statement;
  private readonly touchCall: Statement;
  private readonly selectCall: Statement;
  private readonly selectTurns: Statement;
  /** Writes that failed for good (logged); the call goes on. */
  writeErrors = 0;
  private closed = false;
  private readonly queue: WriteQueue;
  private retentionTimer: ReturnType<typeof setTimeout> | undefined;
  /** Calls deleted by retention since open. */
  pruned = 0;
  /** The WAL checkpoint worker (walCheckpoint "worker"), undefined when SQLite checkpoints on this connection. */
  checkpointer: WalCheckpointer | undefined;

  private constructor(
    private readonly db: Database,
    readonly path: string,
    private readonly log: Logger | undefined,
    private readonly now: () => Date,
    readonly recovery: RecoveryReport,
    private readonly opts: SqliteCallStoreOptions = { dir: "" },
  ) {
    this.queue = new WriteQueue({ log: log, maxPending: opts.maxQueuedWrites });
    const cols = CALL_COLUMNS.join(", ");
    const vals = CALL_COLUMNS.map((c) => `$${c}`).join(", ");
    const sets = CALL_COLUMNS.filter((c) => c !== "id").map((c) => `${c} = excluded.${c}`).join(", ");
    this.upsertCall = db.prepare(`INSERT INTO calls (${cols}) VALUES (${vals}) ON CONFLICT (id) DO UPDATE SET ${sets}`);
    const tcols = TURN_COLUMNS.join(", ");
    const tvals = TURN_COLUMNS.map((c) => `$${c}`).join(", ");
    const tsets = TURN_COLUMNS.filter((c) => c !== "call_id" && c !== "idx").map((c) => `${c} = excluded.${c}`).join(", ");
    this.upsertTurn = db.prepare(`INSERT INTO turns (${tcols}) VALUES (${tvals}) ON CONFLICT (call_id, idx) DO UPDATE SET ${tsets}`);
    this.trimTurns = db.prepare("DELETE FROM turns WHERE call_id = ? AND idx >= ?");
    this.touchCall = db.prepare("UPDATE calls SET updated_at = ? WHERE id = ?");
    this.selectCall = db.prepare("SELECT * FROM calls WHERE id = ?");
    this.selectTurns = db.prepare("SELECT * FROM turns WHERE call_id = ? ORDER BY idx");
  }

  /**
   * Opens (creating if needed) `dir/calls.db`, migrates it, and ends the calls a previous process left live.
   * @throws StoreError "open_failed" (directory or file not writable, not a database), "newer_schema",
   *   "migration_failed".
   */
  static open(opts: SqliteCallStoreOptions): SqliteCallStore {
    const path = join(opts.dir, DB_FILE);
    const now = opts.now ?? (() => new Date());
    let db: Database;
    try {
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      db = new Database(path, { create: true, strict: false });
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA foreign_keys = ON");
      // Never wait for a lock on the thread that paces RTP: a locked database fails at once and the
      // write is queued (write-queue.ts).
      db.exec("PRAGMA busy_timeout = 0");
    } catch (err) {
      throw new StoreError("open_failed", `cannot open ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      migrate(db);
      const recovery = recoverLiveCalls(db, now());
      const store = new SqliteCallStore(db, path, opts.log, now, recovery, opts);
      if (opts.walCheckpoint === "worker") store.checkpointInWorker();
      if (opts.retentionDays !== undefined) store.scheduleRetention(1000);
      if (recovery.ended.length > 0) {
        opts.log?.warn({ count: recovery.ended.length, callIds: recovery.ended.slice(0, 20) }, "calls left live by the previous run marked ended (restart)");
      }
      return store;
    } catch (err) {
      db.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError("open_failed", `cannot use ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Writes waiting because the database was unavailable. */
  get queuedWrites(): number {
    return this.queue.size;
  }

  /** Starts tracking a new live call and writes its row. */
  add(record: CallRecord): void {
    this.active.set(record.id, record);
    this.write(`call:${record.id}`, "add", record.id, () => this.upsertCall.run(this.params(record)));
  }

  /** Writes the record's current fields (not its turns). */
  save(record: CallRecord): void {
    this.write(`call:${record.id}`, "save", record.id, () => this.upsertCall.run(this.params(record)));
  }

  /**
   * Writes one turn (insert, or replace the same index if the conversation rewrote it) and moves the
   * call's `updated_at`, the time restart recovery takes as the end of a call cut by a crash.
   */
  addTurn(callId: string, turn: TurnRecord): void {
    this.write(`turn:${callId}:${turn.index}`, "turn", callId, () =>
      this.db.transaction(() => {
        this.upsertTurn.run(prefix(turnParams(callId, turn)));
        this.touchCall.run(this.now().toISOString(), callId);
      })(),
    );
  }

  /**
   * Marks the call ended (state, endReason if unset, endedAt, durationMs from answer — or from start if
   * never answered — to `now`) and writes the record with all its turns in one transaction, so the
   * stored transcript is exactly the final one.
   */
  end(id: string, reason: string, now = this.now()): void {
    const r = this.active.get(id);
    if (!r) return;
    this.active.delete(id);
    markEnded(r, reason, now);
    this.queue.discard(`turn:${id}:`); // the end writes every turn
    this.write(`call:${id}`, "end", id, () =>
      this.db.transaction(() => {
        this.upsertCall.run(this.params(r));
        for (const t of r.turns) this.upsertTurn.run(prefix(turnParams(id, t)));
        this.trimTurns.run(id, r.turns.length);
      })(),
    );
  }

  /** A live call (the same object its owner mutates) or a stored one; undefined when unknown. */
  get(id: string): CallRecord | undefined {
    const live = this.active.get(id);
    if (live) return live;
    const row = this.read(() => this.selectCall.get(id) as CallRow | null);
    return row ? rowToCall(row, this.turnsOf(row.id)) : undefined;
  }

  /**
   * Live calls (start order) and ended calls from the database (newest first, at most `limit`, default
   * DEFAULT_LIST_LIMIT, capped at MAX_LIST_LIMIT), optionally of one direction and status.
   */
  list(opts: CallListOptions = {}): { active: CallRecord[]; recent: CallRecord[] } {
    const keep = (r: CallRecord) => (!opts.direction || r.direction === opts.direction) && (!opts.status || r.status === opts.status);
    const limit = Math.min(Math.max(1, Math.floor(opts.limit ?? DEFAULT_LIST_LIMIT)), MAX_LIST_LIMIT);
    const where = ["state = 'ended'"];
    const args: (string | number)[] = [];
    if (opts.direction) {
      where.push("direction = ?");
      args.push(opts.direction);
    }
    if (opts.status) {
      where.push("status = ?");
      args.push(opts.status);
    }
    args.push(limit);
    const rows =
      this.read(() => this.db.query(`SELECT * FROM calls WHERE ${where.join(" AND ")} ORDER BY started_at DESC, id LIMIT ?`).all(...args) as CallRow[]) ??
      [];
    return {
      active: [...this.active.values()].filter(keep),
      recent: rows.map((row) => rowToCall(row, this.turnsOf(row.id))),
    };
  }

  /** Number of stored calls (any state). */
  count(): number {
    return (this.db.query("SELECT count(*) AS n FROM calls").get() as { n: number }).n;
  }

  /** Checkpoints the WAL and closes the file. Idempotent; later writes are dropped. */
  close(): void {
    if (this.closed) return;
    clearTimeout(this.retentionTimer);
    this.queue.close();
    this.closed = true;
    this.checkpointer?.stop();
    try {
      // The worker may be in a checkpoint of its own: wait for it rather than leave the WAL behind. A checkpoint
      // that finds another one running gives up at once with busy = 1 (sqlite3_wal_checkpoint_v2: "SQLITE_BUSY ...
      // if another connection is running a checkpoint"), not through the busy handler: retry for up to 2 s.
      if (this.checkpointer) this.db.exec("PRAGMA busy_timeout = 2000");
      const deadline = performance.now() + 2000;
      for (;;) {
        const r = this.db.query("PRAGMA wal_checkpoint(TRUNCATE)").get() as { busy: number } | null;
        if (!r || r.busy === 0 || !this.checkpointer || performance.now() > deadline) break;
        Bun.sleepSync(5);
      }
    } catch {
      /* best effort */
    }
    this.db.close();
  }

  // ---------------------------------------------------------------- internals

  /** Hands the WAL checkpoints to a worker thread; back to SQLite's automatic ones if the worker fails. */
  private checkpointInWorker(): void {
    this.db.exec("PRAGMA wal_autocheckpoint = 0");
    this.checkpointer = startWalCheckpointer({
      path: this.path,
      onFailed: (why) => {
        if (this.closed) return;
        this.db.exec("PRAGMA wal_autocheckpoint = 1000");
        this.log?.warn({ err: why }, "WAL checkpoint worker failed; SQLite checkpoints on the call thread again");
      },
    });
  }

  private params(r: CallRecord) {
    return prefix(callParams(r, this.now().toISOString()));
  }

  private turnsOf(callId: string): TurnRecord[] {
    return ((this.read(() => this.selectTurns.all(callId)) as TurnRow[] | undefined) ?? []).map(rowToTurn);
  }

  /**
   * Runs a write now or queues it (locked database, full disk, I/O error); never thrown into the call,
   * never waited for.
   */
  private write(key: string, op: string, callId: string, fn: () => unknown): void {
    if (this.closed) return;
    this.queue.run(key, op, callId, () => {
      try {
        return fn();
      } catch (err) {
        this.writeErrors++;
        throw err;
      }
    });
  }

  /**
   * Deletes ended calls (and their turns, ON DELETE CASCADE) that started more than `retentionDays`
   * ago, RETENTION_BATCH at a time with a pause between batches. Returns the number deleted by this
   * pass. Skipped (0) while writes are queued: the database is not available.
   */
  async prune(now = this.now()): Promise<number> {
    const days = this.opts.retentionDays;
    if (days === undefined || this.closed || this.queue.size > 0) return 0;
    const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
    let total = 0;
    for (;;) {
      if (this.closed) break;
      let n: number;
      try {
        n = this.db
          .query(`DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE state = 'ended' AND started_at < ? ORDER BY started_at LIMIT ${RETENTION_BATCH})`)
          .run(cutoff).changes;
      } catch (err) {
        this.log?.warn({ err: (err as Error).message }, "call store retention pass failed; retried next hour");
        break;
      }
      total += n;
      if (n < RETENTION_BATCH) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    this.pruned += total;
    if (total > 0) this.log?.info({ deleted: total, olderThan: cutoff, retentionDays: days }, "call records pruned (RECORD_RETENTION_DAYS)");
    return total;
  }

  private scheduleRetention(firstMs: number): void {
    this.retentionTimer = setTimeout(() => {
      void this.prune().finally(() => {
        if (!this.closed) this.scheduleRetention(RETENTION_INTERVAL_MS);
      });
    }, firstMs);
    (this.retentionTimer as { unref?: () => void }).unref?.();
  }

  private read<T>(fn: () => T): T | undefined {
    if (this.closed) return undefined;
    try {
      return fn();
    } catch (err) {
      this.log?.error({ err: (err as Error).message }, "call store read failed");
      return undefined;
    }
  }
}

/** `{ a: 1 }` → `{ $a: 1 }` (bun:sqlite named parameters keep their prefix unless `strict`). */
function prefix<T extends Record<string, unknown>>(o: T): Record<string, T[keyof T]> {
  const out: Record<string, T[keyof T]> = {};
  for (const k in o) out[`$${k}`] = o[k];
  return out;
}

/**
 * Ends every call a previous process left live: state "ended", end_reason "restart", ended at its last
 * write (`updated_at`: the last moment we know it was alive), outbound status "failed" with a local
 * hang-up cause. One transaction.
 */
export function recoverLiveCalls(db: Database, now: Date): RecoveryReport {
  const rows = db.query("SELECT id, direction, started_at, answered_at, updated_at FROM calls WHERE state <> 'ended'").all() as Pick<
    CallRow,
    "id" | "direction" | "started_at" | "answered_at" | "updated_at"
  >[];
  if (rows.length === 0) return { ended: [] };
  const update = db.prepare(
    `UPDATE calls SET state = 'ended', end_reason = 'restart', ended_at = $ended_at, duration_ms = $duration_ms,
       status = CASE WHEN direction = 'outbound' THEN 'failed' ELSE status END,
       hangup_code = NULL, hangup_reason = 'the agent restarted during the call', hangup_source = 'local',
       updated_at = $now
     WHERE id = $id`,
  );
  db.transaction(() => {
    for (const r of rows) {
      const endedAt = r.updated_at;
      const from = Date.parse(r.answered_at ?? r.started_at);
      update.run({ $id: r.id, $ended_at: endedAt, $duration_ms: Math.max(0, Date.parse(endedAt) - from), $now: now.toISOString() });
    }
  })();
  return { ended: rows.map((r) => r.id) };
}
