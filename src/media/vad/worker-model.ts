/**
 * The call thread's side of the VAD worker (VAD_WORKER=on, vad-worker.ts): a BatchModel whose runs
 * happen on a thread of its own. The WindowBatcher gathers windows exactly as with the in-thread model;
 * `runBatch` packs the batch (model.ts packBatch: input [B, len], state [2, B, 128]) into two buffers,
 * posts them in one message (transferred, not copied), and the reply (B probabilities, the next states
 * written into the state buffer, both buffers handed back for the next run) settles the run: each
 * stream's next state is written into its own array on this thread (unpackStates), as in-thread.
 *
 * Until the worker is ready (loading takes ~0.2–0.4 s) and after it failed, runs go to `fallback`, the
 * in-thread model (SileroModel on the call thread's session): calls keep their VAD either way.
 * Failure — the model cannot be loaded in the worker, the worker throws or exits, or a run gets no reply
 * within WORKER_STALL_MS — is logged once ("vad worker failed"); the worker is ended and every run in
 * flight is run again on the fallback (its windows and states are untouched until a result arrives).
 * Nothing restarts the worker.
 *
 *   const w = WorkerModel.start({ fallback: model, nice: 5, log });
 *   batcher.model = w;
 */
import { workerEntry } from "../../util/worker-entry.ts";
import type { Logger } from "../../util/log.ts";
import { countRun, packBatch, STATE_HALF, unpackStates, type BatchModel } from "./model.ts";
import { VadError } from "./errors.ts";
import type { VadWorkerReply, VadWorkerRequest } from "./vad-worker.ts";

/**
 * A run without a reply for this long means the worker is stuck: it is ended and its runs go to the
 * fallback, ms. A run of 128 windows takes ~4 ms of the worker's CPU; 2 s is far beyond any wait for a
 * core, and shorter than the ~4 s a caller would notice as barge-in not working at all.
 */
export const WORKER_STALL_MS = 2000;

/** Windows the run buffers hold at first (they grow to the largest batch seen). */
const BUFFER_WINDOWS = 64;

/** The worker entry: the embedded one inside a compiled binary, else the source file. @throws Error when not embedded */
export function vadWorkerEntry(): string {
  return workerEntry(import.meta.url, "media/vad/vad-worker", "VAD worker");
}

export interface WorkerModelOptions {
  /** Runs go here before the worker is ready and after it failed (the in-thread model). Its counts are shared. */
  fallback: BatchModel;
  /** Raise the worker thread's nice value by this much (VAD_WORKER_NICE; 0 = unchanged, the call thread's). */
  nice: number;
  /** Logs "vad worker ready" (ms, tid, nice) and, once, "vad worker failed". */
  log?: Logger;
  /** The worker's entry (tests give a failing one); default vadWorkerEntry(). */
  entry?: string;
}

interface InFlight {
  windows: readonly Float32Array[];
  states: readonly Float32Array[];
  resolve(p: Float32Array): void;
  reject(e: unknown): void;
  /** performance.now() when posted, ms. */
  at: number;
}

/** See the file's comment. */
export class WorkerModel implements BatchModel {
  /** Shared with the fallback: runs and windows scored on either thread. */
  readonly counts: { runs: number; windows: number };
  /** "starting": the worker loads its model (runs go to the fallback); "ready"; "failed" (fallback for good). */
  state: "starting" | "ready" | "failed" = "starting";
  /** Why it failed, once it did. */
  failure: string | undefined;
  private readonly inFlight = new Map<number, InFlight>();
  private nextId = 1;
  /** Buffers handed back by the worker, reused by the next run ([input, st]). */
  private spare: [ArrayBuffer, ArrayBuffer] | null = null;
  private worker: Worker | null = null;
  private readonly started = Promise.withResolvers<"ready" | "failed">();
  /** Settles once the worker is ready or has failed (whichever comes first), with that state. */
  readonly settled: Promise<"ready" | "failed"> = this.started.promise;
  private watchdog: ReturnType<typeof setInterval> | undefined;

  private constructor(private readonly o: WorkerModelOptions) {
    this.counts = o.fallback.counts;
  }

