/**
 * Silero v5 model runs on batches of windows: the seam the WindowBatcher (batcher.ts) runs through.
 *   - `SileroModel`: onnxruntime-node on the calling thread (the call thread, or the VAD worker's);
 *   - `WorkerModel` (worker-model.ts, VAD_WORKER=on): the same runs on a thread of their own.
 * Both pack a batch into the model's tensors with `packBatch` and hand each stream its next state with
 * `unpackStates`, and the run itself is `runPacked` on either thread, so their results are the same bits.
 *
 * Tensors (the model's, silero.ts): input float32 [B, len] (len = context + 256 samples at 8 kHz),
 * state float32 [2, B, 128], sr int64 scalar; outputs `output` float32 [B, 1], `stateN` [2, B, 128].
 */
import { loadOrt, type Ort } from "./ort-loader.ts";
import { VadError } from "./errors.ts";
import { SILERO_SAMPLE_RATE } from "./framer.ts";
import { countBatchSize, vadTotals } from "./totals.ts";
import { STALL_VAD, stalls } from "../../util/stall-recorder.ts";
import { pacePoint } from "../../util/pace-point.ts";
import modelPath from "../../../models/silero_vad.onnx" with { type: "file" };

export type Session = Awaited<ReturnType<Ort["InferenceSession"]["create"]>>;
export type Tensor = InstanceType<Ort["Tensor"]>;

/** Half of one stream's state: [1, 1, 128] float32 (the state is [2, 1, 128]). */
export const STATE_HALF = 128;

/** Windows the kept batch buffers hold at first (they grow to the largest batch seen). */
const BUFFER_WINDOWS = 64;

/** A model that scores batches of windows; what the WindowBatcher runs. */
export interface BatchModel {
  /** Model runs and windows scored (this model's; windows / runs = mean batch size). */
  readonly counts: { runs: number; windows: number };
  /** One window alone (batch of 1); the next state is written into `state`. @throws VadError */
  runOne(samples: Float32Array, state: Float32Array): Promise<number>;
  /**
   * Windows of equal length with their states → the probability of each; each stream's next state is
   * written into its `states[i]` (left as it was on a rejection).
   * @throws VadError `inference_failed` (session.run failed) / `bad_output` (unexpected shapes)
   */
  runBatch(windows: readonly Float32Array[], states: readonly Float32Array[]): Promise<Float32Array>;
}

/** The loaded runtime and session: what `runPacked` needs. */
export interface OpenSession {
  ort: Ort;
  session: Session;
  /** The `sr` input: int64 scalar 8000. */
  sr: Tensor;
}

/**
 * Loads onnxruntime and creates a session on the embedded model (one thread; executed in order).
 * @throws VadError `load_failed`
 */
