/**
 * Silero model runs for many streams at once. The v5 model takes a batch dimension (input [B, 288],
 * state [2, B, 128], output [B, 1], stateN [2, B, 128]), and onnxruntime's cost per run is mostly fixed:
 * measured here (onnxruntime-node 1.30, one thread), one window alone costs 0.15 ms of CPU, a window in
 * a batch of 50 0.03 ms, with bit-identical probabilities. The run happens on the main thread
 * (onnxruntime-node's `run` is synchronous inside a setImmediate), hence MAX_BATCH. All calls' VAD streams therefore go through
 * one WindowBatcher: a window waits at most until the run in flight finishes (or the current event-loop
 * turn ends), and every window queued by then goes into the next run.
 *
 * Order: a stream has at most one window in flight (silero.ts chains its windows), so batching never
 * reorders one stream's windows; state goes in with the window and comes back with the result.
 */
import type { Ort } from "./ort-loader.ts";
import { VadError } from "./errors.ts";

type Session = Awaited<ReturnType<Ort["InferenceSession"]["create"]>>;
type Tensor = InstanceType<Ort["Tensor"]>;

/** State per stream: [2, 1, 128] float32. */
const STATE_HALF = 128;
const STATE_SIZE = 2 * STATE_HALF;
/**
 * Windows per model run at most. onnxruntime-node runs the model synchronously on the calling (main)
 * thread, so one run holds the event loop, the RTP pacer included, for its whole duration. Measured CPU
 * per window: batch 16 0.046 ms, 64 0.037 ms, 256 0.029 ms; a run of 64 holds the loop ~2.4 ms, one of
 * 256 ~7.4 ms (beyond the pacer's 5 ms lateness budget). 64 trades ~25 % of VAD CPU for that bound.
 */
export const MAX_BATCH = 64;

export interface WindowResult {
  /** Speech probability in [0, 1]. */
  p: number;
  /** The stream's next state (STATE_SIZE floats). */
  state: Float32Array;
}

/** Scores one window (samples with context) given the stream's state. */
export interface WindowRunner {
  run(samples: Float32Array, state: Float32Array): Promise<WindowResult>;
}

/** The session and its tensors: runs a batch of windows of equal length. */
export class SileroModel {
  /** Model runs and windows scored. */
  readonly counts = { runs: 0, windows: 0 };

  constructor(
    private readonly ort: Ort,
    private readonly session: Session,
    private readonly sr: Tensor,
  ) {}

  /** One window alone (batch of 1). @throws VadError */
  async runOne(samples: Float32Array, state: Float32Array): Promise<WindowResult> {
    return (await this.runBatch([samples], [state]))[0]!;
  }

  /**
   * Windows of equal length with their states → probability and next state of each.
   * @throws VadError `inference_failed` (session.run failed) / `bad_output` (unexpected shapes)
   */
  async runBatch(windows: readonly Float32Array[], states: readonly Float32Array[]): Promise<WindowResult[]> {
    const b = windows.length;
    const len = windows[0]!.length;
    let input: Float32Array;
    if (b === 1) input = windows[0]!;
    else {
      input = new Float32Array(b * len);
      for (let i = 0; i < b; i++) input.set(windows[i]!, i * len);
    }
    // [2, B, 128]: layer k of stream i at (k·B + i)·128.
    const st = new Float32Array(2 * b * STATE_HALF);
    for (let i = 0; i < b; i++) {
      st.set(states[i]!.subarray(0, STATE_HALF), i * STATE_HALF);
      st.set(states[i]!.subarray(STATE_HALF, STATE_SIZE), (b + i) * STATE_HALF);
    }
    let out: Record<string, Tensor>;
    try {
      out = (await this.session.run({
        input: new this.ort.Tensor("float32", input, [b, len]),
        state: new this.ort.Tensor("float32", st, [2, b, STATE_HALF]),
        sr: this.sr,
      })) as Record<string, Tensor>;
    } catch (cause) {
      throw new VadError("inference_failed", "Silero VAD session.run failed", true, { cause });
    }
    const p = out.output?.data as Float32Array | undefined;
    const next = out.stateN?.data as Float32Array | undefined;
    if (!p || p.length !== b || !next || next.length !== 2 * b * STATE_HALF) {
      throw new VadError("bad_output", "Silero VAD returned unexpected outputs", false);
    }
    this.counts.runs++;
    this.counts.windows += b;
    const res: WindowResult[] = new Array(b);
    for (let i = 0; i < b; i++) {
      const s = new Float32Array(STATE_SIZE);
      s.set(next.subarray(i * STATE_HALF, (i + 1) * STATE_HALF), 0);
      s.set(next.subarray((b + i) * STATE_HALF, (b + i + 1) * STATE_HALF), STATE_HALF);
      res[i] = { p: p[i]!, state: s };
    }
    return res;
  }
}

interface Queued {
  samples: Float32Array;
  state: Float32Array;
  resolve(r: WindowResult): void;
  reject(e: unknown): void;
}

/** Gathers windows from all streams into batched runs, one run in flight at a time. */
export class WindowBatcher implements WindowRunner {
  private queue: Queued[] = [];
  private running = false;
  private scheduled = false;

  constructor(private readonly model: SileroModel) {}

  run(samples: Float32Array, state: Float32Array): Promise<WindowResult> {
    const { promise, resolve, reject } = Promise.withResolvers<WindowResult>();
    this.queue.push({ samples, state, resolve, reject });
    this.schedule();
    return promise;
  }

  /** Runs after the current event-loop turn, so the windows of every packet read in it share the run. */
  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
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
    for (const q of this.queue) (q.samples.length === len && batch.length < MAX_BATCH ? batch : rest).push(q);
    this.queue = rest;
    try {
      const res = await this.model.runBatch(
        batch.map((q) => q.samples),
        batch.map((q) => q.state),
      );
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(res[i]!);
    } catch (err) {
      for (const q of batch) q.reject(err);
    } finally {
      this.running = false;
      if (this.queue.length) this.schedule();
    }
  }
}
