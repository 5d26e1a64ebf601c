/**
 * Writes to calls.db that never stall a call. Each write runs at once, on the calling thread, with no
 * busy wait (the database has `busy_timeout = 0`): it either succeeds in well under a millisecond or
 * fails at once. A write that fails because the database is locked by another process, the disk is
 * full or an I/O error occurred is kept in a bounded queue and retried in the background with backoff;
 * later writes queue behind it so the database sees them in order. Calls go on meanwhile.
 *
 *   const q = new WriteQueue({ log, maxPending: 10_000 });
 *   q.run("call:abc", "save", "abc", () => upsert.run(params));
 *
 * Writes are keyed: a write whose key is already pending replaces the pending one in place (call rows
 * and turns are written whole from the live record, so only the latest matters and the order of first
 * appearance — a call's row before its turns — is kept). Overflow rule: when `maxPending` writes are
 * pending, a write with a new key is dropped and counted (`storeTotals.overflow`).
 * Failures that a retry cannot fix (a constraint, a bug) are logged, counted and dropped.
 *
 * Asynchronous databases (PostgreSQL over the network, src/store/pg-call-store.ts) use `runAsync`: the
 * write is queued and a single pump runs the queue in order, one write at a time, never on the caller's
 * stack; a retryable failure (`retryable`, e.g. the server restarting) keeps the write at the head and
 * retries with the same backoff, bound and overflow rule. `flush(ms)` waits for the queue to empty.
 */
import type { Logger } from "../util/log";

/** Default largest number of pending writes. */
export const DEFAULT_MAX_PENDING = 10_000;
/** First retry after this, ms; doubles up to RETRY_MAX_MS. */
export const RETRY_MIN_MS = 100;
export const RETRY_MAX_MS = 5_000;

/** Process totals for metrics (`voice_agent_store_writes_total{outcome}`). */
export const storeTotals = { written: 0, queued: 0, overflow: 0, failed: 0 };

/**
 * SQLite result codes after which the same write may succeed later (https://www.sqlite.org/rescode.html):
 * BUSY/LOCKED (another connection holds the lock), FULL (disk or max_page_count), IOERR (and its
 * extended codes), CANTOPEN, READONLY (a file made read-only, e.g. by an operator), PROTOCOL.
 */
export function isRetryableSqliteError(err: unknown): boolean {
  const code = String((err as { code?: unknown } | null)?.code ?? "");
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL)/.test(code);
}

export interface WriteQueueOptions {
  log?: Logger;
  maxPending?: number;
  /** Timers (tests); default setTimeout/clearTimeout. */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (h: unknown) => void;
  /** Which failures a retry may fix; default `isRetryableSqliteError`. */
  retryable?: (err: unknown) => boolean;
}

interface Pending {
  op: string;
  callId: string;
  fn: () => unknown;
  /** Written through `runAsync` (the pump awaits it). */
  async?: boolean;
}

export class WriteQueue {
  private readonly pending = new Map<string, Pending>();
  private readonly maxPending: number;
  private timer: unknown;
  private delayMs = RETRY_MIN_MS;
  private closed = false;
  /** The error that started the current backlog (for the "resumed" log line). */
  private backlogSince: { at: number; code: string } | undefined;

  /** The asynchronous write being run by the pump, if any. */
  private inFlight: Promise<void> | undefined;
  private readonly retryable: (err: unknown) => boolean;

  constructor(private readonly o: WriteQueueOptions = {}) {
    this.maxPending = o.maxPending ?? DEFAULT_MAX_PENDING;
    this.retryable = o.retryable ?? isRetryableSqliteError;
  }

  /** Writes waiting for the database (including one being written asynchronously). */
  get size(): number {
    return this.pending.size + (this.inFlight ? 1 : 0);
  }

  /**
   * Queues an asynchronous write and starts the pump; returns at once, never throws. Writes run in
   * queue order, one at a time; `key` replaces a pending (not yet started) write of the same key.
   */
  runAsync(key: string, op: string, callId: string, fn: () => Promise<unknown>): void {
    if (this.closed) return;
    const p: Pending = { op, callId, fn, async: true };
    if (this.pending.has(key) || this.pending.size < this.maxPending) this.pending.set(key, p);
    else return this.overflowed(p);
    if (this.backlogSince) storeTotals.queued++;
    if (this.timer === undefined) this.pump();
  }

