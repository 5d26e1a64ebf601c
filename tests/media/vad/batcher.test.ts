/**
 * Silero windows of many streams in one model run (src/media/vad/batcher.ts): 40 streams fed in
 * lock-step (as 40 calls' packets arrive) give exactly the probabilities they give one window per run,
 * in far fewer runs; streams of another context length are not mixed into a batch; a stream's windows
 * stay in order; reset() in flight drops the stale state.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { SileroVad } from "../../../src/media/vad/silero.ts";
import { loadVadAsLoaded } from "../../support/vad.ts";
import { FLUSH_AT, vadBatchSizes, vadTotals, VAD_BATCH_BOUNDS } from "../../../src/media/vad/batcher.ts";
import * as A from "./audio-fixtures.ts";

let tmp: { dir: string; remove: () => void };
let vad: SileroVad;
let speech: Int16Array;

beforeAll(async () => {
  if (!A.haveAudioTools()) throw new Error("flite and sox are required (apt-get install flite sox)");
  tmp = A.makeTempDir("vad-batch-");
  vad = await loadVadAsLoaded(); // the shared model as loaded: an AgentServer earlier in this process sets the agent's VAD settings on it (tests/support/vad.ts)
  speech = A.concat([A.silence(300), await A.speech(tmp.dir, "slt", "Hello, I would like to book a table for two."), A.silence(400)]);
});
afterAll(() => {
  tmp?.remove();
  if (vad) vad.batching = true;
});

/** `n` streams, stream i hearing the speech delayed by i frames, frames pushed in lock-step; probabilities per stream. */
async function lockStep(n: number, batching: boolean, contextOf: (i: number) => number | undefined = () => undefined): Promise<number[][]> {
  vad.batching = batching;
  const streams = Array.from({ length: n }, (_, i) => {
    const c = contextOf(i);
    return vad.createStream(c === undefined ? undefined : { contextSamples: c });
  });
  const frames = A.frames160(speech);
  const out: number[][] = streams.map(() => []);
  for (let f = 0; f < frames.length + n; f++) {
    const pending = streams.map((s, i) => {
      const k = f - i;
      const frame = k >= 0 && k < frames.length ? frames[k]! : new Int16Array(160);
      return s.process(frame);
    });
    const ps = await Promise.all(pending);
    ps.forEach((p, i) => out[i]!.push(p ?? -1));
  }
  return out;
}

describe("batched Silero runs", () => {
  test("40 streams in lock-step: the same probabilities as one window per run, in far fewer runs", async () => {
    const single = await lockStep(40, false);
    const r0 = { ...vad.runs };
    const t0 = { ...vadTotals };
    const h0 = { counts: vadBatchSizes.counts.slice(), sum: vadBatchSizes.sum };
    const batched = await lockStep(40, true);
    const runs = vad.runs.runs - r0.runs;
    const windows = vad.runs.windows - r0.windows;
    // The process totals behind voice_agent_vad_total{what} move with them, and so does the batch-size
    // histogram behind voice_agent_vad_batch_windows: every run counted once, its windows in the sum.
    expect([vadTotals.runs - t0.runs, vadTotals.windows - t0.windows]).toEqual([runs, windows]);
    const added = Array.from(vadBatchSizes.counts, (n, i) => n - h0.counts[i]!);
    expect([added.reduce((a, b) => a + b, 0), vadBatchSizes.sum - h0.sum]).toEqual([runs, windows]);
    // 40 streams in lock-step: most runs hold many windows (over 8: past the bucket of 8).
    const over8 = added.slice(VAD_BATCH_BOUNDS.indexOf(8) + 1).reduce((a, b) => a + b, 0);
    expect(over8).toBeGreaterThan(runs / 2);
    expect(batched).toEqual(single);
    expect(windows).toBeGreaterThan(40 * 50);
    expect(windows / runs).toBeGreaterThan(10); // mean batch size
    // the speech was heard on every stream
    for (const s of batched) expect(Math.max(...s)).toBeGreaterThan(0.8);
  }, 120_000);

  test("streams with another context length are run apart, with their own results", async () => {
    const ctx = (i: number) => (i % 2 ? 64 : undefined);
    const single = await lockStep(6, false, ctx);
    const batched = await lockStep(6, true, ctx);
    expect(batched).toEqual(single);
  }, 60_000);

  test("reset() while a window is in flight: the next result starts from zero state", async () => {
    vad.batching = true;
    const a = vad.createStream();
    const b = vad.createStream();
    const frames = A.frames160(speech);
    for (const f of frames.slice(0, 30)) void a.process(f);
    a.reset();
    const pa: (number | null)[] = [];
    const pb: (number | null)[] = [];
    for (const f of frames.slice(0, 40)) {
      const [x, y] = await Promise.all([a.process(f), b.process(f)]);
      pa.push(x);
      pb.push(y);
    }
    expect(pa).toEqual(pb);
  }, 60_000);
});

