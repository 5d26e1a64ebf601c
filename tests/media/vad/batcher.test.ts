/**
 * Silero windows of many streams in one model run (src/media/vad/batcher.ts): 40 streams fed in
 * lock-step (as 40 calls' packets arrive) give exactly the probabilities they give one window per run,
 * in far fewer runs; streams of another context length are not mixed into a batch; a stream's windows
 * stay in order; reset() in flight drops the stale state.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadSileroVad, type SileroVad } from "../../../src/media/vad/silero.ts";
import { vadTotals } from "../../../src/media/vad/batcher.ts";
import * as A from "./audio-fixtures.ts";

let tmp: { dir: string; remove: () => void };
let vad: SileroVad;
let speech: Int16Array;

beforeAll(async () => {
  if (!A.haveAudioTools()) throw new Error("flite and sox are required (apt-get install flite sox)");
  tmp = A.makeTempDir("vad-batch-");
  vad = await loadSileroVad();
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
    const batched = await lockStep(40, true);
    const runs = vad.runs.runs - r0.runs;
    const windows = vad.runs.windows - r0.windows;
    // The process totals behind voice_agent_vad_total{what} move with them.
    expect([vadTotals.runs - t0.runs, vadTotals.windows - t0.windows]).toEqual([runs, windows]);
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
