/**
 * calls.db writes never stall a call: a database locked by another connection, a full database and a
 * failing write are reported once, queued (bounded, overflow counted) and written when possible; the
 * writes return at once. Retention deletes old ended calls with their turns, in the background.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CallRecord, TurnRecord } from "../../src/pipeline/call-record";
import { DB_FILE, SqliteCallStore, WriteQueue, storeTotals } from "../../src/store";
import { createLogger } from "../../src/util/log";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "va-store-q-"));
  dirs.push(d);
  return d;
}

function call(id: string, startedAt = new Date().toISOString()): CallRecord {
  return { id, sipCallId: `${id}@127.0.0.1`, direction: "inbound", from: "sip:a@127.0.0.1", to: "sip:b@127.0.0.1", state: "ringing", startedAt, turns: [], bargeIns: 0 };
}
const turn = (index: number, text: string): TurnRecord => ({ index, speaker: "caller", text, at: new Date().toISOString() });

function captureLog() {
  const lines: any[] = [];
  return { lines, log: createLogger({ destination: { write: (s: string) => void lines.push(JSON.parse(s)) } }) };
}

async function until(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

describe("SqliteCallStore while the database is unavailable", () => {
  test("locked by another connection: every write returns at once, is queued, and lands in order once the lock is gone", async () => {
    const dir = tempDir();
    const { log, lines } = captureLog();
    const store = SqliteCallStore.open({ dir, log });
    const other = new Database(join(dir, DB_FILE));
    other.exec("BEGIN EXCLUSIVE"); // another process holding the write lock (an operator's sqlite3, a backup)
    const before = { ...storeTotals };
    const r = call("locked-1");
    const costs: number[] = [];
    const timed = (f: () => void) => {
      const t = performance.now();
      f();
      costs.push(performance.now() - t);
    };
    timed(() => store.add(r));
    r.state = "connected";
    r.answeredAt = new Date().toISOString();
    timed(() => store.save(r));
    r.turns.push(turn(0, "hello"));
    timed(() => store.addTurn(r.id, r.turns[0]!));
    expect(Math.max(...costs)).toBeLessThan(250); // no busy_timeout wait (it was 5,000 ms)
    expect(store.queuedWrites).toBe(2); // call row (add, then save in its place) and the turn
    expect(storeTotals.queued - before.queued).toBe(2);
    expect(store.get(r.id)).toBe(r); // the live record is served from memory meanwhile
    expect(lines.filter((l) => l.msg === "call store unavailable: writes queued, calls go on")).toEqual([
      expect.objectContaining({ level: "error", code: "SQLITE_BUSY", op: "add", callId: "locked-1" }),
    ]);
    other.exec("COMMIT");
    await until(() => store.queuedWrites === 0, 10_000);
    const row = other.query("SELECT state FROM calls WHERE id = ?").get(r.id) as { state: string };
    expect(row.state).toBe("connected");
    expect(other.query("SELECT text FROM turns WHERE call_id = ?").all(r.id)).toEqual([{ text: "hello" }]);
    expect(lines.some((l) => l.msg === "call store writes resumed")).toBe(true);
    store.end(r.id, "remote_bye");
    expect((other.query("SELECT state FROM calls WHERE id = ?").get(r.id) as { state: string }).state).toBe("ended");
    other.close();
    store.close();
  });

  test("full (max_page_count reached): queued, not lost; written once there is room", async () => {
    const dir = tempDir();
    const store = SqliteCallStore.open({ dir });
    const db = (store as unknown as { db: Database }).db;
    const r = call("full-1");
    store.add(r);
    const pages = (db.query("PRAGMA page_count").get() as { page_count: number }).page_count;
    db.exec(`PRAGMA max_page_count = ${pages}`);
    const big = "x".repeat(64 * 1024);
    for (let i = 0; i < 4; i++) {
      r.turns.push(turn(i, big));
      store.addTurn(r.id, r.turns[i]!);
    }
    expect(store.queuedWrites).toBeGreaterThan(0);
    db.exec("PRAGMA max_page_count = 1073741823");
    await until(() => store.queuedWrites === 0, 10_000);
    expect((db.query("SELECT count(*) AS n FROM turns WHERE call_id = ?").get(r.id) as { n: number }).n).toBe(4);
    store.close();
  });

  test("bounded: past maxQueuedWrites a new write is dropped and counted; a write for a pending key still replaces it", () => {
    const dir = tempDir();
    const store = SqliteCallStore.open({ dir, maxQueuedWrites: 3 });
    const other = new Database(join(dir, DB_FILE));
    other.exec("BEGIN EXCLUSIVE");
    const before = storeTotals.overflow;
    const calls = Array.from({ length: 6 }, (_, i) => call(`of-${i}`));
    for (const c of calls) store.add(c);
    expect(store.queuedWrites).toBe(3);
    expect(storeTotals.overflow - before).toBe(3);
    store.save(calls[0]!); // same key as a pending write: replaces it, no overflow
    expect(storeTotals.overflow - before).toBe(3);
    other.exec("ROLLBACK");
    other.close();
    store.close();
  });
});

describe("WriteQueue", () => {
  test("a failure a retry cannot fix is logged, counted and dropped; it does not hold up later writes", () => {
    const q = new WriteQueue();
    const before = storeTotals.failed;
    let ran = 0;
    q.run("k1", "save", "c", () => {
      throw Object.assign(new Error("constraint failed"), { code: "SQLITE_CONSTRAINT_CHECK" });
    });
    q.run("k2", "save", "c", () => void ran++);
    expect(storeTotals.failed - before).toBe(1);
    expect(q.size).toBe(0);
    expect(ran).toBe(1);
  });

  test("retries back off (100 ms doubling) on an injected timer until the database answers", () => {
    const timers: Array<{ fn: () => void; ms: number }> = [];
    const q = new WriteQueue({ setTimer: (fn, ms) => timers.push({ fn, ms }), clearTimer: () => {} });
    let busy = 3;
    const write = () => {
      if (busy-- > 0) throw Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
    };
    q.run("k", "add", "c", write);
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = timers.shift()!;
      delays.push(t.ms);
      t.fn();
    }
    expect(delays).toEqual([100, 200, 400]);
    expect(q.size).toBe(0);
    expect(timers).toHaveLength(0);
  });
});

describe("retention (RECORD_RETENTION_DAYS)", () => {
  test("ended calls older than the retention are deleted with their turns; recent and live ones stay", async () => {
    const dir = tempDir();
    const now = new Date("2026-12-05T12:00:00.000Z");
    const store = SqliteCallStore.open({ dir, retentionDays: 30, now: () => now });
    const day = 86_400_000;
    const iso = (daysAgo: number) => new Date(now.getTime() - daysAgo * day).toISOString();
    for (let i = 0; i < 450; i++) {
      const c = call(`old-${i}`, iso(40 + (i % 10)));
      store.add(c);
      c.turns.push(turn(0, "old"));
      store.addTurn(c.id, c.turns[0]!);
      store.end(c.id, "remote_bye", new Date(Date.parse(c.startedAt) + 60_000));
    }
    const recent = call("recent", iso(5));
    store.add(recent);
    store.end(recent.id, "remote_bye", now);
    const liveOld = call("live-old", iso(90)); // still live: never pruned
    store.add(liveOld);
    expect(await store.prune()).toBe(450);
    const db = (store as unknown as { db: Database }).db;
    expect((db.query("SELECT id FROM calls ORDER BY id").all() as { id: string }[]).map((r) => r.id)).toEqual(["live-old", "recent"]);
    expect((db.query("SELECT count(*) AS n FROM turns").get() as { n: number }).n).toBe(0);
    expect(store.pruned).toBe(450);
    store.close();
  });

  test("without RECORD_RETENTION_DAYS nothing is pruned", async () => {
    const store = SqliteCallStore.open({ dir: tempDir(), now: () => new Date("2030-01-01T00:00:00Z") });
    const c = call("ancient", "2001-01-01T00:00:00.000Z");
    store.add(c);
    store.end(c.id, "remote_bye");
    expect(await store.prune()).toBe(0);
    expect(store.count()).toBe(1);
    store.close();
  });
});
