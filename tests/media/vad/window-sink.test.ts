/**
 * A Silero stream's windows without a promise chain (issue 13: the per-window chain of `then`, three async
 * functions and a `catch` was ~1 KB of the call thread's garbage per frame per stream). A stream hands its
 * next window to the runner from the previous window's callback (WindowRunner.submit → WindowSink), and the
 * batcher reuses its queue entries and per-run arrays. What must hold: the same results in the same order
 * whatever way the runner answers (a promise, a callback now, a callback later); frames queued far behind a
 * held run (more than the stream's job array keeps before compacting) resolve in order; a batcher entry
 * reused for a later run never reports to, or writes the state of, the window it held before.
 */
import { describe, expect, test } from "bun:test";
import { createStreamOn, type VadStream } from "../../../src/media/vad/silero.ts";
import { SileroModel, WindowBatcher, type WindowRunner, type WindowSink } from "../../../src/media/vad/batcher.ts";
import { SILERO_CONTEXT_SAMPLES } from "../../../src/media/vad/framer.ts";

/** A deterministic fake model: the probability depends on the window's first sample and the state, which it advances. */
function score(samples: Float32Array, state: Float32Array): number {
  const p = (Math.abs(samples[SILERO_CONTEXT_SAMPLES]! * 32768) % 97) / 97 + state[0]! / 1000;
  state[0] = state[0]! + 1;
  state[255] = p;
  return p;
}

/** Runners that answer the same thing three ways; `held` answers only when `release()` is called. */
function runners() {
  const promise: WindowRunner = { run: async (s, st) => score(s, st) };
  const now: WindowRunner = {
    run: async (s, st) => score(s, st),
    submit: (s, st, sink) => sink.windowDone(score(s, st)),
  };
  const waiting: (() => void)[] = [];
  const held: WindowRunner = {
    run: async (s, st) => score(s, st),
    submit: (s, st, sink) => void waiting.push(() => sink.windowDone(score(s, st))),
  };
  /** Answers held runs (and the ones they lead to) until none is left. */
  const release = async () => {
    do {
      while (waiting.length > 0) waiting.shift()!();
      await new Promise((r) => setImmediate(r));
    } while (waiting.length > 0);
  };
  return { promise, now, held, release, waiting };
}

/** Frame k: 160 samples of a value that changes per frame (speech-like level: over any quiet floor). */
const frame = (k: number) => new Int16Array(160).fill(1000 + 37 * k);

describe("Silero stream on a WindowSink runner", () => {
  test("a promise runner, a runner answering at once, and one answering later: the same results, in order", async () => {
    const r = runners();
    const feed = async (s: VadStream, release?: () => Promise<void>) => {
      const out = Array.from({ length: 120 }, (_, k) => s.process(frame(k)));
      if (release) await release();
      return Promise.all(out);
    };
    const viaPromise = await feed(createStreamOn(r.promise, { maxMs: Infinity }));
    const viaNow = await feed(createStreamOn(r.now, { maxMs: Infinity }));
    const heldStream = createStreamOn(r.held, { maxMs: Infinity });
    const viaHeld = await feed(heldStream, r.release);
    expect(viaPromise.filter((p) => p !== null).length).toBe(119); // only the first frame ends no window before it
    expect(viaNow).toEqual(viaPromise);
    expect(viaHeld).toEqual(viaPromise);
    expect(heldStream.stats.windows).toBe(75);
    expect(heldStream.last!.endMs).toBe(75 * 32);
  });

  test("frames given while a run is held resolve in call order once it answers; reset() meanwhile resolves them null", async () => {
    const r = runners();
    const s = createStreamOn(r.held, { maxMs: Infinity });
    const order: number[] = [];
    const out = Array.from({ length: 100 }, (_, k) => s.process(frame(k)).then((p) => (order.push(k), p)));
    await Promise.resolve();
    expect(r.waiting.length).toBe(1); // one window of this stream in flight at a time
    await r.release();
    await Promise.all(out);
    expect(order).toEqual(Array.from({ length: 100 }, (_, k) => k));
    // Reset with 40 frames queued behind a held run: they resolve with null, and the stream goes on afterwards.
    const stale = Array.from({ length: 40 }, (_, k) => s.process(frame(k)));
    await Promise.resolve();
    s.reset();
    const fresh = s.process(frame(0));
    const fresh2 = s.process(frame(1));
    await r.release();
    expect(await Promise.all(stale)).toEqual(Array.from({ length: 40 }, () => null));
    expect(await fresh).toBeNull(); // no window yet after the reset
    expect(await fresh2).not.toBeNull();
    expect(s.stats.windows).toBe(1);
  });

  test("a failed run rejects its frame only; the frames after it still resolve", async () => {
    let n = 0;
    const runner: WindowRunner = {
      run: async (s, st) => score(s, st),
      submit: (s, st, sink) => void setImmediate(() => (++n === 3 ? sink.windowFailed(new Error("boom")) : sink.windowDone(score(s, st)))),
    };
    const s = createStreamOn(runner, { maxMs: Infinity });
    const out = Array.from({ length: 12 }, (_, k) => s.process(frame(k)).then((p) => ({ p }), (e: Error) => ({ e: e.message })));
    const res = await Promise.all(out);
    expect(res.filter((x) => "e" in x)).toEqual([{ e: "boom" }]);
    expect(typeof (res[11] as { p: number }).p).toBe("number");
  });
});

