/**
 * A Silero run on the call thread (model.ts SileroModel, the real model): onnxruntime-node runs it in a
 * setImmediate of its own, so a pacer tick due by then goes right before it (a pace point), and the span
 * the stall log gets is the run alone, not the rest of the loop turn the run waited through.
 */
import { expect, test } from "bun:test";
import { openSileroSession, SileroModel, STATE_HALF } from "../../../src/media/vad/model.ts";
import { SILERO_CONTEXT_SAMPLES, SILERO_WINDOW_SAMPLES } from "../../../src/media/vad/framer.ts";
import { setPacePoint } from "../../../src/util/pace-point.ts";
import { stalls } from "../../../src/util/stall-recorder.ts";

test("a run gets a pace point right before it; its recorded span leaves out work the loop did first", async () => {
  const s = await openSileroSession();
  const model = new SileroModel(s.ort, s.session, s.sr);
  const len = SILERO_CONTEXT_SAMPLES + SILERO_WINDOW_SAMPLES;
  const windows = [0, 1, 2, 3].map((k) => Float32Array.from({ length: len }, (_, i) => 0.1 * Math.sin((i * (k + 1)) / 7)));
  const states = windows.map(() => new Float32Array(2 * STATE_HALF));
  const points: number[] = [];
  const release = setPacePoint(() => points.push(performance.now()));
  try {
    const t0 = performance.now();
    // Work the loop runs before the model's setImmediate (queued first): 20 ms that are not the run.
    setImmediate(() => {
      const end = performance.now() + 20;
      while (performance.now() < end);
    });
    const p = await model.runBatch(windows, states);
    const t1 = performance.now();
    expect(p.length).toBe(4);
    expect(points.length).toBe(1);
    expect(points[0]! - t0).toBeGreaterThanOrEqual(20); // after the earlier work, i.e. right before the run
    const { busy } = stalls.explain(t0, t1);
    expect(busy.vad).toBeGreaterThan(0);
    expect(busy.vad).toBeLessThan(t1 - points[0]! + 0.1); // from the pace point on, not from runBatch's call
  } finally {
    release();
  }
});
