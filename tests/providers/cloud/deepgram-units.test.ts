import { afterEach, describe, expect, test } from "bun:test";
import { encodeFrame } from "../../../src/media/g711";
import { parseServerMessage } from "../../../src/providers/deepgram/messages";
import { buildListenUrl } from "../../../src/providers/deepgram/options";
import { DeepgramStt } from "../../../src/providers/deepgram/provider";
import { ReplayBuffer } from "../../../src/providers/deepgram/replay-buffer";
import type { SttEvent } from "../../../src/providers/types";
import { startFakeDeepgram, type FakeDeepgram } from "../../fakes/deepgram";
import { concat, toFrames } from "../../fakes/g711-frames";
import { waitUntil } from "../../fakes/wait";

describe("ReplayBuffer", () => {
  test("tracks absolute offsets, trims after a final, copies its input", () => {
    const r = new ReplayBuffer(1000);
    const a = new Uint8Array(160).fill(1);
    r.append(a);
    a.fill(9); // caller reuses its buffer
    r.append(new Uint8Array(160).fill(2));
    expect([r.startByte, r.endByte, r.length]).toEqual([0, 320, 320]);
    r.trimBefore(200); // inside the second chunk
    expect([r.startByte, r.endByte, r.length]).toEqual([200, 320, 120]);
    expect(concat([...r.held()])).toEqual(new Uint8Array(120).fill(2));
    r.trimBefore(100); // already gone: no-op
    expect(r.startByte).toBe(200);
    r.trimBefore(10_000); // beyond the end: empties, offsets stay absolute
    expect([r.startByte, r.endByte, r.length]).toEqual([320, 320, 0]);
  });

  test("bounded: the oldest bytes are dropped and counted", () => {
    const r = new ReplayBuffer(400);
    for (let i = 0; i < 5; i++) r.append(new Uint8Array(160).fill(i));
    expect([r.startByte, r.endByte, r.length, r.droppedBytes]).toEqual([400, 800, 400, 400]);
    const held = concat([...r.held()]);
    expect(held[0]).toBe(2);
    expect(held.subarray(80)).toEqual(concat([new Uint8Array(160).fill(3), new Uint8Array(160).fill(4)]));
  });

  test("rejects a non-positive capacity", () => {
    expect(() => new ReplayBuffer(0)).toThrow(RangeError);
  });

  test("over minutes of frames, trims and overflows (crossing its storage blocks): holds exactly the bytes a plain list would", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const cap = 30_000;
    const r = new ReplayBuffer(cap);
    let model: Uint8Array = new Uint8Array(0);
    let start = 0;
    let total = 0;
    let dropped = 0;
    for (let k = 0; k < 6000; k++) {
      const len = rnd() < 0.05 ? Math.floor(rnd() * 9000) : 160; // now and then a large append
      const f = new Uint8Array(len).map((_, i) => (total + i) & 0xff);
      r.append(f);
      total += len;
      model = concat([model, f]);
      if (model.length > cap) {
        dropped += model.length - cap;
        start += model.length - cap;
        model = model.slice(model.length - cap);
      }
      if (rnd() < 0.03) {
        const to = start + Math.floor(rnd() * (model.length + 500)) - 100; // also before the start and past the end
        r.trimBefore(to);
        const n = Math.min(Math.max(0, to - start), model.length);
        start += n;
        model = model.slice(n);
      }
      if (k % 97 === 0 || k === 5999) {
        expect([r.startByte, r.endByte, r.length, r.droppedBytes]).toEqual([start, start + model.length, model.length, dropped]);
        expect(concat([...r.held()])).toEqual(model);
      }
    }
    expect(dropped).toBeGreaterThan(0);
  });
});

