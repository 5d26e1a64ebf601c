/**
 * One call's Silero stream (SileroVadStream; the model and its loading: silero.ts).
 *
 * Windows are run, digital silence too (the state keeps moving on zeros; skipping them with the state
 * kept changed 106 of 454 barge-in sim decisions, false interruptions 1 → 6, session 6). Two exceptions.
 * Quiet (`SileroVad.silenceFloorDbfs`, VAD_SILENCE_FLOOR_DBFS, −60 dBFS): after QUIET_RESET_WINDOWS
 * windows in a row (256 ms) under the floor, further windows under it are not scored (probability 0,
 * `stats.quiet`, voice_agent_vad_total{what="quiet"}); the next window over it starts from Silero's state
 * after that many windows of silence from a reset (quiet-state.ts: exact for a caller silent since the
 * stream began). Up to the reset every window is scored, bit for bit as without the rule. Callers are
 * silent for much of a call, and onnxruntime was the largest part of the agent's CPU (issue 13). The
 * barge-in confirming stream (it hears zeros for echo) runs without it: with it a quiet "Sorry." was missed.
 * Look-back (VadQuietRule.lookbackWindows, QUIET_LOOKBACK_WINDOWS = 4): the run's last unscored windows
 * are kept (their inputs held back from the framer's pool) and, when a window at or over the floor comes,
 * scored first, from the state of the run without them: an onset that rises under the floor (awb "Sorry,
 * can I …" through −80…−60 dBFS) is heard whole by the time its first loud window is decided. Without it,
 * at a −60 floor, bench-bargein's main table stop p95 was 186 ms against 116 with it (session 13).
 *
 * The other is overload (`SileroVad.maxLagMs`, VAD_MAX_LAG_MS): a stream scores one window per
 * model run, so when the process cannot run the model ~31 times a second per stream, a stream's windows
 * queue behind each other and, unbounded, its decisions fall further behind the audio every second
 * (issue 13: the agent near 200 calls). With a limit, a window that has more than `maxLagMs` of audio
 * queued behind it when its turn comes is skipped (not scored, counted in `vadTotals.skipped`): the
 * stream catches up with the newest audio, and its frames resolve with the last probability scored.
 */
import { SileroFramer, SILERO_CONTEXT_SAMPLES, SILERO_SAMPLE_RATE, SILERO_WINDOW_MS, type SileroWindow } from "./framer.ts";
import { QUIET_RESET_WINDOWS, type VadQuietRule } from "./quiet.ts";
import { vadBacklog, vadTotals, type WindowRunner, type WindowSink } from "./batcher.ts";

const STATE_SIZE = 2 * 1 * 128; // Silero v5 state [2, 1, 128] float32

import type { VadLagLimit, VadStream, VadStreamOptions, VadStreamStats, VadWindowResult } from "./stream-types.ts";
export type { VadLagLimit, VadStream, VadStreamOptions, VadStreamStats, VadWindowResult } from "./stream-types.ts";

/**
 * A `process()` call waiting its turn (or a `copyFrom`), in the stream's FIFO of jobs. Jobs run one after
 * the other with at most one model run in flight per stream: the next window is handed to the runner
 * from the previous one's callback (WindowSink), not through a chain of promises: issue 13, the
 * per-window chain (`then`, three async functions, a `catch`) was ~1 KB of the call thread's garbage
 * per frame per stream (bench:alloc `vad-nomodel`).
 */
interface Job {
  /** null: a copyFrom job (waits for `from` to have finished `fromJobs` jobs, then copies its state). */
  windows: readonly SileroWindow[] | null;
  gen: number;
  /** Next window of `windows` to take. */
  i: number;
  resolve: ((p: number | null) => void) | null;
  reject: ((e: unknown) => void) | null;
  from: SileroVadStream | null;
  fromJobs: number;
}

/** What the window in flight is: a kept window of the look-back (`scoreKept`) or the job's own window `i`. */
const RUN_NONE = 0;
const RUN_KEPT = 1;
const RUN_MAIN = 2;

