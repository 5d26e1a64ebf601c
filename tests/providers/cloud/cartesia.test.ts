import { afterEach, describe, expect, test } from "bun:test";
import { decodeFrame, encodeFrame } from "../../../src/media/g711";
import { decodeAudio, parseReply } from "../../../src/providers/cartesia/messages";
import type { FirstAudioInfo } from "../../../src/providers/cartesia/options";
import { CartesiaTts } from "../../../src/providers/cartesia/provider";
import { ProviderError } from "../../../src/providers/types";
import { FakeClock } from "../../../src/util/clock";
import { concatInt16 } from "../../../src/util/concat";
import { fakeSpeech, startFakeCartesia, type FakeCartesia } from "../../fakes/cartesia";
import { collect, waitUntil } from "../../fakes/wait";
import { setPacePoint } from "../../../src/util/pace-point";

let fake: FakeCartesia;
const providers: CartesiaTts[] = [];
afterEach(async () => {
  for (const p of providers.splice(0)) p.close();
  await fake?.close();
});

function tts(extra: Partial<ConstructorParameters<typeof CartesiaTts>[0]> = {}): CartesiaTts {
  const p = new CartesiaTts({ apiKey: "test-key", voiceId: "voice-123", baseUrl: fake.url, ...extra });
  providers.push(p);
  return p;
}
const sig = (): AbortSignal => new AbortController().signal;

/** What the fake's speech for `text` looks like after a μ-law round trip. */
const viaUlaw = (text: string): Int16Array => decodeFrame(encodeFrame(fakeSpeech(text), "PCMU"), "PCMU");

