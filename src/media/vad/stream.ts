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
import { NO_WINDOWS, SileroFramer, SILERO_CONTEXT_SAMPLES, SILERO_SAMPLE_RATE, SILERO_WINDOW_MS, type SileroWindow } from "./framer.ts";
import { allQuiet, floorOf, resetOf, type VadQuietRule } from "./quiet.ts";
import { NoiseFloorTracker } from "./noise-floor.ts";
import { vadBacklog, vadTotals, type WindowRunner } from "./batcher.ts";
import { type Barrier, type Job, JobQueue, type Snapshot } from "./stream-jobs.ts";
import type { VadLagLimit, VadStream, VadStreamOptions, VadStreamStats, VadWindowResult } from "./stream-types.ts";

export type { VadLagLimit, VadStream, VadStreamOptions, VadStreamStats, VadWindowResult } from "./stream-types.ts";

const STATE_SIZE = 2 * 1 * 128; // Silero v5 state [2, 1, 128] float32

export class SileroVadStream implements VadStream {
  private readonly framer: SileroFramer;
  private state: Float32Array;
  private generation = 0;
  private lastResult: VadWindowResult | null = null;
  private counters: VadStreamStats = { frames: 0, windows: 0, skipped: 0, quiet: 0, lookback: 0, inferenceMsTotal: 0, inferenceMsMax: 0 };
  /** Windows given to `process()` and not yet taken for scoring or skipping (this stream's backlog). */
  private waiting = 0;
  /** Frames and copies not yet finished: while any is, a frame's windows wait their turn. */
  private readonly jobs = new JobQueue();
  /** The window whose model run is in flight (`pump` waits for it; null: none), its generation and start time. */
  private runWindow: SileroWindow | null = null;
  private runGen = 0;
  private runT0 = 0;
  /** The look-back's kept windows, then the window that ended the quiet run: scored in order from `runListAt` (scoreKept). */
  private runList: SileroWindow[] = [];
  private runListAt = 0;
  private pumping = false;
  /** What the runner calls when a run ends (WindowRunner.submit): one object per stream, not a closure per window. */
  private readonly done = { ran: (p: number) => this.ran(p), failed: (err: unknown) => this.runFailed(err) };
  /** Windows in a row under the silence floor, up to the last one taken (VadQuietRule). */
  private quietRun = 0;
  /** The quiet run's last window left unscored was over the fixed floor (under the floor that follows the line only): line noise, not silence. */
  private noisyRun = false;
  /** No window was scored since the quiet rule's reset or the stream's start: the next one resumes (`resume`). */
  private fresh = true;
  /**
   * The quiet run's last windows left unscored (at most VadQuietRule.lookbackWindows, oldest first), their
   * inputs held from the framer's pool: scored before the next window at or over the floor (`scoreKept`).
   */
  private kept: SileroWindow[] = [];
  /** The caller's noise level (the floor that follows the line, VadQuietRule.noiseMargin). */
  private readonly noise = new NoiseFloorTracker();

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
    // Each window is judged against the floor when framed, in order (the floor that follows the line moves with them).
    for (const w of windows) w.underFloor = w.meanSquare < floorOf(this.quiet, this.noise.note(w.meanSquare));
    if (this.idle && allQuiet(windows, this.quietRun, this.quiet)) {
      // Nothing of this stream is pending and no window of this frame is to be scored: nothing queued.
      for (const w of windows) this.takeQuiet(w);
      return Promise.resolve(this.lastResult?.probability ?? null);
    }
    this.waiting += windows.length;
    vadBacklog.waiting += windows.length;
    const promise = this.jobs.pushFrame(windows, this.generation);
    this.pumpSoon();
    return promise;
  }

  /** No frame or copy of this stream is queued or running. */
  private get idle(): boolean {
    return this.jobs.empty && this.runWindow === null;
  }

  /**
   * The queue runs from a microtask, not inside `process()`: frames given in one go (a burst of packets
   * read in one turn) are all queued when the first window is taken, so its lag counts them.
   */
  private pumpSoon(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(this.pumpLater);
  }
  private pumpQueued = false;
  private readonly pumpLater = () => {
    this.pumpQueued = false;
    this.pump();
  };

  /**
   * Runs the queue as far as it goes without waiting: each job's windows in order (scored, shed or passed
   * over); a model run ends it until the run's outcome comes back (`ran`/`runFailed`), a copy until the
   * stream it copies is ready. Re-entrant calls (a frame's consumer feeding the next) return at once.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let job = this.jobs.peek(); job && this.runWindow === null; job = this.jobs.peek()) {
        if (job.barrier) {
          const b = job.barrier;
          // A frame given right after the copyFrom (the detector's next frame) is begun first (copyFrom).
          const next = this.jobs.second();
          this.jobs.shift();
          if (next && !next.barrier && !next.copy) this.snapAfter.push(b);
          else this.giveSnapshot(b);
          continue;
        }
        if (job.copy) {
          if (!job.copy.snap) return; // the other stream has not reached it yet (giveSnapshot)
          this.copied(job);
          continue;
        }
        const done = this.take(job);
        if (this.snapAfter.length > 0) this.giveSnapshots();
        if (!done) return; // a model run is in flight
        const resolve = job.resolve!;
        const p = job.gen === this.generation ? (this.lastResult?.probability ?? null) : null;
        this.jobs.shift();
        resolve(p);
      }
    } finally {
      this.pumping = false;
    }
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
    this.noisyRun = w.meanSquare >= this.quiet.floorMeanSquare; // the run's last window unscored decides
    this.lastResult = { probability: 0, startMs: (w.startSample * 1000) / SILERO_SAMPLE_RATE, endMs: (w.endSample * 1000) / SILERO_SAMPLE_RATE, inferenceMs: 0 };
    this.counters.quiet = (this.counters.quiet ?? 0) + 1;
    vadTotals.quiet++;
  }

  /**
   * Scores, sheds or passes over the head job's windows in order, from `job.next`. False when a model
   * run was started (the job goes on when it ends), true when the job is done.
   */
  private take(job: Job): boolean {
    const windows = job.windows;
    while (job.next < windows.length) {
      const i = job.next++;
      this.waiting--;
      vadBacklog.waiting--;
      if (job.gen !== this.generation) {
        this.waiting -= windows.length - i - 1;
        vadBacklog.waiting -= windows.length - i - 1;
        job.next = windows.length;
        break;
      }
      const w = windows[i]!;
      // The quiet rule (see the file's comment): counted in window order, whether scored or shed.
      if (w.underFloor && this.quietRun >= resetOf(w, this.quiet)) {
        this.takeQuiet(w);
        continue;
      }
      const quietBefore = this.quietRun;
      this.quietRun = w.underFloor ? this.quietRun + 1 : 0;
      // Audio queued behind this window in this stream: how far its decisions lag the caller, ms.
      const behindMs = this.waiting * SILERO_WINDOW_MS;
      if (behindMs > this.lag.maxMs) {
        // Overload: skip the stale window, unscored (see the file's comment); its frame keeps the last probability.
        this.counters.skipped = (this.counters.skipped ?? 0) + 1;
        vadTotals.skipped++;
        this.framer.recycle(w.input);
        this.dropKept(); // behind: no extra windows; the next one scored resumes without them
        continue;
      }
      if (behindMs > vadBacklog.maxBehindMs) vadBacklog.maxBehindMs = behindMs;
      if (this.fresh) {
        // The look-back: the kept windows are the quiet run's last ones, so the state is the run's without them.
        this.resume(quietBefore - this.kept.length);
        if (this.kept.length > 0) {
          // Scored first, in order, before `w` (scoreKept).
          this.runList = this.kept;
          this.runList.push(w);
          this.runListAt = 1;
          this.kept = [];
          this.startRun(this.runList[0]!, job.gen);
          return false;
        }
      }
      this.startRun(w, job.gen);
      return false;
    }
    return true;
  }

  /** Starts the model run of one window (its input is read until the run ends). */
  private startRun(w: SileroWindow, gen: number): void {
    this.runWindow = w;
    this.runGen = gen;
    this.runT0 = performance.now();
    // The next state is written into this.state in place; reset()/copyFrom() give the stream a new
    // array, so a run in flight across them updates only the stale one.
    try {
      if (this.runner.submit) this.runner.submit(w.input, this.state, this.done);
      else this.runner.run(w.input, this.state).then(this.done.ran, this.done.failed);
    } catch (err) {
      this.failLater(err); // as a rejection: never inside process()
    }
  }

  /** A runner that threw at once fails the run from a microtask (a closure only here: an arrow in startRun would cost a scope per run). */
  private failLater(err: unknown): void {
    queueMicrotask(() => this.runFailed(err));
  }

  /** A model run ended with probability `p`: recorded (unless reset meanwhile), then the queue goes on. */
  private ran(p: number): void {
    const inferenceMs = performance.now() - this.runT0;
    const gen = this.runGen;
    const w = this.runWindow!;
    this.runWindow = null;
    if (gen === this.generation) {
      this.lastResult = {
        probability: p,
        startMs: (w.startSample * 1000) / SILERO_SAMPLE_RATE,
        endMs: (w.endSample * 1000) / SILERO_SAMPLE_RATE,
        inferenceMs,
      };
      const c = this.counters;
      c.windows++;
      c.inferenceMsTotal += inferenceMs;
      if (inferenceMs > c.inferenceMsMax) c.inferenceMsMax = inferenceMs;
    }
    this.framer.recycle(w.input); // the run has read it
    if (this.runList.length > 0) this.nextKept(gen);
    this.pump();
  }

  /**
   * After a run of the look-back's list (scoreKept): the next one, until the window that ended the quiet
   * run has run. Kept windows' probabilities are not any frame's result (their frames resolved with 0).
   */
  private nextKept(gen: number): void {
    const last = this.runListAt === this.runList.length; // the window that ended the quiet run
    if (last || gen !== this.generation) {
      // Done, or reset meanwhile: the rest is not scored; the head job's next window check ends it.
      this.runList = [];
      return;
    }
    this.counters.lookback = (this.counters.lookback ?? 0) + 1;
    this.startRun(this.runList[this.runListAt++]!, gen);
  }

  /** A model run failed: the head job's frame rejects (its input is left to the collector); the queue goes on. */
  private runFailed(err: unknown): void {
    this.runWindow = null;
    this.runList = [];
    const job = this.jobs.peek()!;
    const rest = job.windows.length - job.next;
    this.waiting -= rest;
    vadBacklog.waiting -= rest;
    const reject = job.reject!;
    this.jobs.shift();
    reject(err);
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
    // the other stream's state is taken once it has taken the windows it was given before now (none of
    // those it is given after: the two go on independently from here).
    this.framer.copyFrom(other.framer);
    this.noise.copyFrom(other.noise);
    const job = this.jobs.push(NO_WINDOWS, this.generation);
    job.copy = { snap: null };
    other.jobs.push(NO_WINDOWS, other.generation).barrier = { stream: this, job };
    other.pumpSoon();
    this.pumpSoon();
  }

  /** Copies of this stream waiting for the synchronous start of the frame after their barrier (`pump`). */
  private snapAfter: Barrier[] = [];

  private giveSnapshots(): void {
    const list = this.snapAfter;
    this.snapAfter = [];
    for (const b of list) this.giveSnapshot(b);
  }

  /** This stream reached a copy's barrier: the copy gets its snapshot now; the copying stream goes on from a microtask. */
  private giveSnapshot(b: Barrier): void {
    b.job.copy!.snap = this.snapshot();
    (b.stream as SileroVadStream).pumpSoon();
  }

  /** What a copy of this stream takes over now (copies: this stream goes on with its own). */
  private snapshot(): Snapshot {
    return {
      state: this.state.slice(),
      lastResult: this.lastResult,
      quietRun: this.quietRun,
      fresh: this.fresh,
      noisyRun: this.noisyRun,
      kept: this.kept.map((k) => ({ ...k, input: k.input.slice() })),
    };
  }

  /** The head job, a copy, has the other stream's snapshot: taken over (unless reset meanwhile). */
  private copied(job: Job): void {
    const snap = job.copy!.snap!;
    if (job.gen === this.generation) {
      this.state = snap.state;
      this.lastResult = snap.lastResult;
      this.quietRun = snap.quietRun;
      this.fresh = snap.fresh;
      this.noisyRun = snap.noisyRun;
      this.dropKept();
      this.kept = snap.kept;
    }
    this.jobs.shift();
  }

  reset(): void {
    this.generation++;
    this.framer.reset();
    this.noise.reset();
    this.state = new Float32Array(STATE_SIZE);
    this.lastResult = null;
    this.counters = { frames: 0, windows: 0, skipped: 0, quiet: 0, lookback: 0, inferenceMsTotal: 0, inferenceMsMax: 0 };
    this.kept = []; // a run in flight may still read one: not given back to the pool
    this.quietRun = 0;
    this.noisyRun = false;
    this.fresh = true;
  }

  /** Before the first window scored after a quiet run of `k` windows (or a new stream's first, k = 0): its state. */
  private resume(k: number): void {
    const noisy = this.noisyRun;
    this.noisyRun = false;
    this.fresh = false;
    if (noisy) return; // line noise: the state it had when it stopped scoring (see the file's comment)
    const states = this.quiet.states;
    if (states) this.state.set(states[Math.min(k, states.length - 1)]!);
    else this.state.fill(0);
  }
}

/** A stream on any WindowRunner (a fake one in tests), its lag limit (ms) and quiet rule (off unless given), read at each window. */
export function createStreamOn(runner: WindowRunner, lag: VadLagLimit, options?: VadStreamOptions, quiet?: VadQuietRule): VadStream {
  return new SileroVadStream(runner, options?.contextSamples ?? SILERO_CONTEXT_SAMPLES, lag, quiet);
}