  /** Starts the worker thread; never throws (a worker that cannot be created is a failure, logged). */
  static start(o: WorkerModelOptions): WorkerModel {
    const m = new WorkerModel(o);
    const t0 = performance.now();
    try {
      const w = new Worker(o.entry ?? vadWorkerEntry());
      m.worker = w;
      w.onmessage = (ev: MessageEvent<VadWorkerReply>) => m.onReply(ev.data, t0);
      w.onerror = (ev: ErrorEvent) => m.fail(`worker error: ${ev.message}`);
      w.addEventListener("close", () => m.fail("worker exited"));
      w.unref(); // the VAD never keeps the process alive
      w.postMessage({ t: "init", nice: o.nice } satisfies VadWorkerRequest);
    } catch (err) {
      m.fail(`cannot start: ${(err as Error).message}`);
    }
    return m;
  }

  /** Ends the worker; later runs go to the fallback. Idempotent. */
  stop(): void {
    this.fail("stopped", false);
  }

  async runOne(samples: Float32Array, state: Float32Array): Promise<number> {
    return (await this.runBatch([samples], [state]))[0]!;
  }

  runBatch(windows: readonly Float32Array[], states: readonly Float32Array[]): Promise<Float32Array> {
    if (this.state !== "ready" || !this.worker) return this.o.fallback.runBatch(windows, states);
    const b = windows.length;
    const len = windows[0]!.length;
    let [ib, sb] = this.spare ?? [null, null];
    this.spare = null;
    if (!ib || ib.byteLength < b * len * 4) ib = new ArrayBuffer(Math.max(b, BUFFER_WINDOWS) * len * 4);
    if (!sb || sb.byteLength < 2 * b * STATE_HALF * 4) sb = new ArrayBuffer(2 * Math.max(b, BUFFER_WINDOWS) * STATE_HALF * 4);
    packBatch(windows, states, new Float32Array(ib, 0, b * len), new Float32Array(sb, 0, 2 * b * STATE_HALF));
    const id = this.nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Float32Array>();
    this.inFlight.set(id, { windows, states, resolve, reject, at: performance.now() });
    this.worker.postMessage({ t: "run", id, b, len, input: ib, st: sb } satisfies VadWorkerRequest, { transfer: [ib, sb] });
    this.watch();
    return promise;
  }

  private onReply(m: VadWorkerReply, t0: number): void {
    if (m.t === "ready") {
      if (this.state !== "starting") return;
      this.state = "ready";
      this.started.resolve("ready");
      this.o.log?.info({ ms: Math.round(performance.now() - t0), loadMs: m.ms, tid: m.tid, nice: m.nice, niceError: m.niceError }, "vad worker ready");
      return;
    }
    if (m.t === "load_failed") {
      this.fail(`load failed: ${m.message}`);
      return;
    }
    const run = this.inFlight.get(m.id);
    if (!run) return; // already handed to the fallback
    this.inFlight.delete(m.id);
    if (!this.spare || this.spare[0].byteLength < m.input.byteLength) this.spare = [m.input, m.st];
    if (m.t === "failed") {
      run.reject(new VadError("inference_failed", `Silero VAD run failed in the VAD worker: ${m.message}`, true));
      return;
    }
    const b = run.windows.length;
    countRun(this.counts, b);
    unpackStates(new Float32Array(m.st, 0, 2 * b * STATE_HALF), run.states);
    run.resolve(m.p);
  }

  /** Checks for a stuck worker while runs are in flight (one timer, not one per run). */
  private watch(): void {
    if (this.watchdog) return;
    this.watchdog = setInterval(() => {
      let oldest = Infinity;
      for (const r of this.inFlight.values()) oldest = Math.min(oldest, r.at);
      if (oldest === Infinity) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
      } else if (performance.now() - oldest > WORKER_STALL_MS) this.fail(`no reply for ${WORKER_STALL_MS} ms`);
    }, WORKER_STALL_MS / 4);
    this.watchdog.unref();
  }

  /** Once: logs (unless stopped), ends the worker, and runs every run in flight again on the fallback. */
  private fail(why: string, log = true): void {
    if (this.state === "failed") return;
    this.state = "failed";
    this.failure = why;
    this.started.resolve("failed");
    if (log) this.o.log?.error({ err: why, inFlight: this.inFlight.size }, "vad worker failed: VAD runs on the call thread");
    this.end();
    const runs = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const r of runs) this.o.fallback.runBatch(r.windows, r.states).then(r.resolve, r.reject);
  }

  private end(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    const w = this.worker;
    this.worker = null;
    w?.terminate();
  }
}