describe("Cartesia streaming TTS against the local fake", () => {
  test("one context per turn: chunked text with continue:true, empty transcript with continue:false; μ-law 8 kHz decoded", async () => {
    fake = startFakeCartesia();
    const s = tts().open({ signal: sig(), callId: "call-1" });
    s.pushText("Hello there.");
    s.pushText("How can I help?");
    s.end();
    const pcm = concatInt16(await collect(s.audio));
    const c = fake.connections[0];
    expect(c.params).toEqual({ api_key: "test-key", cartesia_version: "2025-04-16" });
    expect(c.received.map((m) => [m.transcript, m.continue])).toEqual([
      ["Hello there.", true],
      [" How can I help?", true], // a space so the concatenation reads "Hello there. How can I help?"
      ["", false],
    ]);
    expect(new Set(c.received.map((m) => m.context_id))).toEqual(new Set([s.contextId]));
    expect(c.received[0]).toMatchObject({
      model_id: "sonic-2",
      voice: { mode: "id", id: "voice-123" },
      language: "en",
      output_format: { container: "raw", encoding: "pcm_mulaw", sample_rate: 8000 },
    });
    expect(pcm).toEqual(concatInt16([viaUlaw("Hello there."), viaUlaw(" How can I help?")]));
    expect(s.state).toBe("done");
    expect(s.bytesReceived).toBe(pcm.length); // μ-law: one byte per sample
  });

  test("each server message is a pace point: a pacer tick due meanwhile goes before the rest of the loop turn", async () => {
    fake = startFakeCartesia({ chunkBytes: 400 });
    const s = tts().open({ signal: sig(), callId: "c" });
    let points = 0;
    const release = setPacePoint(() => points++);
    let chunks = 0;
    try {
      s.pushText("Hello there, this reply comes in several chunks.");
      s.end();
      chunks = (await collect(s.audio)).length;
    } finally {
      release();
    }
    expect(chunks).toBeGreaterThan(1);
    expect(points).toBeGreaterThanOrEqual(chunks); // one per audio chunk message, and one for "done"
  });

  test("pcm_s16le with chunks that split samples (odd byte counts) decodes exactly", async () => {
    fake = startFakeCartesia({ chunkBytes: 321 });
    const s = tts({ encoding: "pcm_s16le" }).open({ signal: sig(), callId: "c" });
    s.pushText("Odd chunk sizes.");
    s.end();
    const pcm = concatInt16(await collect(s.audio));
    expect(fake.connections[0].received[0].output_format).toEqual({ container: "raw", encoding: "pcm_s16le", sample_rate: 8000 });
    expect(pcm).toEqual(fakeSpeech("Odd chunk sizes."));
  });

  test("a call's turns share one socket (contexts multiplexed); another call gets its own", async () => {
    fake = startFakeCartesia();
    const p = tts();
    const a = p.open({ signal: sig(), callId: "A" });
    const b = p.open({ signal: sig(), callId: "A" });
    const other = p.open({ signal: sig(), callId: "B" });
    for (const s of [a, b, other]) {
      s.pushText("Hi.");
      s.end();
    }
    await Promise.all([collect(a.audio), collect(b.audio), collect(other.audio)]);
    expect(fake.connections).toHaveLength(2);
    expect(a.contextId).not.toBe(b.contextId);
    expect([...fake.connections[0].contexts.keys()].sort()).toEqual([a.contextId, b.contextId].sort());
    expect(p.openConnections).toBe(2);
    p.closeCall("A");
    await waitUntil(() => fake.connections[0].closed !== null, "call A socket closed");
    expect(fake.connections[0].closed?.code).toBe(1000);
    expect(p.openConnections).toBe(1);
  });

  test("cancel() on barge-in: sends {context_id, cancel:true}, audio ends at once, later chunks ignored", async () => {
    fake = startFakeCartesia({ chunkBytes: 160 });
    fake.setMode({ chunkDelayMs: 10 });
    const s = tts().open({ signal: sig(), callId: "c" });
    s.pushText("This is a long answer that the caller will interrupt before it is finished.");
    const it = s.audio[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    s.cancel();
    expect(await it.next()).toEqual({ value: undefined, done: true });
    await waitUntil(() => fake.connections[0].received.length === 2, "cancel at the fake");
    expect(fake.connections[0].received[1]).toEqual({ context_id: s.contextId, cancel: true });
    const ctx = fake.connections[0].contexts.get(s.contextId)!;
    const sentAtCancel = ctx.chunksSent;
    await Bun.sleep(40);
    expect(ctx.cancelled).toBe(true);
    expect(ctx.chunksSent).toBeLessThanOrEqual(sentAtCancel + 1); // at most one in flight
    expect(ctx.chunksSent).toBeLessThan(Math.ceil(fakeSpeech("x".repeat(78)).length / 160));
    expect(s.state).toBe("cancelled");
    s.cancel(); // idempotent
    s.pushText("ignored");
    expect(fake.connections[0].received).toHaveLength(2);
  });

  test("cancel() before the socket is open sends nothing for that context", async () => {
    fake = startFakeCartesia();
    const p = tts();
    const s = p.open({ signal: sig(), callId: "c" });
    s.pushText("never spoken");
    s.cancel();
    expect(await collect(s.audio)).toEqual([]);
    const t = p.open({ signal: sig(), callId: "c" });
    t.pushText("spoken");
    t.end();
    await collect(t.audio);
    expect(fake.connections[0].received.map((m) => m.context_id)).toEqual([t.contextId, t.contextId]);
  });

  test("the turn's AbortSignal cancels the context", async () => {
    fake = startFakeCartesia({ chunkBytes: 160 });
    fake.setMode({ chunkDelayMs: 10 });
    const ac = new AbortController();
    const s = tts().open({ signal: ac.signal, callId: "c" });
    s.pushText("Some words to say.");
    const it = s.audio[Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    expect((await it.next()).done).toBe(true);
    await waitUntil(() => fake.connections[0].received.some((m) => m.cancel === true), "cancel");
  });

  test("end() with no text ends audio without sending anything", async () => {
    fake = startFakeCartesia();
    const s = tts().open({ signal: sig(), callId: "c" });
    s.end();
    expect(await collect(s.audio)).toEqual([]);
    await Bun.sleep(10);
    expect(fake.connections[0]?.received ?? []).toEqual([]);
  });

  test("the fake's continuations: serial waits a fresh time to first audio after each transcript; overlap counts it from the transcript's arrival", async () => {
    const gaps: Record<string, number> = {};
    for (const continuations of ["serial", "overlap"] as const) {
      fake = startFakeCartesia();
      fake.setMode({ firstChunkDelayMs: 150, chunkDelayMs: 5, continuations });
      const s = tts().open({ signal: sig(), callId: "c" });
      s.pushText("Hello there."); // 12 characters: 480 μ-law bytes, two chunks
      s.pushText("How are you?"); // sent at once, as the LLM completed both
      s.end();
      const at: number[] = [];
      for await (const _ of s.audio) at.push(performance.now());
      gaps[continuations] = at[2]! - at[1]!; // sentence 1's last chunk → sentence 2's first
      await fake.close();
    }
    expect(gaps.serial).toBeGreaterThanOrEqual(140);
    expect(gaps.overlap).toBeLessThan(100);
  });

  test("time to first audio is recorded per context (FakeClock) and reported once", async () => {
    fake = startFakeCartesia();
    fake.setMode({ firstChunkDelayMs: 30 });
    const clock = new FakeClock(1000);
    const seen: FirstAudioInfo[] = [];
    const s = tts({ clock, onFirstAudio: (i) => seen.push(i) }).open({ signal: sig(), callId: "call-9" });
    s.pushText("Hello.");
    clock.advance(123); // the fake answers after 30 ms of real time; our clock says 123 ms passed
    s.end();
    await collect(s.audio);
    expect(s.firstTextAt).toBe(1000);
    expect(s.firstAudioAt).toBe(1123);
    expect(s.timeToFirstAudioMs).toBe(123);
    expect(seen).toEqual([{ callId: "call-9", contextId: s.contextId, firstTextAt: 1000, firstAudioAt: 1123, latencyMs: 123 }]);
  });

  test.each([
    [401, "auth", false],
    [403, "auth", false],
    [429, "rate_limited", true],
    [500, "unavailable", true],
  ] as const)("handshake HTTP %d → audio throws ProviderError %s (retryable %p)", async (status, code, retryable) => {
    fake = startFakeCartesia();
    fake.setMode({ rejectWith: status });
    const s = tts().open({ signal: sig(), callId: "c" });
    s.pushText("Hi.");
    s.end();
    const err = await collect(s.audio).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: "cartesia", kind: "tts", code, retryable, status });
    expect(err.message).not.toContain("test-key"); // the key is in the URL; never in messages
  });

  test("a wrong key is refused by the fake (401 → auth, key rejected)", async () => {
    fake = startFakeCartesia({ apiKey: "right" });
    const s = tts({ apiKey: "wrong" }).open({ signal: sig(), callId: "c" });
    s.pushText("Hi.");
    const err = await collect(s.audio).catch((e) => e);
    expect(err).toMatchObject({ code: "auth", retryable: false });
    expect(err.message).toContain("key rejected");
    expect(err.message).not.toContain("wrong");
  });

  test.each([
    [400, "bad_request", false],
    [429, "rate_limited", true],
    [500, "unavailable", true],
  ] as const)("error reply status_code %d for the context → %s", async (status, code, retryable) => {
    fake = startFakeCartesia();
    fake.setMode({ errorNext: { status, message: "Invalid voice", withContext: true } });
    const s = tts().open({ signal: sig(), callId: "c" });
    s.pushText("Hi.");
    const err = await collect(s.audio).catch((e) => e);
    expect(err).toMatchObject({ code, retryable, status });
    expect(s.state).toBe("failed");
  });

  test("an error reply without context_id fails every open context of the socket", async () => {
    fake = startFakeCartesia();
    fake.setMode({ errorNext: { status: 500, message: "internal", withContext: false } });
    const p = tts();
    const a = p.open({ signal: sig(), callId: "c" });
    const b = p.open({ signal: sig(), callId: "c" });
    a.pushText("one");
    const [ea, eb] = await Promise.all([collect(a.audio).catch((e) => e), collect(b.audio).catch((e) => e)]);
    expect(ea).toMatchObject({ code: "unavailable" });
    expect(eb).toMatchObject({ code: "unavailable" });
  });

  test("socket dropped mid-stream → audio throws 'unavailable' (retryable); the next turn reconnects", async () => {
    fake = startFakeCartesia({ chunkBytes: 160 });
    fake.setMode({ chunkDelayMs: 2, dropAfterChunks: 3 });
    const p = tts();
    const s = p.open({ signal: sig(), callId: "c" });
    s.pushText("A sentence long enough for several chunks.");
    s.end();
    const got: Int16Array[] = [];
    const err = await (async () => {
      for await (const x of s.audio) got.push(x);
    })().catch((e) => e);
    expect(got.length).toBe(3); // what arrived before the drop is still played
    expect(err).toMatchObject({ code: "unavailable", retryable: true, kind: "tts" });
    const t = p.open({ signal: sig(), callId: "c" });
    t.pushText("Again.");
    t.end();
    expect(concatInt16(await collect(t.audio))).toEqual(viaUlaw("Again."));
    expect(fake.connections).toHaveLength(2);
  });

  test("an idle call socket is closed after idleCloseMs (FakeClock); prepare() opens it early", async () => {
    fake = startFakeCartesia();
    const clock = new FakeClock();
    const p = tts({ clock, idleCloseMs: 30_000 });
    p.prepare("c");
    await waitUntil(() => fake.connections.length === 1, "socket opened by prepare()");
    const s = p.open({ signal: sig(), callId: "c" });
    s.pushText("Hi.");
    s.end();
    await collect(s.audio);
    clock.advance(29_999);
    await Bun.sleep(10);
    expect(fake.connections[0].closed).toBeNull();
    clock.advance(1);
    await waitUntil(() => fake.connections[0].closed !== null, "idle close");
    expect(p.openConnections).toBe(0);
    expect(fake.connections).toHaveLength(1);
  });
});

