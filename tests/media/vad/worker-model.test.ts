/**
 * The VAD worker (src/media/vad/worker-model.ts, vad-worker.ts; VAD_WORKER=on): batches of real speech
 * windows from several streams, run through the worker thread, give bit-identical probabilities and next
 * states to the same batches run on this thread; a worker whose model cannot load, or that dies with a
 * run in flight, is logged once and its runs are scored on this thread (the same bits), never lost.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openSileroSession, SileroModel, type BatchModel } from "../../../src/media/vad/model.ts";
import { WorkerModel } from "../../../src/media/vad/worker-model.ts";
import { vadTotals } from "../../../src/media/vad/totals.ts";
import { SILERO_CONTEXT_SAMPLES, SILERO_WINDOW_SAMPLES } from "../../../src/media/vad/framer.ts";
import * as A from "./audio-fixtures.ts";

const STREAMS = 12;
const LEN = SILERO_CONTEXT_SAMPLES + SILERO_WINDOW_SAMPLES;
let tmp: { dir: string; remove: () => void };
let inThread: SileroModel;
/** Per stream, its windows (context + window, float in [-1, 1)): stream i hears the speech delayed by 37·i ms. */
let windows: Float32Array[][];
const workers: WorkerModel[] = [];

beforeAll(async () => {
  if (!A.haveAudioTools()) throw new Error("flite and sox are required (apt-get install flite sox)");
  tmp = A.makeTempDir("vad-worker-");
  const speech = A.concat([A.silence(200), await A.speech(tmp.dir, "slt", "Hello, I would like to book a table for two."), A.silence(300)]);
  const s = await openSileroSession();
  inThread = new SileroModel(s.ort, s.session, s.sr);
  windows = Array.from({ length: STREAMS }, (_, i) => {
    const pcm = A.concat([A.silence(37 * i), speech]);
    const out: Float32Array[] = [];
    for (let k = 1; (k + 1) * SILERO_WINDOW_SAMPLES <= pcm.length; k++) {
      const w = new Float32Array(LEN);
      for (let j = 0; j < LEN; j++) w[j] = pcm[k * SILERO_WINDOW_SAMPLES - SILERO_CONTEXT_SAMPLES + j]! / 32768;
      out.push(w);
    }
    return out;
  });
}, 60_000);
afterAll(() => {
  for (const w of workers) w.stop();
  tmp?.remove();
});

/** Every stream's windows in lock-step, batches of all streams (stream i in batch k: its k-th window); probabilities and final states. */
async function score(model: BatchModel): Promise<{ p: number[][]; states: Float32Array[] }> {
  const states = windows.map(() => new Float32Array(256));
  const p: number[][] = windows.map(() => []);
  const n = Math.min(...windows.map((w) => w.length));
  for (let k = 0; k < n; k++) {
    // Runs of two sizes (all streams, then the first half), two batches in flight at once.
    const half = STREAMS / 2;
    const [a, b] = await Promise.all([
      model.runBatch(windows.slice(0, half).map((w) => w[k]!), states.slice(0, half)),
      model.runBatch(windows.slice(half).map((w) => w[k]!), states.slice(half)),
    ]);
    [...a, ...b].forEach((x, i) => p[i]!.push(x));
  }
  return { p, states };
}

function logger() {
  const errors: { obj: unknown; msg: string }[] = [];
  const infos: { obj: unknown; msg: string }[] = [];
  const log = { info: (obj: unknown, msg: string) => infos.push({ obj, msg }), error: (obj: unknown, msg: string) => errors.push({ obj, msg }) };
  return { log: log as never, errors, infos };
}

function bits(r: { p: number[][]; states: Float32Array[] }): string[] {
  return [...r.p.map((x) => Buffer.from(Float32Array.from(x).buffer).toString("hex")), ...r.states.map((s) => Buffer.from(s.buffer).toString("hex"))];
}

describe("VAD runs on the worker thread", () => {
  test("the same probabilities and next states, bit for bit, as on this thread; counted in the process totals", async () => {
    const { log, infos, errors } = logger();
    const w = WorkerModel.start({ fallback: inThread, nice: 0, log });
    workers.push(w);
    expect(await w.settled).toBe("ready");
    expect(infos.map((i) => i.msg)).toEqual(["vad worker ready"]);
    const here = await score(inThread);
    const t0 = { ...vadTotals };
    const there = await score(w);
    expect(bits(there)).toEqual(bits(here));
    // the speech was heard, so the comparison compared something
    for (const p of there.p) expect(Math.max(...p)).toBeGreaterThan(0.8);
    const n = here.p[0]!.length;
    expect([vadTotals.runs - t0.runs, vadTotals.windows - t0.windows]).toEqual([2 * n, STREAMS * n]);
    expect(errors).toEqual([]);
  }, 60_000);

  test("a worker whose model cannot load: logged once, runs scored on this thread", async () => {
    const { log, errors } = logger();
    const w = WorkerModel.start({ fallback: inThread, nice: 0, log, entry: new URL("./vad-worker-no-model.ts", import.meta.url).href });
    workers.push(w);
    expect(await w.settled).toBe("failed");
    expect(w.failure).toContain("load failed");
    expect(bits(await score(w))).toEqual(bits(await score(inThread)));
    expect(errors.map((e) => e.msg)).toEqual(["vad worker failed: VAD runs on the call thread"]);
  }, 60_000);

  test("a worker that dies with runs in flight: logged once, those runs and the later ones scored on this thread", async () => {
    const { log, errors } = logger();
    const w = WorkerModel.start({ fallback: inThread, nice: 0, log, entry: new URL("./vad-worker-dies.ts", import.meta.url).href });
    workers.push(w);
    expect(await w.settled).toBe("ready");
    const got = await score(w); // the first two runs go to the worker, which exits
    expect(w.state).toBe("failed");
    expect(bits(got)).toEqual(bits(await score(inThread)));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toBe("vad worker failed: VAD runs on the call thread");
    expect((errors[0]!.obj as { inFlight: number }).inFlight, "runs were in flight when it died").toBeGreaterThanOrEqual(1);
  }, 60_000);
});
