/**
 * WAL checkpoints of the SQLite call store on a thread of their own (wal-checkpoint-worker.ts), not on the
 * thread that paces RTP.
 *
 * Why: SQLite checkpoints automatically on the committing connection once the WAL passes 1,000 pages
 * (https://www.sqlite.org/wal.html#automatic_checkpoint), and with `synchronous=NORMAL` a checkpoint
 * fsyncs the WAL and the database file. Those commits are the call thread's (sqlite-call-store.ts). Measured
 * at bench:load's 200 calls (6 Dec 2026, `perf trace --duration 10` on the agent): the call thread in
 * `fsync(calls.db-wal)` for 10, 21 and 90 ms in one row, lined up with the agent's longest stalls (its pacer
 * 98–121 ms late, the thread asleep 89 ms, every call's audio stopped at once); 72–115 ms asleep at call
 * ends in two more rows. With DATA_DIR on tmpfs (no fsync cost) the same stalls were gone.
 *
 * With a checkpointer the store's connection runs `PRAGMA wal_autocheckpoint = 0` and this worker runs a
 * PASSIVE checkpoint every `intervalMs`. If the worker cannot start or fails, the store's connection gets
 * its automatic checkpoints back (`onFailed`), so the WAL never grows without bound.
 *
 *   const cp = startWalCheckpointer({ path, intervalMs: 5000, onFailed: (why) => { db.exec("PRAGMA wal_autocheckpoint = 1000"); … } });
 *   cp.stop();
 */
import type { CheckpointReply, CheckpointRequest } from "./wal-checkpoint-worker";
import { workerEntry } from "../util/worker-entry";

/** Checkpoint period, ms: the WAL holds at most this long of writes (200 calls write ~1,000 pages in 10–20 s). */
export const WAL_CHECKPOINT_INTERVAL_MS = 5000;

export interface WalCheckpointerOptions {
  /** The database file (its WAL is `path + "-wal"`). */
  path: string;
  /** Checkpoint period, ms; default WAL_CHECKPOINT_INTERVAL_MS. */
  intervalMs?: number;
  /** The worker could not start or stopped checkpointing (called at most once). */
  onFailed: (why: string) => void;
}

export interface WalCheckpointer {
  /** Checkpoints that copied frames so far, and the frames copied. */
  readonly counts: { checkpoints: number; frames: number };
  /** Stops the worker (it closes its connection). Idempotent. */
  stop(): void;
}

/**
 * Starts the checkpoint worker. Never throws: a worker that cannot be created is reported through
 * `onFailed` (synchronously) and the returned checkpointer does nothing.
 */
export function startWalCheckpointer(o: WalCheckpointerOptions): WalCheckpointer {
  const counts = { checkpoints: 0, frames: 0 };
  let done = false;
  const fail = (why: string) => {
    if (done) return;
    done = true;
    o.onFailed(why);
  };
  let worker: Worker;
  try {
    worker = new Worker(workerEntry(import.meta.url, "store/wal-checkpoint-worker", "WAL checkpoint worker"));
  } catch (err) {
    fail((err as Error).message);
    return { counts, stop: () => {} };
  }
  worker.onmessage = (ev: MessageEvent<CheckpointReply>) => {
    const m = ev.data;
    if (m.kind === "checkpointed") {
      counts.checkpoints++;
      counts.frames += m.frames;
    } else if (m.kind === "failed") fail(m.message);
  };
  worker.onerror = (ev: ErrorEvent) => fail(ev.message);
  worker.addEventListener("close", () => fail("exited"));
  worker.unref(); // checkpoints never keep the process alive
  const init: CheckpointRequest = { kind: "init", path: o.path, intervalMs: o.intervalMs ?? WAL_CHECKPOINT_INTERVAL_MS };
  worker.postMessage(init);
  return {
    counts,
    stop() {
      if (done) return;
      done = true;
      worker.postMessage({ kind: "stop" } satisfies CheckpointRequest);
    },
  };
}
