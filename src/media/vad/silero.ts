/**
 * Silero VAD v5 on onnxruntime: one InferenceSession per process, one `VadStream` (model state) per call.
 *
 * Model (embedded from models/silero_vad.onnx, 2,327,524 B, MIT, https://github.com/snakers4/silero-vad):
 *   inputs  `input` float32 [1, 288] (32 context + 256 window samples at 8 kHz, see framer.ts),
 *           `state` float32 [2, 1, 128], `sr` int64 scalar = 8000;
 *   outputs `output` float32 [1, 1] speech probability, `stateN` float32 [2, 1, 128] (next state).
 *
 * Frames of 20 ms (160 samples) are buffered into 32 ms windows; each frame completes at most one
 * window, so `process()` runs the model zero or one time (no batching) and resolves with the latest
 * probability. Calls on one stream are serialized internally (state is sequential); streams of
 * different calls run independently on the shared session.
 *
 * Streams, the quiet rule and overload shedding: stream.ts.
 */
import { SILERO_CONTEXT_SAMPLES } from "./framer.ts";
import { DEFAULT_NOISE_MARGIN_DB, DEFAULT_SILENCE_FLOOR_DBFS, noiseMarginOf, quietRuleOf, type VadQuietRule } from "./quiet.ts";
import { quietStates } from "./quiet-state.ts";
import { WindowBatcher, type WindowRunner } from "./batcher.ts";
import { openSileroSession, SileroModel, type BatchModel } from "./model.ts";
import { WorkerModel, type WorkerModelOptions } from "./worker-model.ts";
import { SileroVadStream, type VadLagLimit, type VadStream, type VadStreamOptions } from "./stream.ts";

export { SILERO_WINDOW_SAMPLES, SILERO_CONTEXT_SAMPLES, SILERO_SAMPLE_RATE, SILERO_WINDOW_MS } from "./framer.ts";
export { DEFAULT_NOISE_MARGIN_DB, DEFAULT_SILENCE_FLOOR_DBFS, QUIET_RESET_WINDOWS, quietRuleOf, type VadQuietRule } from "./quiet.ts";

/** Size of the Silero v5 recurrent state: [2, 1, 128] float32. */
export const SILERO_STATE_DIMS = [2, 1, 128] as const;

export { VadError } from "./errors.ts";
export { createStreamOn, type VadWindowResult, type VadStreamStats, type VadStreamOptions, type VadStream, type VadLagLimit } from "./stream.ts";

/** The loaded model: one per process. */
export interface SileroVad {
  /** Creates an independent stream (zero state) for one call. */
  createStream(options?: VadStreamOptions): VadStream;
  /** Wall time of loading onnxruntime and creating the session, ms. */
  readonly loadMs: number;
  /**
   * Batch windows of all streams into one model run (default true; VAD_BATCH). Same probabilities,
   * about 5× less CPU per window at 50 streams (./batcher.ts).
   */
  batching: boolean;
  /**
   * With batching, the longest a window waits for other streams' windows before its run, ms
   * (0 when loaded: the end of the current event-loop turn; the agent sets VAD_BATCH_MS). See BatcherOptions.waitMs.
   */
  batchWaitMs: number;
  /** Model runs and windows scored since load (windows / runs = mean batch size). */
  readonly runs: { runs: number; windows: number };
  /**
   * Overload shedding (VAD_MAX_LAG_MS): a window with more than this much audio queued behind it in its
   * stream when its turn comes is skipped, so no stream falls further behind than this, ms (a multiple
   * of 32 in effect). Infinity when loaded (tests and simulations feed frames faster than real time);
   * the agent sets it. @throws RangeError when set to a negative number or NaN
   */
  maxLagMs: number;
  /**
   * The silence floor of the quiet rule (see the file's comment; quiet.ts), dBFS: VAD_SILENCE_FLOOR_DBFS.
   * DEFAULT_SILENCE_FLOOR_DBFS when loaded; −Infinity: off. @throws RangeError when set to NaN or above 0
   */
  silenceFloorDbfs: number;
  /**
   * The quiet rule's look-back (quiet.ts VadQuietRule.lookbackWindows), windows: QUIET_LOOKBACK_WINDOWS
   * when loaded; 0: none (tests and benchmarks compare). @throws RangeError unless an integer >= 0
   */
  quietLookbackWindows: number;
  /**
   * The floor that follows the line (quiet.ts VadQuietRule.noiseMargin, VAD_NOISE_MARGIN_DB), dB over each
   * caller's tracked noise level: DEFAULT_NOISE_MARGIN_DB when loaded; −Infinity: off (the fixed floor
   * only). @throws RangeError when set to NaN or a negative number
   */
  noiseMarginDb: number;
  /**
   * Moves the model runs to a VAD worker thread (VAD_WORKER=on, worker-model.ts): same results, and the
   * call thread no longer waits for them. Until it is ready and if it fails, runs stay on this thread.
   * Once per process; a second call returns the first worker.
   */
  startWorker(options: Omit<WorkerModelOptions, "fallback">): WorkerModel;
}