export class SileroVadStream implements VadStream, WindowSink {
  private readonly framer: SileroFramer;
  private state: Float32Array;
  private generation = 0;
  private lastResult: VadWindowResult | null = null;
  private counters: VadStreamStats = { frames: 0, windows: 0, skipped: 0, quiet: 0, lookback: 0, inferenceMsTotal: 0, inferenceMsMax: 0 };
  /** Windows given to `process()` and not yet taken for scoring or skipping (this stream's backlog). */
  private waiting = 0;
  /** process() jobs and copies not yet finished: while any is, a frame's windows wait their turn in the queue. */
  private inFlight = 0;
  /** Windows in a row under the silence floor, up to the last one taken (VadQuietRule). */
  private quietRun = 0;
  /** No window was scored since the quiet rule's reset or the stream's start: the next one resumes (`resume`). */
  private fresh = true;
  /**
   * The quiet run's last windows left unscored (at most VadQuietRule.lookbackWindows, oldest first), their
   * inputs held from the framer's pool: scored before the next window at or over the floor (`scoreKept`).
   */
  private kept: SileroWindow[] = [];
  /** Jobs in order; `jobs[head]` is the one running. Slots before `head` are cleared and reused. */
  private jobs: Job[] = [];
  private head = 0;
  /** Jobs finished since creation (copyFrom of another stream waits for a count of them). */
  private finished = 0;
  /** Streams whose copyFrom job waits for this stream's `finished` to reach a count. */
  private watchers: SileroVadStream[] = [];
  /** The run in flight: RUN_NONE (none: the head job may go on), RUN_KEPT or RUN_MAIN. */
  private inRun = RUN_NONE;
  /** The look-back windows being scored before the head job's window `i` (`scoreKept`), and the next one's index. */
  private scoring: SileroWindow[] | null = null;
  private scoringAt = 0;
  /** performance.now() when the run in flight started, ms. */
  private runT0 = 0;
  private runStart = 0;
  private runEnd = 0;
  private runInput: Float32Array | null = null;
  /** Set while pump() runs, so a callback from a runner that answers synchronously does not nest it. */
  private pumping = false;
  private readonly kick = (): void => this.pump();

  constructor(
    private readonly runner: WindowRunner,
    contextSamples: number,
    private readonly lag: VadLagLimit = { maxMs: Infinity },
    private readonly quiet: VadQuietRule = { floorMeanSquare: 0 },
  ) {
    this.framer = new SileroFramer(contextSamples);
    this.state = new Float32Array(STATE_SIZE);
  }

  get last(): VadWindowResult | null {
    return this.lastResult;
  }

  get stats(): Readonly<VadStreamStats> {
    return this.counters;
  }

  process(frame: Int16Array): Promise<number | null> {
    this.counters.frames++;
    // Framing is synchronous, in call order; only model runs wait their turn.
    const windows = this.framer.push(frame);
    if (this.inFlight === 0 && this.allQuiet(windows)) {
      // Nothing of this stream is pending and no window of this frame is to be scored: no job.
      for (const w of windows) this.takeQuiet(w);
      return Promise.resolve(this.lastResult?.probability ?? null);
    }
    this.waiting += windows.length;
    vadBacklog.waiting += windows.length;
    this.inFlight++;
    const { promise, resolve, reject } = Promise.withResolvers<number | null>();
    this.enqueue(windows, resolve, reject, null, 0);
    return promise;
  }

  private enqueue(windows: readonly SileroWindow[] | null, resolve: Job["resolve"], reject: Job["reject"], from: SileroVadStream | null, fromJobs: number): void {
    const n = this.jobs.length;
    if (this.head > 0 && (this.head === n || this.head >= 32)) {
      // Finished slots at the front dropped (a stream that never drains would grow the array otherwise).
      this.jobs.copyWithin(0, this.head);
      this.jobs.length = n - this.head;
      this.head = 0;
    }
    this.jobs.push({ windows, gen: this.generation, i: 0, resolve, reject, from, fromJobs });
    // Started at the end of this task (a microtask), as a promise chain would: frames given together are each
    // other's backlog when their windows' turn comes (the lag limit counts them).
    if (this.jobs.length - this.head === 1) queueMicrotask(this.kick);
  }

  /** True when the quiet rule leaves every one of `windows` unscored (none: true), taken in order after those before. */
  private allQuiet(windows: readonly SileroWindow[]): boolean {
    let run = this.quietRun;
    for (const w of windows) {
      run = w.meanSquare < this.quiet.floorMeanSquare ? run + 1 : 0;
      if (run <= QUIET_RESET_WINDOWS) return false;
    }
    return true;
  }