describe("WindowBatcher entry reuse", () => {
  /** A SileroModel on a fake session answering in a setImmediate (as onnxruntime-node does): probability = first sample. */
  function fakeModel() {
    class Tensor {
      constructor(readonly type: string, readonly data: Float32Array, readonly dims: number[]) {}
    }
    const session = {
      run(feeds: { input: Tensor; state: Tensor }) {
        const [b, len] = feeds.input.dims as [number, number];
        const out = new Float32Array(b);
        for (let i = 0; i < b; i++) out[i] = feeds.input.data[i * len]!;
        const next = new Float32Array(feeds.state.data.length);
        for (let i = 0; i < b; i++) next.fill(feeds.input.data[i * len]!, i * 128, i * 128 + 128).fill(feeds.input.data[i * len]!, (b + i) * 128, (b + i + 1) * 128);
        return new Promise((resolve) => setImmediate(() => resolve({ output: new Tensor("float32", out, [b, 1]), stateN: new Tensor("float32", next, feeds.state.dims) })));
      },
    };
    return new SileroModel({ Tensor } as never, session as never, new Tensor("int64", new Float32Array(1), []) as never);
  }

  test("each sink hears its own window once; a state of an earlier run is not written by a later one", async () => {
    const b = new WindowBatcher(fakeModel(), { waitMs: 0 });
    const heard: number[][] = [];
    const sinkOf = (k: number): WindowSink => ({ windowDone: (p) => heard[k]!.push(p), windowFailed: () => heard[k]!.push(NaN) });
    const states: Float32Array[] = [];
    const round = async (from: number, n: number) => {
      for (let k = from; k < from + n; k++) {
        heard[k] = [];
        states[k] = new Float32Array(256);
        b.submit(new Float32Array(288).fill(k + 1), states[k]!, sinkOf(k));
      }
      for (let t = 0; t < 5; t++) await new Promise((r) => setImmediate(r));
    };
    await round(0, 20);
    const first = states.slice(0, 20).map((s) => s.slice());
    await round(20, 20); // the same (reused) entries hold these windows now
    await round(40, 3);
    for (let k = 0; k < 43; k++) {
      expect(heard[k]).toEqual([k + 1]);
      expect(states[k]!.every((x) => x === k + 1)).toBe(true);
    }
    for (let k = 0; k < 20; k++) expect(states[k]).toEqual(first[k]!);
    // The promise form still answers (its own sink per window).
    expect(await b.run(new Float32Array(288).fill(7), new Float32Array(256))).toBe(7);
  });
});