export async function openSileroSession(): Promise<OpenSession> {
  try {
    const ort = await loadOrt();
    const bytes = await Bun.file(modelPath).bytes();
    const session = await ort.InferenceSession.create(bytes, {
      // One window is ~0.1 ms of work; extra threads only add wake-up latency and contend with RTP.
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    const sr = new ort.Tensor("int64", BigInt64Array.from([BigInt(SILERO_SAMPLE_RATE)]), []);
    return { ort, session, sr };
  } catch (cause) {
    throw new VadError("load_failed", "cannot load Silero VAD (onnxruntime or model)", false, { cause });
  }
}

/**
 * One model run on packed tensors: `input` b·len floats ([b, len]), `st` 2·b·128 floats ([2, b, 128]).
 * Returns the probabilities (b floats) and the next states (2·b·128 floats, [2, b, 128]), both the
 * runtime's own arrays. onnxruntime-node runs it synchronously in a setImmediate of the calling thread.
 * @throws VadError `inference_failed` / `bad_output`
 */
export async function runPacked(s: OpenSession, input: Float32Array, st: Float32Array, b: number, len: number): Promise<{ p: Float32Array; next: Float32Array }> {
  let out: Record<string, Tensor>;
  try {
    out = (await s.session.run({
      input: new s.ort.Tensor("float32", input, [b, len]),
      state: new s.ort.Tensor("float32", st, [2, b, STATE_HALF]),
      sr: s.sr,
    })) as Record<string, Tensor>;
  } catch (cause) {
    throw new VadError("inference_failed", "Silero VAD session.run failed", true, { cause });
  }
  const p = out.output?.data as Float32Array | undefined;
  const next = out.stateN?.data as Float32Array | undefined;
  if (!p || p.length !== b || !next || next.length !== 2 * b * STATE_HALF) {
    throw new VadError("bad_output", "Silero VAD returned unexpected outputs", false);
  }
  return { p, next };
}

/**
 * Packs a batch: window i into `input` at i·len, and the states into `st` as [2, B, 128] (layer k of
 * stream i at (k·B + i)·128). `input` needs B·len floats, `st` 2·B·128.
 */
export function packBatch(windows: readonly Float32Array[], states: readonly Float32Array[], input: Float32Array, st: Float32Array): void {
  const b = windows.length;
  const len = windows[0]!.length;
  for (let i = 0; i < b; i++) input.set(windows[i]!, i * len);
  for (let i = 0; i < b; i++) {
    const s = states[i]!;
    const o0 = i * STATE_HALF;
    const o1 = (b + i) * STATE_HALF;
    for (let k = 0; k < STATE_HALF; k++) {
      st[o0 + k] = s[k]!;
      st[o1 + k] = s[STATE_HALF + k]!;
    }
  }
}

/** Writes each stream's next state from `next` ([2, B, 128], B = states.length) into `states[i]`. */
export function unpackStates(next: Float32Array, states: readonly Float32Array[]): void {
  const b = states.length;
  for (let i = 0; i < b; i++) {
    const s = states[i]!;
    const o0 = i * STATE_HALF;
    const o1 = (b + i) * STATE_HALF;
    for (let k = 0; k < STATE_HALF; k++) {
      s[k] = next[o0 + k]!;
      s[STATE_HALF + k] = next[o1 + k]!;
    }
  }
}

/** Counts a run of `b` windows in a model's counts and the process totals (vadTotals, vadBatchSizes). */
export function countRun(counts: { runs: number; windows: number }, b: number): void {
  counts.runs++;
  counts.windows += b;
  vadTotals.runs++;
  vadTotals.windows += b;
  countBatchSize(b);
}

/** Right before onnxruntime-node's own setImmediate runs a model: due pacer ticks, and the run's start. */
function beforeRun(run: { t0: number }): void {
  pacePoint();
  run.t0 = performance.now();
}

/**
 * The session and its tensors on this thread: runs a batch of windows of equal length. The batch's
 * input and state tensors are filled into buffers kept from run to run (grown to the largest batch
 * seen), and each stream's next state is copied back into its own state array: per window, nothing is
 * allocated and no typed-array view is made. In a CPU profile of bench:percall's VAD part the per-window
 * views, copies and state arrays had taken about half as many samples as the model run; VAD CPU per
 * call-second 1.7–2.2 → 1.6–1.7 ms (three alternating pairs, load average ~8). A run that starts while
 * another is in flight (VAD_BATCH=false, many streams) uses buffers of its own.
 */
export class SileroModel implements BatchModel {
  readonly counts = { runs: 0, windows: 0 };
  private input: Float32Array = new Float32Array(0);
  private st: Float32Array = new Float32Array(0);
  private busy = false;
  private readonly s: OpenSession;

  constructor(ort: Ort, session: Session, sr: Tensor) {
    this.s = { ort, session, sr };
  }

  async runOne(samples: Float32Array, state: Float32Array): Promise<number> {
    return (await this.runBatch([samples], [state]))[0]!;
  }

  async runBatch(windows: readonly Float32Array[], states: readonly Float32Array[]): Promise<Float32Array> {
    const b = windows.length;
    const len = windows[0]!.length;
    const own = !this.busy;
    let input: Float32Array;
    let st: Float32Array;
    if (b === 1) {
      // [1, len] and [2, 1, 128] are the window's and the state's own layouts.
      input = windows[0]!;
      st = states[0]!;
    } else {
      input = own && this.input.length >= b * len ? this.input : new Float32Array(Math.max(b * len, own ? BUFFER_WINDOWS * len : 0));
      st = own && this.st.length >= 2 * b * STATE_HALF ? this.st : new Float32Array(2 * Math.max(b, own ? BUFFER_WINDOWS : 0) * STATE_HALF);
      if (own) {
        this.input = input;
        this.st = st;
      }
      packBatch(windows, states, input, st);
      if (input.length !== b * len) input = input.subarray(0, b * len);
      if (st.length !== 2 * b * STATE_HALF) st = st.subarray(0, 2 * b * STATE_HALF);
    }
    if (own) this.busy = true;
    // onnxruntime-node runs the model synchronously in a setImmediate that `runPacked` queues at once, so
    // one queued just before it runs right before the run: a pacer tick due by then goes first, and the
    // span recorded is the run alone, not the rest of the loop turn it waited through (stall-recorder.ts).
    const run = { t0: performance.now() };
    setImmediate(beforeRun, run);
    let out: { p: Float32Array; next: Float32Array };
    try {
      out = await runPacked(this.s, input, st, b, len);
    } finally {
      if (own) this.busy = false;
      stalls.note(STALL_VAD, run.t0, performance.now());
    }
    countRun(this.counts, b);
    unpackStates(out.next, states);
    return out.p;
  }
}
