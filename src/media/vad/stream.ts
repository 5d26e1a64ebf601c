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
import { floorOf, NOISE_RESET_WINDOWS, QUIET_RESET_WINDOWS, type VadQuietRule } from "./quiet.ts";
import { NoiseFloorTracker } from "./noise-floor.ts";
import { vadBacklog, vadTotals, type WindowRunner } from "./batcher.ts";

const STATE_SIZE = 2 * 1 * 128; // Silero v5 state [2, 1, 128] float32

/** The result of one 32 ms window. Times are stream time: ms of audio since stream start/reset. */
export interface VadWindowResult {
  /** Speech probability in [0, 1]. */
  probability: number;
  /** Start of the scored window (context excluded), ms. */
  startMs: number;
  /** End of the scored window, ms (multiple of 32). */
  endMs: number;
  /** Wall time of the model run, ms. */
  inferenceMs: number;
}

/** Counters of one stream since creation/reset. */
export interface VadStreamStats {
  /** `process()` calls. */
  frames: number;
  /** Model runs (256-sample windows). */
  windows: number;
  /** Windows skipped unscored because the stream was more than `maxLagMs` behind (overload shedding); absent: none. */
  skipped?: number;
  /** Windows left unscored at their turn by the quiet rule (SileroVad.silenceFloorDbfs); absent: none. */
  quiet?: number;
  /** Of those, windows scored later by its look-back (VadQuietRule.lookbackWindows; also in `windows`); absent: none. */
  lookback?: number;
  /** Sum and maximum of `inferenceMs` over all windows, ms. */
  inferenceMsTotal: number; inferenceMsMax: number;
}

/** Options for one stream. */
export interface VadStreamOptions {
  /** Context samples prepended to each window. Default 32 (correct for v5 at 8 kHz); tests only. */
  contextSamples?: number;
  /** false: this stream scores every window, the quiet rule aside (a confirming stream that hears silence for echo). */
  quietRule?: boolean;
}

/** Per-call VAD state. Not shared between calls. */
export interface VadStream {
  /**
   * Feeds one frame (Int16Array, 160 samples = 20 ms at 8000 Hz; other lengths are buffered the same
   * way) and resolves with the latest window probability in [0, 1], or null until the first 256-sample
   * window completed (the first frame). Calls may overlap; they are run in call order.
   * @throws VadError `inference_failed` / `bad_output`
   */
  process(frame: Int16Array): Promise<number | null>;
  /** The most recent window's result (probability and timing), or null before the first window. */
  readonly last: VadWindowResult | null;
  readonly stats: Readonly<VadStreamStats>; // counters since creation/reset
  /** Forgets buffered audio, context, model state and counters; in-flight results are discarded. */
  reset(): void;
  /**
   * Makes this stream continue from where `other` (a stream of the same model) is now: its buffered
   * samples and context at once, its model state once the windows `other` has been given so far were
   * scored (this stream's next windows wait for that). Frames this stream was given before resolve with
   * their own results. From then on the two run independently on what each is fed; fed the same frames
   * they give the same probabilities. Optional: a speech detector
   * without it feeds its confirming stream every frame (src/pipeline/speech-detector.ts).
   */
  copyFrom?(other: VadStream): void;
}

/** Settings every stream of one model reads at each window (SileroVad.maxLagMs). */
export interface VadLagLimit {
  maxMs: number;
}

