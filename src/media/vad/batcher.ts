/**
 * Silero model runs for many streams at once. The v5 model takes a batch dimension (input [B, 288],
 * state [2, B, 128], output [B, 1], stateN [2, B, 128]), and onnxruntime's cost per run is mostly fixed:
 * measured here (onnxruntime-node 1.30, one thread), one window alone costs 0.15 ms of CPU, a window in
 * a batch of 50 0.03 ms, with bit-identical probabilities. The run happens on the call thread
 * (onnxruntime-node's `run` is synchronous inside a setImmediate), hence MAX_BATCH, or with VAD_WORKER=on
 * on the VAD worker's (worker-model.ts; `model` is swapped, nothing else here changes). All calls' VAD
 * streams therefore go through one WindowBatcher: a window waits until the current event-loop turn ends, or with a cadence
 * (BatcherOptions.waitMs) until the oldest queued window has waited that long, and at least until the
 * run in flight finishes; every window queued by then goes into the next run.
 *
 * Order: a stream has at most one window in flight (silero.ts chains its windows), so batching never
 * reorders one stream's windows; state goes in with the window and the next state is written back into
 * the stream's own state array when the run returns.
 */
import type { BatchModel } from "./model.ts";
import { pacePoint } from "../../util/pace-point.ts";

export { vadBacklog, vadBatchSizes, vadTotals, VAD_BATCH_BOUNDS } from "./totals.ts";
export { SileroModel, type BatchModel } from "./model.ts";

/**
 * Windows per model run at most. onnxruntime-node runs the model synchronously on the calling (main)
 * thread, so one run holds the event loop, the RTP pacer included, for its whole duration. Measured CPU
 * per window: batch 16 0.046 ms, 64 0.037 ms, 256 0.029 ms; a run of 64 holds the loop ~2.4 ms, one of
 * 256 ~7.4 ms (beyond the pacer's 5 ms lateness budget). 64 trades ~25 % of VAD CPU for that bound.
 * With the VAD worker (VAD_WORKER=on) a run holds the call thread only while its batch is packed and
 * its next states unpacked: 16 µs for 64 windows, 32 µs for 128 (measured, model.ts packBatch and
 * unpackStates). The caps stay: they now bound how long a window that arrives during a run waits for
 * that run to finish before its own starts (~2.4 ms of the worker's CPU for 64, ~4 ms for 128), which
 * adds to a barge-in's decision time, and a larger run would save ≤ 25 % of the worker's CPU.
 */
export const MAX_BATCH = 64;

/**
 * Windows per model run at most when more than MAX_BATCH wait (the model is behind). A stream scores
 * one window per run and the batcher makes one run per event-loop turn, so the windows a turn can score
 * are capped by the run size while the windows a turn brings grow with its length: at 200 calls (~260
 * streams, ~8,100 windows/s) a cap of 64 keeps up only while turns last under ~8 ms. Past that edge the
 * streams fell behind for good (issue 13). Behind, a run of up to 128 (~3–4 ms of loop, cheaper per
 * window) doubles what a turn can score; the loop is late anyway then, and shedding (silero.ts) bounds
 * what is left.
 */
export const MAX_BATCH_BEHIND = 128;

/** Scores one window (samples with context) given the stream's state. */
export interface WindowRunner {
  /**
   * Resolves with the window's speech probability in [0, 1] and writes the stream's next state into
   * `state` (STATE_SIZE floats, in place: nothing is allocated per window for it). `state` must not be
   * changed by anyone else until the promise settles; on a rejection it is left as it was.
   */
  run(samples: Float32Array, state: Float32Array): Promise<number>;
  /**
   * Optional: `run` without a promise per window (issue 13: a stream's promise chain per frame was most of
   * the call thread's garbage): the outcome goes to `done`, always from a microtask after the run, never
   * from inside `submit`. Same contract for `samples` and `state`.
   */
  submit?(samples: Float32Array, state: Float32Array, done: RunDone): void;
}

/** Where a submitted window's outcome goes (WindowRunner.submit). */
export interface RunDone {
  /** The window's speech probability in [0, 1] (its next state is in the stream's array). */
  ran(p: number): void;
  failed(err: unknown): void;
}

interface Queued {
  samples: Float32Array;
  state: Float32Array;
  /** A submitted window's outcome (null for `run`'s, which settle `resolve`/`reject`). */
  done: RunDone | null;
  resolve: ((p: number) => void) | null;
  reject: ((e: unknown) => void) | null;
  /** performance.now() when queued, ms. */
  at: number;
  /** A submitted window's probability, read from the run's output when it ended. */
  p: number;
}