describe("Cartesia wire helpers", () => {
  test("decodeAudio s16le carries an odd byte across chunks", () => {
    const carry = { byte: null as number | null };
    const bytes = new Uint8Array([0x01, 0x02, 0x03, 0x04, 0xff, 0x7f]); // 0x0201, 0x0403, 0x7fff
    expect([...decodeAudio("pcm_s16le", bytes.subarray(0, 3), carry)]).toEqual([0x0201]);
    expect(carry.byte).toBe(0x03);
    expect([...decodeAudio("pcm_s16le", bytes.subarray(3), carry)]).toEqual([0x0403, 0x7fff]);
    expect(carry.byte).toBeNull();
  });

  test.each([
    ['{"type":"chunk","data":"AAEC","context_id":"x"}', { type: "chunk", contextId: "x", data: new Uint8Array([0, 1, 2]) }],
    ['{"type":"done","done":true,"context_id":"x"}', { type: "done", contextId: "x" }],
    ['{"type":"error","error":"Invalid model","status_code":400,"context_id":"x"}', { type: "error", contextId: "x", status: 400, message: "Invalid model" }],
    [
      '{"type":"error","title":"Invalid model","message":"The model is not valid","error_code":"model_not_found","status_code":400}',
      { type: "error", contextId: undefined, status: 400, message: "Invalid model: The model is not valid: model_not_found" },
    ],
    ['{"type":"timestamps","context_id":"x","word_timestamps":{}}', { type: "other", contextId: "x", kind: "timestamps" }],
    ["not json", null],
    ["[1,2]", { type: "other", contextId: undefined, kind: "(none)" }],
  ])("parseReply(%s)", (text, expected) => {
    expect(parseReply(text)).toEqual(expected as never);
  });
});