  /**
   * A window the quiet rule leaves unscored: probability 0; the next one scored resumes (`resume`). Its
   * input is kept for the look-back (the oldest kept one beyond `lookbackWindows` is given back).
   */
  private takeQuiet(w: SileroWindow): void {
    this.kept.push(w);
    if (this.kept.length > (this.quiet.lookbackWindows ?? 0)) this.framer.recycle(this.kept.shift()!.input);
    this.quietRun++;
    this.fresh = true; // the next window scored starts from the quiet run's state (resume)
    this.lastResult = { probability: 0, startMs: (w.startSample * 1000) / SILERO_SAMPLE_RATE, endMs: (w.endSample * 1000) / SILERO_SAMPLE_RATE, inferenceMs: 0 };
    this.counters.quiet = (this.counters.quiet ?? 0) + 1;
    vadTotals.quiet++;
  }

  /** Runs the head job (and those after it) until one waits for a model run or a copy's source; finished jobs resolve. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.inRun === RUN_NONE && this.head < this.jobs.length) {
        const job = this.jobs[this.head]!;
        if (job.windows === null) {
          if (!this.copyReady(job)) return;
        } else if (!this.step(job)) continue; // a run was started: in flight (its callback goes on), or answered already
        this.finish(job, null);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** The head job is done (`error`: its run failed, the frame's promise rejects): the next one's turn. */
  private finish(job: Job, error: unknown): void {
    this.jobs[this.head] = undefined as unknown as Job; // nothing kept alive by a finished slot
    this.head++;
    this.inFlight--;
    this.finished++;
    if (job.windows !== null) {
      if (error !== null) job.reject!(error);
      else job.resolve!(job.gen === this.generation ? (this.lastResult?.probability ?? null) : null);
    }
    if (this.watchers.length > 0) {
      const w = this.watchers;
      this.watchers = [];
      for (const s of w) s.pump();
    }
  }

  /**
   * Takes the head job's windows in order from `job.i`: scores, sheds or passes over each (see the file's
   * comment). False when it handed a window to the runner (WindowSink goes on); true when the job is done.
   */
  private step(job: Job): boolean {
    const windows = job.windows!;
    const gen = job.gen;
    while (job.i < windows.length) {
      const i = job.i;
      this.waiting--;
      vadBacklog.waiting--;
      if (gen !== this.generation) {
        this.waiting -= windows.length - i - 1;
        vadBacklog.waiting -= windows.length - i - 1;
        job.i = windows.length;
        break;
      }
      const w = windows[i]!;
      // The quiet rule (see the file's comment): counted in window order, whether scored or shed.
      if (w.meanSquare < this.quiet.floorMeanSquare && this.quietRun >= QUIET_RESET_WINDOWS) {
        this.takeQuiet(w);
        job.i++;
        continue;
      }
      const quietBefore = this.quietRun;
      this.quietRun = w.meanSquare < this.quiet.floorMeanSquare ? this.quietRun + 1 : 0;
      // Audio queued behind this window in this stream: how far its decisions lag the caller, ms.
      const behindMs = this.waiting * SILERO_WINDOW_MS;
      if (behindMs > this.lag.maxMs) {
        // Overload: skip the stale window, unscored (see the file's comment); its frame keeps the last probability.
        this.counters.skipped = (this.counters.skipped ?? 0) + 1;
        vadTotals.skipped++;
        this.framer.recycle(w.input);
        this.dropKept(); // behind: no extra windows; the next one scored resumes without them
        job.i++;
        continue;
      }
      if (behindMs > vadBacklog.maxBehindMs) vadBacklog.maxBehindMs = behindMs;
      if (this.fresh) {
        // The look-back: the kept windows are the quiet run's last ones, so the state is the run's without them.
        this.resume(quietBefore - this.kept.length);
        if (this.kept.length > 0) {
          // scoreKept: the kept windows first, in order (their probabilities are no frame's result).
          this.scoring = this.kept;
          this.scoringAt = 0;
          this.kept = [];
          this.startRun(RUN_KEPT, this.scoring[0]!);
          return false;
        }
      }
      this.startRun(RUN_MAIN, w);
      return false;
    }
    return true;
  }

  private startRun(kind: number, w: SileroWindow): void {
    this.inRun = kind;
    this.runInput = w.input;
    this.runStart = w.startSample;
    this.runEnd = w.endSample;
    this.runT0 = performance.now();
    // The next state is written into this.state in place; reset()/copyFrom() give the stream a new
    // array, so a run in flight across them updates only the stale one.
    if (this.runner.submit) return this.runner.submit(w.input, this.state, this);
    let run: Promise<number>;
    try {
      run = this.runner.run(w.input, this.state);
    } catch (e) {
      run = Promise.reject(e);
    }
    run.then((p) => this.windowDone(p), (e: unknown) => this.windowFailed(e));
  }

