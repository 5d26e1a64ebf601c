/**
 * Call records in an embedded SQLite database (`bun:sqlite`, `DATA_DIR/calls.db`), written as things
 * happen: the call's row when it is created and on every change (`save`), each turn as it completes
 * (`addTurn`), everything once more when it ends (`end`). Same interface as the in-memory `CallStore`.
 *
 * Durability: WAL journal, `synchronous=NORMAL` — a committed write survives the process being killed
 * (kill -9, crash, OOM) because it is in the WAL file; only an operating-system crash or power loss can
 * lose the last commits (https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html#pragma_synchronous).
 * Every write is one short transaction on the calling thread (measured well under 1 ms; see tests/store).
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
import type { CallListOptions, CallRecord, CallRecordStore, TurnRecord } from "../pipeline/call-record";
import type { Logger } from "../util/log";
import { migrate, StoreError } from "./schema";
import { CALL_COLUMNS, TURN_COLUMNS, callParams, rowToCall, rowToTurn, turnParams, type CallRow, type TurnRow } from "./rows";

/** File name inside DATA_DIR. */
export const DB_FILE = "calls.db";
/** `list()` returns at most this many ended calls when no limit is given. */
export const DEFAULT_LIST_LIMIT = 200;
/** Largest `limit` honoured by `list()`. */
export const MAX_LIST_LIMIT = 1000;

export interface SqliteCallStoreOptions {
  /** Directory of the database (created with mode 0700 if missing: transcripts are personal data). */
  dir: string;
  log?: Logger;
  /** Wall clock for `updated_at` and restart recovery; default `() => new Date()`. */
  now?: () => Date;
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
  /** Failed writes (logged); the call goes on. */
  writeErrors = 0;
  private closed = false;

  private constructor(
    private readonly db: Database,
    readonly path: string,
    private readonly log: Logger | undefined,
    private readonly now: () => Date,
    readonly recovery: RecoveryReport,
  ) {
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
      db.exec("PRAGMA busy_timeout = 5000");
    } catch (err) {
      throw new StoreError("open_failed", `cannot open ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      migrate(db);
      const recovery = recoverLiveCalls(db, now());
      const store = new SqliteCallStore(db, path, opts.log, now, recovery);
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

  /** Starts tracking a new live call and writes its row. */
  add(record: CallRecord): void {
    this.active.set(record.id, record);
    this.write("add", record.id, () => this.upsertCall.run(this.params(record)));
  }

  /** Writes the record's current fields (not its turns). */
  save(record: CallRecord): void {
    this.write("save", record.id, () => this.upsertCall.run(this.params(record)));
  }

  /**
   * Writes one turn (insert, or replace the same index if the conversation rewrote it) and moves the
   * call's `updated_at`, the time restart recovery takes as the end of a call cut by a crash.
   */
  addTurn(callId: string, turn: TurnRecord): void {
    this.write("turn", callId, () =>
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
    r.state = "ended";
    r.endReason ??= reason;
    r.endedAt = now.toISOString();
    r.durationMs = now.getTime() - Date.parse(r.answeredAt ?? r.startedAt);
    this.write("end", id, () =>
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
    this.closed = true;
    try {
      this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch {
      /* best effort */
    }
    this.db.close();
  }

  // ---------------------------------------------------------------- internals

  private params(r: CallRecord) {
    return prefix(callParams(r, this.now().toISOString()));
  }

  private turnsOf(callId: string): TurnRecord[] {
    return ((this.read(() => this.selectTurns.all(callId)) as TurnRow[] | undefined) ?? []).map(rowToTurn);
  }

  /** Runs a write; a failure (disk full, I/O error) is logged and counted, never thrown into the call. */
  private write(op: string, callId: string, fn: () => unknown): void {
    if (this.closed) return;
    try {
      fn();
    } catch (err) {
      this.writeErrors++;
      this.log?.error({ op, callId, err: (err as Error).message }, "call store write failed");
    }
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