describe("parseServerMessage (Deepgram text frames)", () => {
  test.each([
    [
      '{"type":"Results","start":1.5,"duration":0.5,"is_final":true,"speech_final":true,"channel":{"alternatives":[{"transcript":"hi","confidence":0.9}]}}',
      { ok: true, msg: { type: "Results", start: 1.5, duration: 0.5, isFinal: true, speechFinal: true, fromFinalize: false, transcript: "hi", confidence: 0.9 } },
    ],
    [
      '{"type":"Results","is_final":true,"from_finalize":true,"channel":{"alternatives":[]}}',
      { ok: true, msg: { type: "Results", start: 0, duration: 0, isFinal: true, speechFinal: false, fromFinalize: true, transcript: "", confidence: undefined } },
    ],
    ['{"type":"UtteranceEnd","channel":[0,1],"last_word_end":2.1}', { ok: true, msg: { type: "UtteranceEnd", lastWordEnd: 2.1 } }],
    ['{"type":"SpeechStarted","channel":[0,1],"timestamp":0.3}', { ok: true, msg: { type: "SpeechStarted", timestamp: 0.3 } }],
    ['{"type":"Metadata","request_id":"r1","duration":3}', { ok: true, msg: { type: "Metadata", requestId: "r1", duration: 3 } }],
    ['{"type":"Error","description":"bad","message":"worse"}', { ok: true, msg: { type: "Error", message: "bad: worse" } }],
    ['{"type":"SomethingNew"}', { ok: true, msg: null, ignoredType: "SomethingNew" }],
    ['{"type":"Results"}', { ok: false, error: "Results without channel.alternatives" }],
    ["{oops", { ok: false, error: "not JSON" }],
    ["42", { ok: false, error: "not an object" }],
  ])("%s", (text, expected) => {
    expect(parseServerMessage(text)).toEqual(expected as never);
  });

  test("buildListenUrl: base URL path, language only when set, endpointing configurable", () => {
    const u = new URL(buildListenUrl({ apiKey: "k", baseUrl: "ws://h:1/", endpointingMs: 500, language: "en-US" }, "PCMU"));
    expect(u.origin + u.pathname).toBe("ws://h:1/v1/listen");
    expect(u.searchParams.get("endpointing")).toBe("500");
    expect(u.searchParams.get("language")).toBe("en-US");
    expect(new URL(buildListenUrl({ apiKey: "k" }, "PCMA")).host).toBe("api.deepgram.com");
    expect(new URL(buildListenUrl({ apiKey: "k" }, "PCMA")).searchParams.has("language")).toBe(false);
  });
});

describe("Deepgram stream edge cases and the fake's script recogniser", () => {
  let fake: FakeDeepgram;
  afterEach(async () => {
    await fake?.close();
  });

  test("an empty speech_final after a non-final segment is passed on as final('', speechFinal)", async () => {
    fake = startFakeDeepgram();
    const s = await new DeepgramStt({ apiKey: "test-key", baseUrl: fake.url }).open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" });
    const events: SttEvent[] = [];
    void (async () => {
      for await (const e of s.events) events.push(e);
    })();
    const results = (text: string, isFinal: boolean, speechFinal: boolean) => ({
      type: "Results",
      start: 0,
      duration: 1,
      is_final: isFinal,
      speech_final: speechFinal,
      channel: { alternatives: [{ transcript: text, confidence: 0.5 }] },
    });
    await waitUntil(() => fake.connections.length === 1 && fake.connections[0].closed === null, "connected");
    fake.inject(results("", true, true)); // empty and nothing open: dropped
    fake.inject(results("I want", true, false));
    fake.inject(results("", false, false)); // empty interim: dropped
    fake.inject(results("", true, true)); // ends the open segment
    fake.inject(results("", true, true)); // nothing open any more: dropped
    await waitUntil(() => events.length === 2, "two events");
    await Bun.sleep(20);
    expect(events).toEqual([
      { type: "final", text: "I want", speechFinal: false, confidence: 0.5 },
      { type: "final", text: "", speechFinal: true },
    ]);
    s.close();
  });

  test("script recogniser: each burst of speech followed by silence is the next scripted line", async () => {
    fake = startFakeDeepgram({ script: ["what are your opening hours", "thank you"] });
    const s = await new DeepgramStt({ apiKey: "test-key", baseUrl: fake.url, endpointingMs: 300 }).open({
      callId: "c",
      signal: new AbortController().signal,
      codec: "PCMU",
    });
    const events: SttEvent[] = [];
    const done = (async () => {
      for await (const e of s.events) events.push(e);
    })();
    const tone = (ms: number): Uint8Array => {
      const pcm = new Int16Array(ms * 8);
      for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / 8000));
      return encodeFrame(pcm, "PCMU");
    };
    const silence = (ms: number): Uint8Array => new Uint8Array(ms * 8).fill(0xff);
    for (const f of toFrames(concat([tone(600), silence(400), tone(300), silence(1200)]))) s.push(f);
    // 400 ms of silence ends the first line (endpointing 300) but is too short for UtteranceEnd (1000).
    await waitUntil(() => events.some((e) => e.type === "utterance_end"), "utterance end");
    await s.end();
    await done;
    expect(events.filter((e) => e.type === "final")).toEqual([
      { type: "final", text: "what are your opening hours", speechFinal: true, confidence: 0.98 },
      { type: "final", text: "thank you", speechFinal: true, confidence: 0.98 },
    ]);
    expect(events[0]).toEqual({ type: "interim", text: "what" });
    expect(events.filter((e) => e.type === "utterance_end")).toHaveLength(1);
    expect(events.at(-1)).toEqual({ type: "utterance_end" });
  });
});