let loading: Promise<SileroVad> | null = null;

async function load(): Promise<SileroVad> {
  const t0 = performance.now();
  const { ort, session, sr } = await openSileroSession();
  const loadMs = performance.now() - t0;
  const model = new SileroModel(ort, session, sr);
  const batcher = new WindowBatcher(model, { waitMs: 0 });
  /** Where runs go: the in-thread model, or the VAD worker's (startWorker). */
  let current: BatchModel = model;
  let worker: WorkerModel | null = null;
  const lag: VadLagLimit = { maxMs: Infinity };
  let floorDbfs = DEFAULT_SILENCE_FLOOR_DBFS;
  let marginDb = DEFAULT_NOISE_MARGIN_DB;
  const quiet: VadQuietRule = quietRuleOf(floorDbfs);
  quiet.states = await quietStates(model);
  const vad: SileroVad = {
    loadMs,
    batching: true,
    get batchWaitMs() {
      return batcher.waitMs;
    },
    set batchWaitMs(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`batchWaitMs must be a number of ms >= 0, got ${ms}`);
      batcher.waitMs = ms;
    },
    runs: model.counts,
    get maxLagMs() {
      return lag.maxMs;
    },
    set maxLagMs(ms: number) {
      if (Number.isNaN(ms) || ms < 0) throw new RangeError(`maxLagMs must be a number of ms >= 0, got ${ms}`);
      lag.maxMs = ms;
    },
    get silenceFloorDbfs() {
      return floorDbfs;
    },
    set silenceFloorDbfs(dbfs: number) {
      quiet.floorMeanSquare = quietRuleOf(dbfs).floorMeanSquare;
      floorDbfs = dbfs;
    },
    get quietLookbackWindows() {
      return quiet.lookbackWindows ?? 0;
    },
    set quietLookbackWindows(n: number) {
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`quietLookbackWindows must be an integer >= 0, got ${n}`);
      quiet.lookbackWindows = n;
    },
    get noiseMarginDb() {
      return marginDb;
    },
    set noiseMarginDb(db: number) {
      quiet.noiseMargin = noiseMarginOf(db);
      marginDb = db;
    },
    startWorker(options) {
      if (!worker) {
        worker = WorkerModel.start({ ...options, fallback: model });
        current = worker;
        batcher.model = worker;
      }
      return worker;
    },
    createStream(options?: VadStreamOptions): VadStream {
      const runner: WindowRunner = {
        run: (samples, state) => (vad.batching ? batcher.run(samples, state) : current.runOne(samples, state)),
        submit: (samples, state, done) => {
          if (vad.batching) return batcher.submit(samples, state, done);
          current.runOne(samples, state).then((p) => done.ran(p), (err) => done.failed(err));
        },
      };
      return new SileroVadStream(runner, options?.contextSamples ?? SILERO_CONTEXT_SAMPLES, lag, options?.quietRule === false ? undefined : quiet);
    },
  };
  return vad;
}

/**
 * Loads onnxruntime and the embedded Silero v5 model once per process (lazy; concurrent callers share
 * the load; a failed load is retried by the next call).
 * @throws VadError `load_failed`
 */
export function loadSileroVad(): Promise<SileroVad> {
  if (!loading) {
    loading = load().catch((err) => {
      loading = null;
      throw err;
    });
  }
  return loading;
}

/** Convenience: `(await loadSileroVad()).createStream(options)`. */
export async function createVadStream(options?: VadStreamOptions): Promise<VadStream> {
  return (await loadSileroVad()).createStream(options);
}