/**
 * `n` streams whose frames arrive spread over each 20 ms (stream i at i·20/n ms past it, wall clock, one
 * event-loop turn per arrival), as real calls' packets do; probabilities per stream, and for each window
 * the time from `process()` to its probability, ms.
 */
async function staggered(n: number, waitMs: number, framesPerStream: number): Promise<{ probs: number[][]; waits: number[] }> {
  vad.batching = true;
  vad.batchWaitMs = waitMs;
  try {
    const streams = Array.from({ length: n }, () => vad.createStream());
    const frames = A.frames160(speech).slice(0, framesPerStream);
    const probs: number[][] = streams.map(() => []);
    const waits: number[] = [];
    const pending: Promise<unknown>[] = [];
    const t0 = performance.now();
    for (let k = 0; k < frames.length; k++) {
      for (let i = 0; i < n; i++) {
        const due = t0 + k * 20 + (i * 20) / n;
        while (performance.now() < due) await Bun.sleep(Math.max(0, due - performance.now()));
        const s = streams[i]!;
        const w = s.stats.windows;
        const at = performance.now();
        pending.push(
          s.process(frames[k]!).then((p) => {
            probs[i]![k] = p ?? -1;
            if (s.stats.windows > w) waits.push(performance.now() - at);
          }),
        );
      }
    }
    await Promise.all(pending);
    return { probs, waits };
  } finally {
    vad.batchWaitMs = 0;
  }
}

describe("batching on a cadence (VAD_BATCH_MS)", () => {
  test("windows arriving apart within the wait share runs, with the same probabilities; each waits about the cadence", async () => {
    const n = 8;
    const frames = 50; // 1 s of audio: 31 windows per stream
    const r0 = { ...vad.runs };
    const turnOnly = await staggered(n, 0, frames);
    const r1 = { ...vad.runs };
    const cadence = await staggered(n, 15, frames);
    const r2 = { ...vad.runs };
    const batch = (a: typeof r0, b: typeof r0) => (b.windows - a.windows) / (b.runs - a.runs);
    expect(cadence.probs).toEqual(turnOnly.probs);
    expect(r2.windows - r1.windows).toBe(r1.windows - r0.windows);
    // 8 streams 2.5 ms apart: a 15 ms wait gathers several of them (one per turn gathers ~1).
    expect(batch(r1, r2)).toBeGreaterThan(2.5);
    expect(batch(r1, r2)).toBeGreaterThan(1.5 * batch(r0, r1));
    cadence.waits.sort((a, b) => a - b);
    // No window is run before the cadence unless others filled the batch (not here: 8 < FLUSH_AT) —
    // the first of a run waits the full 15 ms, the later ones less; the median is well above zero.
    expect(cadence.waits[Math.floor(cadence.waits.length / 2)]!).toBeGreaterThan(3);
    expect(cadence.waits[cadence.waits.length - 1]!).toBeGreaterThanOrEqual(12);
  }, 60_000);

  test("FLUSH_AT windows waiting run at once, without waiting for the cadence", async () => {
    vad.batching = true;
    vad.batchWaitMs = 1000;
    try {
      const streams = Array.from({ length: FLUSH_AT }, () => vad.createStream());
      const window = A.frames160(speech).slice(0, 2); // 320 samples: the second frame completes a window
      await Promise.all(streams.map((s) => s.process(window[0]!)));
      const t0 = performance.now();
      const r0 = { ...vad.runs };
      await Promise.all(streams.map((s) => s.process(window[1]!)));
      expect(vad.runs.windows - r0.windows).toBe(FLUSH_AT);
      expect(vad.runs.runs - r0.runs).toBe(1);
      expect(performance.now() - t0).toBeLessThan(500); // a 32-window run is ~1 ms; no 1 s wait
    } finally {
      vad.batchWaitMs = 0;
    }
  }, 30_000);

  test("batchWaitMs rejects a negative or non-finite value", () => {
    expect(() => (vad.batchWaitMs = -1)).toThrow(RangeError);
    expect(() => (vad.batchWaitMs = Number.NaN)).toThrow(RangeError);
    expect(vad.batchWaitMs).toBe(0);
  });
});