export class SileroVadStream implements VadStream {
  private readonly framer: SileroFramer;
  private state: Float32Array;
  private tail: Promise<unknown> = Promise.resolve();
  private generation = 0;
  private lastResult: VadWindowResult | null = null;
  private counters: VadStreamStats = { frames: 0, windows: 0, skipped: 0, quiet: 0, lookback: 0, inferenceMsTotal: 0, inferenceMsMax: 0 };
  /** Windows given to `process()` and not yet taken for scoring or skipping (this stream's backlog). */
  private waiting = 0;
  /** process() chains and copies not yet finished: while any is, a frame's windows wait their turn in the chain. */
  private inFlight = 0;
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
    // Framing is synchronous, in call order; only model runs are chained.
    const windows = this.framer.push(frame);
    // Each window is judged against the floor when framed, in order (the floor that follows the line moves with them).
    for (const w of windows) w.underFloor = w.meanSquare < floorOf(this.quiet, this.noise.note(w.meanSquare));
    const gen = this.generation;
    if (this.inFlight === 0 && this.allQuiet(windows)) {
      // Nothing of this stream is pending and no window of this frame is to be scored: no chain.
      for (const w of windows) this.takeQuiet(w);
      return Promise.resolve(this.lastResult?.probability ?? null);
    }
    this.waiting += windows.length;
    vadBacklog.waiting += windows.length;
    this.inFlight++;
    const run = this.tail.then(async () => {
      try {
        return await this.take(windows, gen);
      } finally {
        this.inFlight--;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** True when the quiet rule leaves every one of `windows` unscored (none: true), taken in order after those before. */
  private allQuiet(windows: readonly SileroWindow[]): boolean {
    let run = this.quietRun;
    for (const w of windows) {
      run = w.underFloor ? run + 1 : 0;
      if (run <= this.resetOf(w)) return false;
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
    this.noisyRun = w.meanSquare >= this.quiet.floorMeanSquare; // the run's last window unscored decides
    this.lastResult = { probability: 0, startMs: (w.startSample * 1000) / SILERO_SAMPLE_RATE, endMs: (w.endSample * 1000) / SILERO_SAMPLE_RATE, inferenceMs: 0 };
    this.counters.quiet = (this.counters.quiet ?? 0) + 1;
    vadTotals.quiet++;
  }

  /** Scores, sheds or passes over one frame's windows in order; resolves with the latest probability. */
  private async take(windows: readonly SileroWindow[], gen: number): Promise<number | null> {
    for (let i = 0; i < windows.length; i++) {
      this.waiting--;
      vadBacklog.waiting--;
      if (gen !== this.generation) {
        this.waiting -= windows.length - i - 1;
        vadBacklog.waiting -= windows.length - i - 1;
        break;
      }
      const w = windows[i]!;
      // The quiet rule (see the file's comment): counted in window order, whether scored or shed.
      if (w.underFloor && this.quietRun >= this.resetOf(w)) {
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
        if (this.kept.length > 0 && !(await this.scoreKept(gen))) continue; // reset meanwhile: the loop's check ends it
      }
      await this.runWindow(w.input, w.startSample, w.endSample, gen);
      this.framer.recycle(w.input); // the run has read it (a run that throws leaves it to the collector)
    }
    return gen === this.generation ? (this.lastResult?.probability ?? null) : null;
  }

  /**
   * Scores the kept windows (the quiet run's last ones, under the floor: an onset's rising part, e.g. a
   * fricative through −80…−60 dBFS) in order, before the window over the floor that ended the run: Silero
   * has heard them when that window is decided, as when every window is scored. Their probabilities are
   * not any frame's result (their frames resolved with 0). False when the stream was reset meanwhile.
   */
  private async scoreKept(gen: number): Promise<boolean> {
    const kept = this.kept;
    this.kept = [];
    for (const k of kept) {
      await this.runWindow(k.input, k.startSample, k.endSample, gen);
      this.framer.recycle(k.input);
      if (gen !== this.generation) return false;
      this.counters.lookback = (this.counters.lookback ?? 0) + 1;
    }
    return true;
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
    // the other stream's state is final once the windows chained before now have run.
    const gen = this.generation;
    this.framer.copyFrom(other.framer);
    this.noise.copyFrom(other.noise);
    this.inFlight++;
    const copied = Promise.all([this.tail, other.tail]).then(() => {
      this.inFlight--;
      if (gen === this.generation) {
        this.state = other.state.slice();
        this.lastResult = other.lastResult;
        this.quietRun = other.quietRun;
        this.fresh = other.fresh;
        this.noisyRun = other.noisyRun;
        this.dropKept();
        this.kept = other.kept.map((k) => ({ ...k, input: k.input.slice() })); // the other stream still owns its own
      }
    });
    this.tail = copied;
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

  /** Windows in a row under the floor after which `w`, under it, is not scored: line noise (over the fixed floor) waits longer. */
  private resetOf(w: SileroWindow): number {
    return w.meanSquare >= this.quiet.floorMeanSquare ? NOISE_RESET_WINDOWS : QUIET_RESET_WINDOWS;
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

  private async runWindow(samples: Float32Array, startSample: number, endSample: number, gen: number): Promise<void> {
    const t0 = performance.now();
    // The next state is written into this.state in place; reset()/copyFrom() give the stream a new
    // array, so a run in flight across them updates only the stale one.
    const p = await this.runner.run(samples, this.state);
    const inferenceMs = performance.now() - t0;
    if (gen !== this.generation) return; // reset() while running: drop the stale state
    this.lastResult = {
      probability: p,
      startMs: (startSample * 1000) / SILERO_SAMPLE_RATE,
      endMs: (endSample * 1000) / SILERO_SAMPLE_RATE,
      inferenceMs,
    };
    const c = this.counters;
    c.windows++;
    c.inferenceMsTotal += inferenceMs;
    if (inferenceMs > c.inferenceMsMax) c.inferenceMsMax = inferenceMs;
  }
}

/** A stream on any WindowRunner (a fake one in tests), its lag limit (ms) and quiet rule (off unless given), read at each window. */
export function createStreamOn(runner: WindowRunner, lag: VadLagLimit, options?: VadStreamOptions, quiet?: VadQuietRule): VadStream {
  return new SileroVadStream(runner, options?.contextSamples ?? SILERO_CONTEXT_SAMPLES, lag, quiet);
}