  /** WindowSink: the run in flight scored `p`; the head job goes on. */
  windowDone(p: number): void {
    const inferenceMs = performance.now() - this.runT0;
    const job = this.jobs[this.head]!;
    const kind = this.inRun;
    this.inRun = RUN_NONE;
    if (job.gen === this.generation) {
      this.lastResult = { probability: p, startMs: (this.runStart * 1000) / SILERO_SAMPLE_RATE, endMs: (this.runEnd * 1000) / SILERO_SAMPLE_RATE, inferenceMs };
      const c = this.counters;
      c.windows++;
      c.inferenceMsTotal += inferenceMs;
      if (inferenceMs > c.inferenceMsMax) c.inferenceMsMax = inferenceMs;
    }
    this.framer.recycle(this.runInput!); // the run has read it (a run that fails leaves it to the collector)
    this.runInput = null;
    if (kind === RUN_KEPT) {
      const kept = this.scoring!;
      if (job.gen !== this.generation) {
        this.scoring = null;
        job.i++; // reset meanwhile: the window's turn is over; step()'s check ends the job
      } else {
        this.counters.lookback = (this.counters.lookback ?? 0) + 1;
        if (++this.scoringAt < kept.length) return this.startRun(RUN_KEPT, kept[this.scoringAt]!);
        this.scoring = null;
        return this.startRun(RUN_MAIN, job.windows![job.i]!);
      }
    } else job.i++;
    this.pump();
  }

  /** WindowSink: the run in flight failed: the head job's frame rejects with `err` (its other windows are not taken), the next job goes on. */
  windowFailed(err: unknown): void {
    const job = this.jobs[this.head]!;
    this.inRun = RUN_NONE;
    this.runInput = null;
    this.scoring = null;
    this.finish(job, err);
    this.pump();
  }

  /** Gives back the kept windows' inputs unscored. */
  private dropKept(): void {
    for (const k of this.kept) this.framer.recycle(k.input);
    this.kept = [];
  }

  copyFrom(other: VadStream): void {
    if (!(other instanceof SileroVadStream)) throw new TypeError("copyFrom needs a Silero stream");
    // Windows this stream was given before still run, on its own state, and their frames resolve with
    // their own results (a detector rejoining its main stream to the confirming one still needs them);
    // the other stream's state is final once the jobs queued there before now have run.
    this.framer.copyFrom(other.framer);
    this.inFlight++;
    this.enqueue(null, null, null, other, other.finished + (other.jobs.length - other.head));
  }

  /** A copyFrom job at the head: true once done (the source's earlier jobs finished), else it waits on the source. */
  private copyReady(job: Job): boolean {
    const other = job.from!;
    if (other.finished < job.fromJobs) {
      other.watchers.push(this);
      return false;
    }
    if (job.gen === this.generation) {
      this.state = other.state.slice();
      this.lastResult = other.lastResult;
      this.quietRun = other.quietRun;
      this.fresh = other.fresh;
      this.dropKept();
      this.kept = other.kept.map((k) => ({ ...k, input: k.input.slice() })); // the other stream still owns its own
    }
    return true;
  }

  reset(): void {
    this.generation++;
    this.framer.reset();
    this.state = new Float32Array(STATE_SIZE);
    this.lastResult = null;
    this.counters = { frames: 0, windows: 0, skipped: 0, quiet: 0, lookback: 0, inferenceMsTotal: 0, inferenceMsMax: 0 };
    this.kept = []; // a run in flight may still read one: not given back to the pool
    this.quietRun = 0;
    this.fresh = true;
  }

  /** Before the first window scored after a quiet run of `k` windows (or a new stream's first, k = 0): its state. */
  private resume(k: number): void {
    const states = this.quiet.states;
    if (states) this.state.set(states[Math.min(k, states.length - 1)]!);
    else this.state.fill(0);
    this.fresh = false;
  }
}

/** A stream on any WindowRunner (a fake one in tests), its lag limit (ms) and quiet rule (off unless given), read at each window. */
export function createStreamOn(runner: WindowRunner, lag: VadLagLimit, options?: VadStreamOptions, quiet?: VadQuietRule): VadStream {
  return new SileroVadStream(runner, options?.contextSamples ?? SILERO_CONTEXT_SAMPLES, lag, quiet);
}