  /** Waits until every queued write is done or `timeoutMs` passed; returns the number left. */
  async flush(timeoutMs: number): Promise<number> {
    const end = performance.now() + timeoutMs;
    while (this.size > 0 && performance.now() < end) {
      if (this.timer !== undefined && !this.inFlight) {
        this.clear(); // a retry is waiting on its backoff: try now
        this.pump();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.size;
  }

  /** Runs queued asynchronous writes in order until the queue is empty or one fails retryably. */
  private pump(): void {
    if (this.inFlight || this.closed) return;
    const first = this.pending.entries().next();
    if (first.done) return;
    const [key, p] = first.value;
    this.pending.delete(key);
    this.inFlight = (async () => {
      await undefined; // off the caller's stack, and inFlight is set before anything below runs
      try {
        await p.fn();
        storeTotals.written++;
        this.resumed();
        this.inFlight = undefined;
        this.pump();
      } catch (err) {
        this.inFlight = undefined;
        if (!this.retryable(err) || this.closed) {
          this.dropped(p, err);
          return this.pump();
        }
        // Back at the head, unless a newer write of the same key was queued meanwhile (it wins).
        if (!this.pending.has(key)) {
          const rest = [...this.pending];
          this.pending.clear();
          this.pending.set(key, p);
          for (const [k, v] of rest) this.pending.set(k, v);
        }
        // The writes that now wait for the database count as queued (later ones as they come, in runAsync).
        if (!this.backlogSince) storeTotals.queued += this.pending.size;
        this.noteBacklog(p, err);
        this.schedule();
      }
    })();
  }

  /**
   * Runs `fn` now, or queues it behind earlier pending writes. Never throws and never waits.
   * `key` identifies what is written (e.g. `call:<id>`, `turn:<id>:<idx>`).
   */
  run(key: string, op: string, callId: string, fn: () => unknown): void {
    if (this.closed) return;
    if (this.pending.size > 0) {
      this.enqueue(key, { op, callId, fn });
      return;
    }
    try {
      fn();
      storeTotals.written++;
    } catch (err) {
      this.failed(key, { op, callId, fn }, err);
    }
  }

  /** Drops pending writes whose key starts with `prefix` (a later write covers them). */
  discard(prefix: string): void {
    for (const key of [...this.pending.keys()]) if (key.startsWith(prefix)) this.pending.delete(key);
  }

  /**
   * Tries every pending write once more now, in order; stops at the first that still fails.
   * Returns the number left.
   */
  drain(): number {
    if (this.inFlight) return this.size;
    const head = this.pending.values().next();
    if (!head.done && head.value.async) {
      this.pump();
      return this.size;
    }
    for (const [key, p] of this.pending) {
      try {
        p.fn();
        storeTotals.written++;
        this.pending.delete(key);
      } catch (err) {
        if (!this.retryable(err)) {
          this.pending.delete(key);
          this.dropped(p, err);
          continue;
        }
        return this.pending.size;
      }
    }
    this.resumed();
    return 0;
  }

  /** The database took a write again: end the backlog (one log line) and reset the backoff. */
  private resumed(): void {
    if (this.backlogSince) {
      this.o.log?.warn({ queuedForMs: Math.round(performance.now() - this.backlogSince.at), code: this.backlogSince.code }, "call store writes resumed");
      this.backlogSince = undefined;
    }
    this.delayMs = RETRY_MIN_MS;
  }

  /** Stops retrying; pending writes are tried one last time, then dropped (counted as failed). */
  close(): void {
    if (this.closed) return;
    this.drain();
    this.closed = true;
    this.clear();
    if (this.pending.size > 0) {
      storeTotals.failed += this.pending.size;
      this.o.log?.error({ lost: this.pending.size }, "call store closed with writes still queued");
      this.pending.clear();
    }
  }

  private failed(key: string, p: Pending, err: unknown): void {
    if (!this.retryable(err)) return this.dropped(p, err);
    this.noteBacklog(p, err);
    this.enqueue(key, p);
  }

  /** The first retryable failure of a backlog is logged once. */
  private noteBacklog(p: Pending, err: unknown): void {
    if (this.backlogSince) return;
    // SQLite: SQLITE_BUSY etc.; PostgreSQL server errors: their SQLSTATE (e.g. 57P01 admin shutdown).
    const e = err as { code?: unknown; errno?: unknown } | null;
    const code = String(e?.code === "ERR_POSTGRES_SERVER_ERROR" ? e.errno : e?.code);
    this.backlogSince = { at: performance.now(), code };
    this.o.log?.error({ op: p.op, callId: p.callId, code, err: (err as Error).message }, "call store unavailable: writes queued, calls go on");
  }

  private overflowed(p: Pending): void {
    storeTotals.overflow++;
    this.o.log?.error({ op: p.op, callId: p.callId, maxPending: this.maxPending }, "call store write queue full: write dropped");
  }

  private enqueue(key: string, p: Pending): void {
    if (this.pending.has(key)) {
      this.pending.set(key, p); // same key: the newer write replaces the older one, in place
    } else if (this.pending.size >= this.maxPending) {
      return this.overflowed(p);
    } else {
      this.pending.set(key, p);
      storeTotals.queued++;
    }
    this.schedule();
  }

  private dropped(p: Pending, err: unknown): void {
    storeTotals.failed++;
    this.o.log?.error({ op: p.op, callId: p.callId, err: (err as Error)?.message ?? String(err) }, "call store write failed");
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    const set = this.o.setTimer ?? ((fn: () => void, ms: number) => {
      const t = setTimeout(fn, ms);
      (t as { unref?: () => void }).unref?.();
      return t;
    });
    this.timer = set(() => {
      this.timer = undefined;
      if (this.pending.values().next().value?.async) {
        // Asynchronous writes: the pump retries the head and, if it fails again, schedules the next try.
        this.delayMs = Math.min(this.delayMs * 2, RETRY_MAX_MS);
        return this.pump();
      }
      if (this.drain() > 0) {
        this.delayMs = Math.min(this.delayMs * 2, RETRY_MAX_MS);
        this.schedule();
      }
    }, this.delayMs);
  }

  private clear(): void {
    if (this.timer === undefined) return;
    (this.o.clearTimer ?? ((h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>)))(this.timer);
    this.timer = undefined;
  }
}
