import { describe, expect, test } from "bun:test";
import { FakeLlm, FakeStt, FakeTts } from "../../../src/providers/fake/index.ts";
import { ProviderError, type AudioFrame, type LlmChunk, type SttEvent } from "../../../src/providers/types.ts";
import { FakeClock } from "../../../src/util/clock.ts";

const frame = (): AudioFrame => ({ pcm: new Int16Array(160), payload: new Uint8Array(160), codec: "PCMU" });
const final = (text: string): SttEvent => ({ type: "final", text, speechFinal: true });
/** Lets pending promise callbacks run. */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe("FakeStt", () => {
  test("emits scripted events after N frames, on flush, and when told; records frames", async () => {
    const stt = new FakeStt({ utterances: [{ afterFrames: 3, events: [final("hello")] }], onFlush: [{ type: "utterance_end" }] });
    const s = await stt.open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" });
    const seen: SttEvent[] = [];
    const reader = (async () => {
      for await (const e of s.events) seen.push(e);
    })();
    s.push(frame());
    s.push(frame());
    await settle();
    expect(seen).toEqual([]);
    s.push(frame());
    s.flush();
    stt.streams[0]!.emit(final("told"));
    await s.end();
    await reader;
    expect(seen).toEqual([final("hello"), { type: "utterance_end" }, final("told")]);
    expect(stt.streams[0]!.frames).toBe(3);
    expect(stt.streams[0]!.samples).toBe(480);
    expect(stt.streams[0]!.flushes).toBe(1);
  });

  test("openError rejects open(); an error event ends the stream; abort closes", async () => {
    const err = new ProviderError("fake-stt", "stt", "unavailable", "down", true);
    await expect(new FakeStt({ openError: err }).open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" })).rejects.toBe(err);
    const ac = new AbortController();
    const s = await new FakeStt().open({ callId: "c", signal: ac.signal, codec: "PCMU" });
    s.emit({ type: "error", error: err });
    s.emit(final("after error is dropped"));
    const got: SttEvent[] = [];
    for await (const e of s.events) got.push(e);
    expect(got).toEqual([{ type: "error", error: err }]);
    ac.abort();
    expect(s.closed).toBe(true);
  });
});

describe("FakeLlm", () => {
  test("replies in order (last repeats), word chunks, records requests", async () => {
    const llm = new FakeLlm({ replies: ["Hello there.", [{ type: "tool_call", name: "end_call", args: {} }]] });
    const run = async (text: string) => {
      const out: LlmChunk[] = [];
      for await (const c of llm.generate({ system: "s", history: [{ role: "user", text }], tools: [], signal: new AbortController().signal })) out.push(c);
      return out;
    };
    expect(await run("a")).toEqual([{ type: "text", text: "Hello " }, { type: "text", text: "there." }]);
    expect(await run("b")).toEqual([{ type: "tool_call", name: "end_call", args: {} }]);
    expect(await run("c")).toEqual([{ type: "tool_call", name: "end_call", args: {} }]);
    expect(llm.requests.map((r) => r.history[0]!.text)).toEqual(["a", "b", "c"]);
  });

  test("first-token and chunk delays run on the injected clock; abort during the delay throws", async () => {
    const clock = new FakeClock();
    const llm = new FakeLlm({ replies: ["one two"], firstTokenDelayMs: 300, chunkDelayMs: 50, clock });
    const it = llm.generate({ system: "", history: [], tools: [], signal: new AbortController().signal });
    let first: IteratorResult<LlmChunk> | null = null;
    void it.next().then((r) => (first = r));
    clock.advance(299);
    await settle();
    expect(first).toBeNull();
    clock.advance(1);
    await settle();
    expect(first!.value).toEqual({ type: "text", text: "one " });
    let second: IteratorResult<LlmChunk> | null = null;
    void it.next().then((r) => (second = r));
    clock.advance(49);
    await settle();
    expect(second).toBeNull();
    clock.advance(1);
    await settle();
    expect(second!.value).toEqual({ type: "text", text: "two" });

    const ac = new AbortController();
    const it2 = llm.generate({ system: "", history: [], tools: [], signal: ac.signal });
    const p = it2.next();
    ac.abort();
    const e = await p.catch((x) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.code).toBe("aborted");
    expect(clock.pending).toBe(0);
  });

  test("a ProviderError reply is thrown", async () => {
    const err = new ProviderError("fake-llm", "llm", "rate_limited", "slow down", true, 429);
    const llm = new FakeLlm({ replies: [err] });
    await expect(llm.generate({ system: "", history: [], tools: [], signal: new AbortController().signal }).next()).rejects.toBe(err);
  });
});

describe("FakeTts", () => {
  test("deterministic tone per text, 80 samples per character, records texts", async () => {
    const tts = new FakeTts();
    const s = tts.open({ signal: new AbortController().signal, callId: "c" });
    s.pushText("Hi.");
    s.pushText("Bye now.");
    s.end();
    const chunks: Int16Array[] = [];
    for await (const c of s.audio) chunks.push(c);
    expect(chunks.map((c) => c.length)).toEqual([240, 640]);
    expect(Array.from(chunks[0]!)).toEqual(Array.from(FakeTts.pcmFor("Hi.")));
    expect(Array.from(FakeTts.pcmFor("Hi."))).toEqual(Array.from(FakeTts.pcmFor("Hi.")));
    expect(Array.from(FakeTts.pcmFor("Hi."))).not.toEqual(Array.from(FakeTts.pcmFor("Ho.")));
    expect(tts.texts).toEqual(["Hi.", "Bye now."]);
    expect(tts.contexts[0]).toEqual({ callId: "c", texts: ["Hi.", "Bye now."], ended: true, cancelled: false });
  });

  test("delay on the clock before each chunk; cancel ends audio at once and is recorded", async () => {
    const clock = new FakeClock();
    const tts = new FakeTts({ delayMs: 100, clock });
    const s = tts.open({ signal: new AbortController().signal, callId: "c" });
    s.pushText("abc");
    s.pushText("never");
    const it = s.audio[Symbol.asyncIterator]();
    let r: IteratorResult<Int16Array> | null = null;
    void it.next().then((x) => (r = x));
    await settle();
    clock.advance(99);
    await settle();
    expect(r).toBeNull();
    clock.advance(1);
    await settle();
    expect(r!.value!.length).toBe(240);
    s.cancel();
    s.cancel();
    expect((await it.next()).done).toBe(true);
    expect(tts.cancels).toBe(1);
    await settle();
    expect(clock.pending).toBe(0);
  });

  test("abort signal cancels", async () => {
    const ac = new AbortController();
    const tts = new FakeTts();
    const s = tts.open({ signal: ac.signal, callId: "c" });
    ac.abort();
    s.pushText("x");
    const got: Int16Array[] = [];
    for await (const c of s.audio) got.push(c);
    expect(got).toEqual([]);
    expect(tts.contexts[0]!.cancelled).toBe(true);
  });
});
