/**
 * Cartesia's receive side, per chunk. The base64 decoding of a chunk's `data` (messages.ts fromBase64): the
 * bytes Buffer's decoder gives, on seeded random chunks and on text the strict decoder refuses. The audio
 * timeout (src/providers/cartesia/stream.ts, CartesiaOptions.audioTimeoutMs) on a fake clock: one timer per context whose deadline each chunk moves (not a timer re-armed per chunk), so the
 * times it fires at are exact: audio owed after the first text until the first chunk, and after end()
 * between chunks until `done`; none owed while more text may come.
 */
import { describe, expect, test } from "bun:test";
import type { CartesiaConnection } from "../../../src/providers/cartesia/connection";
import { fromBase64, parseReply } from "../../../src/providers/cartesia/messages";
import { CartesiaTtsStream } from "../../../src/providers/cartesia/stream";
import { FakeClock } from "../../../src/util/clock";
import { mulberry32 } from "../../support/prng";

const T = 5000;

function rig() {
  const sent: Record<string, unknown>[] = [];
  const conn = {
    state: "open",
    register() {},
    unregister() {},
    send(m: Record<string, unknown>) {
      sent.push(m);
    },
    dropQueued() {},
  } as unknown as CartesiaConnection;
  const clock = new FakeClock();
  const timers = { set: 0 };
  const setTimer = clock.setTimer.bind(clock);
  clock.setTimer = (ms, fn) => (timers.set++, setTimer(ms, fn));
  const params = { modelId: "m", voiceId: "v", language: "en", contextId: "ctx-1", encoding: "pcm_mulaw" as const, sampleRate: 8000 };
  const s = new CartesiaTtsStream(conn, params, "call-1", clock, new AbortController().signal, 64, undefined, T);
  let error: unknown = null;
  const drained = (async () => {
    try {
      for await (const _ of s.audio);
    } catch (e) {
      error = e;
    }
  })();
  const chunk = () => s.onChunk(new Uint8Array(160).fill(0xff));
  return { s, clock, sent, chunk, drained, timers, err: () => error };
}

describe("chunk data (base64)", () => {
  test("seeded random chunks of 0–1,000 bytes: the same bytes as Buffer's decoder, through parseReply too", () => {
    const rand = mulberry32(19);
    for (let i = 0; i < 500; i++) {
      const bytes = new Uint8Array(Math.floor(rand() * 1001)).map(() => Math.floor(rand() * 256));
      const b64 = Buffer.from(bytes).toString("base64");
      expect(fromBase64(b64)).toEqual(bytes);
      const r = parseReply(JSON.stringify({ type: "chunk", context_id: "c", data: b64, done: false }));
      expect(r).toEqual({ type: "chunk", contextId: "c", data: bytes });
    }
  });

  test.each([
    ["missing padding", "AAEC/w", [0, 1, 2, 255]],
    ["a line break inside", "AAEC\n/w==", [0, 1, 2, 255]],
    ["URL-safe alphabet", "AAEC_w==", [0, 1, 2, 255]],
  ])("text the strict decoder may refuse (%s) decodes as Buffer does", (_name, text, want) => {
    expect(fromBase64(text)).toEqual(new Uint8Array(Buffer.from(text, "base64")));
    expect([...fromBase64(text)]).toEqual(want);
  });
});

describe("Cartesia audio timeout (fake clock)", () => {
  test("no first audio: fails at exactly audioTimeoutMs after the first text, and cancels the context", async () => {
    const r = rig();
    r.s.pushText("Hello.");
    r.clock.advance(T / 2);
    r.s.pushText("More text does not move the deadline.");
    r.clock.advance(T / 2 - 1);
    expect(r.s.state).toBe("open");
    r.clock.advance(1);
    expect(r.s.state).toBe("failed");
    await r.drained;
    expect(r.err()).toMatchObject({ code: "timeout", retryable: true });
    expect(r.sent.at(-1)).toEqual({ context_id: "ctx-1", cancel: true });
    expect(r.clock.pending).toBe(0);
  });

  test("after end(): each chunk moves the deadline; it fires audioTimeoutMs after the last chunk, not before", async () => {
    const r = rig();
    r.s.pushText("Hello.");
    r.clock.advance(100);
    r.chunk();
    r.s.end();
    const before = r.timers.set;
    for (let i = 0; i < 10; i++) {
      r.clock.advance(T - 1); // just inside the limit each time: 10 × 4,999 ms in all
      for (let k = 0; k < 20; k++) r.chunk(); // a burst: the deadline moves, no timer is set
    }
    expect(r.s.state).toBe("ending");
    // One timer firing early and waiting on for the rest per limit passed, not one per chunk (200 chunks).
    expect(r.timers.set - before).toBeLessThanOrEqual(10);
    r.clock.advance(T - 1);
    expect(r.s.state).toBe("ending");
    r.clock.advance(1);
    expect(r.s.state).toBe("failed");
    await r.drained;
    expect(r.err()).toMatchObject({ code: "timeout" });
    expect(r.clock.pending).toBe(0);
  });

  test("while more text may come, a pause in the audio is not judged; `done` ends the context with no timer left", async () => {
    const r = rig();
    r.s.pushText("Hello.");
    r.clock.advance(200);
    r.chunk();
    r.clock.advance(10 * T); // open: the LLM may still be thinking
    r.s.pushText("And more.");
    r.clock.advance(10 * T);
    expect(r.s.state).toBe("open");
    r.s.end();
    r.clock.advance(T - 1);
    r.chunk();
    r.s.onDone();
    expect(r.s.state).toBe("done");
    expect(r.clock.pending).toBe(0);
    r.clock.advance(10 * T);
    await r.drained;
    expect(r.err()).toBeNull();
  });
});
