/**
 * The WAL checkpoint thread of the SQLite call store (a Bun Worker; an extra entry point of the compiled
 * binary, scripts/build.ts): it opens its own connection to `calls.db` and copies the write-ahead log back
 * into the database every `intervalMs`, so the fsync a checkpoint needs blocks this thread and not the one
 * that paces RTP (src/store/wal-checkpointer.ts says why).
 *
 * A PASSIVE checkpoint "checkpoint[s] as many frames as possible without waiting for any database readers
 * or writers to finish" (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html): the call thread's writes
 * never wait for it. With `synchronous=NORMAL` "the WAL file is synchronized before each checkpoint and the
 * database file is synchronized after each completed checkpoint" (https://www.sqlite.org/pragma.html#pragma_synchronous):
 * those are the syncs moved here.
 *
 * Protocol (wal-checkpointer.ts is the other side):
 *   main → worker  { kind: "init", path, intervalMs }   once, first
 *                  { kind: "stop" }                     close the connection and exit
 *   worker → main  { kind: "checkpointed", frames, ms } a checkpoint copied frames (WAL frames, time taken in ms)
 *                  { kind: "failed", message }          the connection could not be opened or a checkpoint threw;
 *                                                       the worker has stopped checkpointing
 */
import { Database } from "bun:sqlite";

export type CheckpointRequest = { kind: "init"; path: string; intervalMs: number } | { kind: "stop" };
export type CheckpointReply = { kind: "checkpointed"; frames: number; ms: number } | { kind: "failed"; message: string };

declare const self: Worker;

let db: Database | undefined;
let timer: ReturnType<typeof setInterval> | undefined;
/** Frames already reported as checkpointed in the current WAL (it restarts from 0 after a full checkpoint). */
let reported = 0;
const post = (m: CheckpointReply) => self.postMessage(m);

function stop(): void {
  clearInterval(timer);
  timer = undefined;
  try {
    db?.close();
  } catch {
    /* closing a connection the process is leaving anyway */
  }
  db = undefined;
}

function checkpoint(): void {
  if (!db) return;
  const t0 = performance.now();
  try {
    // busy = 1 when another checkpoint (the store's close) ran at the same time: nothing lost, next time.
    const r = db.query("PRAGMA wal_checkpoint(PASSIVE)").get() as { busy: number; log: number; checkpointed: number };
    const copied = r.checkpointed < reported ? r.checkpointed : r.checkpointed - reported;
    reported = r.checkpointed;
    if (copied > 0) post({ kind: "checkpointed", frames: copied, ms: Math.round((performance.now() - t0) * 10) / 10 });
  } catch (err) {
    stop();
    post({ kind: "failed", message: (err as Error).message });
  }
}

self.onmessage = (ev: MessageEvent<CheckpointRequest>) => {
  const m = ev.data;
  if (m.kind === "init") {
    try {
      db = new Database(m.path, { readwrite: true, create: false });
      // Wait for a lock here rather than fail: this thread paces nothing.
      db.exec("PRAGMA busy_timeout = 1000");
    } catch (err) {
      post({ kind: "failed", message: (err as Error).message });
      return;
    }
    // One checkpoint now: SQLite opens the -wal and -shm files on this connection's first use, so the
    // worker's descriptors are all open from the start, not 5 s in (tests/e2e/soak counts them).
    checkpoint();
    timer = setInterval(checkpoint, m.intervalMs);
  } else if (m.kind === "stop") {
    stop();
    process.exit(0);
  }
};
