/**
 * Overload shedding of a Silero stream (src/media/vad/silero.ts, SileroVad.maxLagMs / VAD_MAX_LAG_MS),
 * on a fake window runner whose model runs finish only when the test says so: a stream more than the
 * limit behind skips its stale windows (counted) and scores the newest ones; its frames resolve with
 * the last probability scored; a stream that keeps up never skips, even under the tightest limit; with
 * no limit every window is scored in order (the path tests and simulations use). And the batcher: when
 * windows are still waiting after a run, the next run starts without waiting for another loop turn.
 */
import { describe, expect, test } from "bun:test";
import { createStreamOn, type VadLagLimit } from "../../../src/media/vad/silero.ts";
import { FLUSH_AT, MAX_BATCH, MAX_BATCH_BEHIND, SileroModel, WindowBatcher, vadBacklog, vadTotals, type WindowRunner } from "../../../src/media/vad/batcher.ts";
import { SILERO_CONTEXT_SAMPLES, SILERO_WINDOW_MS } from "../../../src/media/vad/framer.ts";

/** A runner that records each window's first sample (context excluded) and finishes runs on `release()`. */
function stalledRunner() {
  const seen: number[] = [];
  const pending: (() => void)[] = [];
  const runner: WindowRunner = {
    run(samples) {
      const first = Math.round(samples[SILERO_CONTEXT_SAMPLES]! * 32768);
      seen.push(first);
      return new Promise<number>((resolve) => pending.push(() => resolve(first / 1000)));
    },
  };
  return {
    runner,
    seen,
    /** Finishes every run in flight, and then those that start meanwhile, until none is left. */
    async drain(): Promise<void> {
      for (let i = 0; i < 1000; i++) {
        await Bun.sleep(0);
        const p = pending.splice(0);
        if (p.length === 0 && i > 2) return;
        for (const f of p) f();
      }
    },
    /** Finishes the runs in flight now. */
    release(): void {
      for (const f of pending.splice(0)) f();
    },
  };
}

/** Frame k (160 samples) holds the value k + 1 in every sample, so a window's first sample names its frame. */
const frame = (k: number) => new Int16Array(160).fill(k + 1);

describe("VAD overload shedding (VAD_MAX_LAG_MS)", () => {
  test("a stream more than the limit behind skips its stale windows, counted, and scores the newest", async () => {
    const fake = stalledRunner();
    const lag: VadLagLimit = { maxMs: 3 * SILERO_WINDOW_MS }; // 96 ms
    const s = createStreamOn(fake.runner, lag);
    const skipped0 = vadTotals.skipped;
    vadBacklog.takeMaxBehindMs();
    const results: Promise<number | null>[] = [];
    // 20 frames = 3,200 samples = 12 windows, 11 of them while the model is stuck on the first.
    for (let k = 0; k < 2; k++) results.push(s.process(frame(k)));
    await Bun.sleep(0);
    for (let k = 2; k < 20; k++) results.push(s.process(frame(k)));
    expect(fake.seen.length).toBe(1); // window 1 in flight, 11 behind it (352 ms of audio)
    expect(vadBacklog.waiting).toBeGreaterThanOrEqual(11);
    await fake.drain();
    const ps = await Promise.all(results);
    // Windows 2..8 had more than 96 ms queued behind them when their turn came: skipped. Windows 9..12
    // (3 or fewer behind each) were scored: the stream caught up with the newest audio.
    expect(s.stats.skipped).toBe(7);
    expect(vadTotals.skipped - skipped0).toBe(7);
    expect(s.stats.windows).toBe(5);
    // Window w starts at sample 256·(w−1), inside frame floor(256·(w−1)/160): value that + 1.
    const firstFrameOf = (w: number) => Math.floor((256 * (w - 1)) / 160) + 1;
    expect(fake.seen).toEqual([1, 9, 10, 11, 12].map(firstFrameOf));
    // A frame whose window was skipped resolves with the last probability scored before it (window 1's).
    expect(ps[1]).toBe(firstFrameOf(1) / 1000); // frame 2 completed window 1
    expect(ps[3]).toBe(firstFrameOf(1) / 1000); // frame 4 completed window 2: skipped
    expect(ps[19]).toBe(firstFrameOf(12) / 1000); // frame 20 completed window 12: scored
    // The most a scored window lagged (voice_agent_vad_lag_max_ms): window 9, with 3 windows behind it.
    expect(vadBacklog.takeMaxBehindMs()).toBe(3 * SILERO_WINDOW_MS);
    expect(vadBacklog.waiting).toBe(0);
  });

  test("no limit (Infinity, the library's default): every window is scored, in order", async () => {
    const fake = stalledRunner();
    const s = createStreamOn(fake.runner, { maxMs: Infinity });
    const results: Promise<number | null>[] = [];
    for (let k = 0; k < 20; k++) results.push(s.process(frame(k)));
    await fake.drain();
    await Promise.all(results);
    expect(s.stats.skipped ?? 0).toBe(0);
    expect(fake.seen).toEqual(Array.from({ length: 12 }, (_, i) => Math.floor((256 * i) / 160) + 1));
  });

  test("a stream that keeps up never skips, even with a limit of 0", async () => {
    const fake = stalledRunner();
    const s = createStreamOn(fake.runner, { maxMs: 0 });
    for (let k = 0; k < 50; k++) {
      const p = s.process(frame(k));
      await Bun.sleep(0);
      fake.release();
      await p;
    }
    expect(s.stats.skipped ?? 0).toBe(0);
    expect(s.stats.windows).toBe(31); // 8,000 samples: 31 whole windows
  });

  test("the limit is read at each window: raised while behind, the backlog is scored after all", async () => {
    const fake = stalledRunner();
    const lag: VadLagLimit = { maxMs: 0 };
    const s = createStreamOn(fake.runner, lag);
    const results: Promise<number | null>[] = [];
    for (let k = 0; k < 2; k++) results.push(s.process(frame(k)));
    await Bun.sleep(0);
    for (let k = 2; k < 20; k++) results.push(s.process(frame(k)));
    lag.maxMs = Infinity;
    await fake.drain();
    await Promise.all(results);
    expect(s.stats.skipped ?? 0).toBe(0);
    expect(s.stats.windows).toBe(12);
  });

  test("reset() with a backlog: the stale windows leave the backlog count", async () => {
    const fake = stalledRunner();
    const waiting0 = vadBacklog.waiting;
    const s = createStreamOn(fake.runner, { maxMs: Infinity });
    for (let k = 0; k < 20; k++) void s.process(frame(k));
    await Bun.sleep(0);
    s.reset();
    await fake.drain();
    expect(vadBacklog.waiting).toBe(waiting0);
    expect(fake.seen.length).toBe(1); // only the window in flight at the reset ran
  });
});

