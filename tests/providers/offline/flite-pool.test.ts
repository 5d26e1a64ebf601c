/**
 * flite synthesis in worker threads (src/providers/flite/synth-pool.ts): the same samples as synthesis
 * on the calling thread, for several voices, rates and a text split into pieces; pieces spread over the
 * workers; the calling thread stays free while workers synthesise (a 5 ms timer keeps firing); a flite
 * failure surfaces as ProviderError; a closed pool fails its pieces.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createFliteTts } from "../../../src/providers/flite/flite-tts.ts";
import { FliteWorkerPool } from "../../../src/providers/flite/synth-pool.ts";
import { ProviderError } from "../../../src/providers/types.ts";

const pool = new FliteWorkerPool(2);
afterAll(() => pool.close());

async function collect(tts: ReturnType<typeof createFliteTts>, chunks: string[]): Promise<Int16Array[]> {
  const s = tts.open({ signal: new AbortController().signal, callId: "t" });
  for (const c of chunks) s.pushText(c);
  s.end();
  const out: Int16Array[] = [];
  for await (const a of s.audio) out.push(a);
  return out;
}

describe("FliteWorkerPool", () => {
  test("workers start and report ready", async () => {
    await pool.start();
    expect(pool.live).toBe(2);
  }, 30_000);

  for (const o of [{ voice: "kal16", rate: 1 }, { voice: "slt", rate: 1.3 }, { voice: "kal", rate: 1 }] as const) {
    test(`same samples as in-thread synthesis (${o.voice}, rate ${o.rate})`, async () => {
      const text = "Thank you for calling. Your appointment is on Tuesday at ten thirty, in room four.";
      const inThread = await createFliteTts(o).synthesize8k(text);
      const viaPool = await createFliteTts({ ...o, pool }).synthesize8k(text);
      expect(inThread.length).toBeGreaterThan(8000);
      expect(viaPool.length).toBe(inThread.length);
      expect(Buffer.from(viaPool.buffer, viaPool.byteOffset, viaPool.byteLength).equals(Buffer.from(inThread.buffer, inThread.byteOffset, inThread.byteLength))).toBe(true);
    }, 60_000);
  }

  test("a stream through the pool emits the same chunks, in order, as one on the calling thread", async () => {
    const chunks = ["Hello there.", "I can book a table for you,", "for two people, tonight at eight."];
    const a = await collect(createFliteTts(), chunks);
    const b = await collect(createFliteTts({ pool }), chunks);
    expect(b.map((x) => x.length)).toEqual(a.map((x) => x.length));
    for (let i = 0; i < a.length; i++) expect(Array.from(b[i]!)).toEqual(Array.from(a[i]!));
  }, 60_000);

  test("the calling thread is free while workers synthesise: a 5 ms timer keeps firing", async () => {
    const tts = createFliteTts({ voice: "slt", pool }); // the slow voice: ~30 ms per second of speech
    const text = "This is a long sentence that takes the clustergen voice a while to synthesise, far longer than one frame. ".repeat(2);
    let worst = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 5);
    const t0 = performance.now();
    await Promise.all([tts.synthesize8k(text), tts.synthesize8k(text), tts.synthesize8k(text), tts.synthesize8k(text)]);
    const took = performance.now() - t0;
    clearInterval(timer);
    // In-thread, each synthesis blocks for its whole duration; here the loop only waits for messages.
    expect(took).toBeGreaterThan(60);
    expect(worst).toBeLessThan(Math.max(40, took / 2));
  }, 60_000);

  test("failures: flite on the worker → ProviderError; a closed pool → unavailable", async () => {
    const bad = createFliteTts({ pool, rate: 1 });
    (bad.options as { voice: string }).voice = "nope";
    const e1 = await bad.synthesize8k("Hello.").catch((e) => e);
    expect(e1).toBeInstanceOf(ProviderError);
    expect(e1.code).toBe("bad_request");
    const p2 = new FliteWorkerPool(1);
    await p2.start();
    p2.close();
    const e2 = await createFliteTts({ pool: p2 }).synthesize8k("Hello.").catch((e) => e);
    expect(e2).toBeInstanceOf(ProviderError);
    expect(e2.code).toBe("unavailable");
  }, 30_000);
});
