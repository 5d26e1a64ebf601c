/**
 * The WAL checkpoint worker (src/store/wal-checkpointer.ts): with it, the store's connection never checkpoints
 * (its fsync held the call thread 10–115 ms at 200 calls), the worker's connection copies the WAL into the
 * database, and a worker that cannot do its job hands the checkpoints back.
 */
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { outbound } from "./records";
import { DB_FILE, SqliteCallStore } from "../../src/store";
import { startWalCheckpointer } from "../../src/store/wal-checkpointer";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "va-walcp-"));
  dirs.push(d);
  return d;
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(20);
}

test("the worker copies the WAL into the database; the writing connection checkpoints nothing itself", async () => {
  const path = join(tempDir(), "t.db");
  const db = new Database(path, { create: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA wal_autocheckpoint = 0");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  const ins = db.prepare("INSERT INTO t (v) VALUES (?)");
  for (let i = 0; i < 300; i++) ins.run("x".repeat(200)); // 300 commits, one WAL frame or more each
  const failures: string[] = [];
  const cp = startWalCheckpointer({ path, intervalMs: 50, onFailed: (why) => failures.push(why) });
  try {
    await until(() => cp.counts.frames >= 300, 10_000);
    expect(failures).toEqual([]);
    expect(cp.counts.checkpoints).toBeGreaterThanOrEqual(1);
    expect(cp.counts.frames).toBeGreaterThanOrEqual(300);
    // Everything in the WAL is in the database now: a checkpoint from here has nothing left to copy.
    const r = db.query("PRAGMA wal_checkpoint(PASSIVE)").get() as { busy: number; log: number; checkpointed: number };
    expect(r.checkpointed).toBe(r.log);
    // Writes go on while the worker holds its connection (the store's busy_timeout is 0: nothing may wait).
    db.exec("PRAGMA busy_timeout = 0");
    for (let i = 0; i < 100; i++) ins.run("y");
    expect((db.query("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(400);
  } finally {
    cp.stop();
    db.close();
  }
});

test("a worker that cannot open the database reports it once (the store then checkpoints by itself)", async () => {
  const failures: string[] = [];
  startWalCheckpointer({ path: join(tempDir(), "missing", "x.db"), intervalMs: 50, onFailed: (why) => failures.push(why) });
  await until(() => failures.length > 0, 10_000);
  await Bun.sleep(100);
  expect(failures).toHaveLength(1);
});

test("SqliteCallStore walCheckpoint worker: the connection's automatic checkpoint is off, and close still truncates the WAL", async () => {
  const dir = tempDir();
  const store = SqliteCallStore.open({ dir, walCheckpoint: "worker" });
  const own = (store as unknown as { db: Database }).db;
  expect((own.query("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint).toBe(0);
  for (let i = 0; i < 50; i++) {
    const r = outbound(`c${i}`);
    store.add(r);
    store.end(r.id, "remote_bye");
  }
  expect(store.checkpointer).toBeDefined();
  store.close();
  const wal = join(dir, `${DB_FILE}-wal`);
  expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
  const db = new Database(join(dir, DB_FILE), { readonly: true });
  expect((db.query("SELECT count(*) AS n FROM calls").get() as { n: number }).n).toBe(50);
  db.close();
});

test("SqliteCallStore default: SQLite's own automatic checkpoint (1,000 pages), no worker", () => {
  const store = SqliteCallStore.open({ dir: tempDir() });
  const own = (store as unknown as { db: Database }).db;
  expect((own.query("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint).toBe(1000);
  expect(store.checkpointer).toBeUndefined();
  store.close();
});