/** A spent entry's arrays (it holds no stream's). */
const NO_SAMPLES = new Float32Array(0);
/** Queue entries kept for reuse (a run of MAX_BATCH_BEHIND, twice). */
const SPARE_QUEUED = 2 * MAX_BATCH_BEHIND;

/**
 * Windows queued together before a run: once this many wait, the run starts without waiting longer
 * for the cadence. Measured (onnxruntime-node, one thread; `bun run scripts/bench-vad-batch.ts`): CPU per
 * window 175 µs alone, 50 µs in a batch of 4, 29 µs of 16, 27 µs of 32, 24 µs of 64 — past ~16 a larger
 * batch saves little and holds the event loop longer (a run of 16 ~0.45 ms, of 32 ~0.8 ms, of 64 ~1.5 ms).
 * bench:load's SIPp callers send in bursts, so a turn already holds 12–20 windows at 60 calls: flushing
 * there at once (16, not 32) keeps the cadence from adding a wait where it gains nothing.
 */
export const FLUSH_AT = 16;

/**
 * The agent's VAD_MAX_LAG_MS by default, ms: a call's VAD more than this far behind its audio skips
 * windows (overload shedding, silero.ts). Well above what a stream has queued when the model keeps up
 * (measured max at 150 calls in bench:load: see the README's Benchmarks), well below the 500 ms in
 * which a turn's end is judged, so a lag this large is overload, not jitter.
 */
export const DEFAULT_MAX_LAG_MS = 256;

/**
 * The agent's VAD_BATCH_MS by default, ms (a loaded model starts at 0: tests and simulations feed frames as fast as they can).
 * At 200 outside callers (bench:load, session 23, same binary, rows next to each other) the calls' windows come at
 * ~2,200/s (10.5–11.0 per call-s scored, 21.5 left quiet): with 4 ms and FLUSH_AT 16 a run held 13–24 windows on
 * average (voice_agent_vad_batch_windows: most runs 9–48); with 8 ms and 32, 20–30; with 1 ms, 6 (a third of the runs
 * single windows). By bench-vad-batch's CPU per window at those spreads that is ~28–31 µs against ~26–27 (8 ms) and
 * ~42 (1 ms): Silero ~6–7 % of the core at 200 calls, and 8 ms would save ~1 % of the core, while rows of one setting
 * differed by up to 19 points (8 ms: 94.1, 94.8, 75.6 %; 4 ms: 84.6 %; 1 ms: 79.6 %; two 4 ms rows with others
 * on the core left out). Barge-in stop p50/p90 in those rows: 4 ms 80/131; 8 ms 100/187, 100/199, 85/130; 1 ms
 * 75/120 ms. Kept at 4: no setting's gain stands out of the rows' spread.
 */
export const DEFAULT_BATCH_WAIT_MS = 4;

/** Options of a WindowBatcher. */
export interface BatcherOptions {
  /**
   * Longest a window waits for windows of other streams before its run starts, ms (VAD_BATCH_MS).
   * 0: until the end of the current event-loop turn only (the windows of the packets read in that
   * turn share a run). Calls' 20 ms frames arrive spread over time, so a turn holds few windows unless
   * the loop is busy; a few ms of waiting gathers the windows of many calls into one run. The wait is
   * added to the speech detector's decision time (barge-in), so keep it a few ms.
   */
  waitMs: number;
}

/** Gathers windows from all streams into batched runs, one run in flight at a time. */
export class WindowBatcher implements WindowRunner {
  private queue: Queued[] = [];
  private running = false;
  /** A flush is scheduled: "turn" (setImmediate) or "timer" (setTimeout for the cadence). */
  private scheduled: "turn" | "timer" | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** See BatcherOptions.waitMs; may be changed at any time (next window on). */
  waitMs: number;

  constructor(
    /** The model runs go to (silero.ts swaps in the VAD worker's, VAD_WORKER=on). */
    public model: BatchModel,
    options: BatcherOptions = { waitMs: 0 },
  ) {
    this.waitMs = options.waitMs;
  }

  run(samples: Float32Array, state: Float32Array): Promise<number> {
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    this.enqueue(samples, state, null, resolve, reject);
    return promise;
  }

  submit(samples: Float32Array, state: Float32Array, done: RunDone): void {
    this.enqueue(samples, state, done, null, null);
  }