describe("the batcher when behind", () => {
  /** A SileroModel on a fake session that answers, like onnxruntime-node, in a setImmediate of its own. */
  function fakeModel() {
    const sizes: number[] = [];
    class Tensor {
      constructor(readonly type: string, readonly data: Float32Array, readonly dims: number[]) {}
    }
    const session = {
      run(feeds: { input: Tensor; state: Tensor }) {
        const b = feeds.input.dims[0]!;
        sizes.push(b);
        return new Promise((resolve) => setImmediate(() => resolve({ output: new Tensor("float32", new Float32Array(b).fill(0.5), [b, 1]), stateN: new Tensor("float32", new Float32Array(feeds.state.data.length), feeds.state.dims) })));
      },
    };
    const model = new SileroModel({ Tensor } as never, session as never, new Tensor("int64", new Float32Array(1), []) as never);
    return { model, sizes };
  }

  test("behind, runs take up to MAX_BATCH_BEHIND windows, and windows still waiting after a run go into the next one without another loop turn", async () => {
    const { model, sizes } = fakeModel();
    const b = new WindowBatcher(model, { waitMs: 0 });
    // MAX_BATCH_BEHIND + MAX_BATCH + FLUSH_AT windows of different streams at once: two runs, both
    // behind (more than MAX_BATCH waiting), so of up to MAX_BATCH_BEHIND windows.
    const n = MAX_BATCH_BEHIND + MAX_BATCH + FLUSH_AT;
    const done = Array.from({ length: n }, () => b.run(new Float32Array(288), new Float32Array(256)));
    // Count loop turns (our own setImmediate chain) until every window is scored.
    let turns = 0;
    let all = false;
    void Promise.all(done).then(() => (all = true));
    while (!all && turns < 50) {
      await new Promise((r) => setImmediate(r));
      turns++;
    }
    expect(sizes).toEqual([MAX_BATCH_BEHIND, MAX_BATCH + FLUSH_AT]);
    // One turn for the first run's scheduling, then one per run (onnxruntime's own setImmediate): 3.
    // Waiting a turn of ours before each following run as well took 4.
    expect(turns).toBeLessThanOrEqual(3);
  });
});