  private readonly spare: Queued[] = [];

  private enqueue(samples: Float32Array, state: Float32Array, done: RunDone | null, resolve: Queued["resolve"], reject: Queued["reject"]): void {
    const q = this.spare.pop() ?? { samples, state, done, resolve, reject, at: 0, p: 0 };
    q.samples = samples;
    q.state = state;
    q.done = done;
    q.resolve = resolve;
    q.reject = reject;
    q.at = this.waitMs > 0 ? performance.now() : 0;
    this.queue.push(q);
    this.schedule();
  }

  /**
   * A run's outcome: `run`'s promises settle now; submitted windows get theirs in queue order from one
   * microtask after the run (as a promise's reaction would: the windows that follow them join the queue
   * after the run's `finally`, never inside it). Entries go back to the spares once settled.
   */
  private settle(batch: readonly Queued[], res: Float32Array | null, err: unknown): void {
    let submitted = false;
    for (let i = 0; i < batch.length; i++) {
      const q = batch[i]!;
      if (q.done) {
        q.p = res ? res[i]! : 0;
        submitted = true;
        continue;
      }
      if (res) q.resolve!(res[i]!);
      else q.reject!(err);
      this.release(q);
    }
    if (submitted) queueMicrotask(() => this.deliver(batch, res !== null, err));
  }

  private deliver(batch: readonly Queued[], ok: boolean, err: unknown): void {
    for (let i = 0; i < batch.length; i++) {
      const q = batch[i]!;
      const done = q.done;
      if (!done) continue;
      const p = q.p;
      this.release(q);
      if (ok) done.ran(p);
      else done.failed(err);
    }
  }

  private release(q: Queued): void {
    q.done = null;
    q.resolve = q.reject = null;
    q.samples = q.state = NO_SAMPLES;
    if (this.spare.length < SPARE_QUEUED) this.spare.push(q);
  }

  /**
   * Runs after the current event-loop turn, so the windows of every packet read in it share the run;
   * with `waitMs`, once the oldest queued window has waited that long (or FLUSH_AT windows wait).
   */
  private schedule(): void {
    if (this.running) return;
    const wait = this.waitMs > 0 && this.queue.length < FLUSH_AT ? this.queue[0]!.at + this.waitMs - performance.now() : 0;
    if (wait >= 1) {
      if (this.scheduled) return;
      this.scheduled = "timer";
      this.timer = setTimeout(() => {
        this.timer = null;
        this.scheduled = null;
        void this.flush();
      }, wait);
      return;
    }
    if (this.scheduled === "turn") return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.scheduled = "turn";
    setImmediate(() => {
      this.scheduled = null;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    // One run takes windows of one length (streams with a non-default context wait for the next run).
    const len = this.queue[0]!.samples.length;
    const batch: Queued[] = [];
    const rest: Queued[] = [];
    const cap = this.queue.length > MAX_BATCH ? MAX_BATCH_BEHIND : MAX_BATCH;
    for (const q of this.queue) (q.samples.length === len && batch.length < cap ? batch : rest).push(q);
    this.queue = rest;
    try {
      const res = await this.model.runBatch(
        batch.map((q) => q.samples),
        batch.map((q) => q.state),
      );
      this.settle(batch, res, undefined);
    } catch (err) {
      this.settle(batch, null, err);
    } finally {
      pacePoint(); // a pacer tick due during the run goes out now (util/pace-point.ts)
      this.running = false;
      // Behind (FLUSH_AT or more windows already wait): the next run starts now. onnxruntime-node runs it
      // in a setImmediate of its own, so the loop still turns between runs (one run of ≤ MAX_BATCH_BEHIND per
      // turn), but a run no longer waits a turn for our setImmediate too: twice the windows per second
      // the batcher can score when the loop is busy (issue 13: at 220 calls every run was a full 64 and
      // the streams fell behind). Windows that the runs just resolved queue their successors a few
      // microtasks later; they join the run after.
      // Measured against a build without it (same hour, 150 calls, quiet core): with it the streams kept up
      // (mean run 36 windows, no window skipped, 4.46 ms of CPU per call-second); without it they fell
      // behind (mean run 44, lag 256 ms, windows skipped, 5.12 ms/call-s, silence frames in phrases).
      if (this.queue.length >= FLUSH_AT) void this.flush();
      else if (this.queue.length) this.schedule();
    }
  }
}
