/**
 * Deepgram audio in 200 ms messages (DeepgramOptions.chunkMs, default 200; src/providers/deepgram/stream.ts):
 * ten 20 ms frames per binary message, the bytes unchanged; what is held goes out before Finalize and
 * CloseStream; a reconnect replays the held audio exactly once.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { DEEPGRAM_DEFAULTS } from "../../../src/providers/deepgram/options";
import { DeepgramStt } from "../../../src/providers/deepgram/provider";
import type { DeepgramStream } from "../../../src/providers/deepgram/stream";
import type { SttEvent } from "../../../src/providers/types";
import { startFakeDeepgram, type FakeDeepgram } from "../../fakes/deepgram";
import { concat, run, toFrames, ULAW_SILENCE } from "../../fakes/g711-frames";
import { waitUntil } from "../../fakes/wait";

const HELLO = 0x10;
const WORLD = 0x11;
const AGAIN = 0x12;
const THERE = 0x13;
const VOCAB = { [HELLO]: "hello", [WORLD]: "world", [AGAIN]: "again", [THERE]: "there" };

let fake: FakeDeepgram;
const streams: DeepgramStream[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await fake?.close();
});

async function open(extra: Partial<ConstructorParameters<typeof DeepgramStt>[0]> = {}): Promise<{ s: DeepgramStream; events: SttEvent[] }> {
  const s = await new DeepgramStt({ apiKey: "test-key", baseUrl: fake.url, ...extra }).open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" });
  streams.push(s);
  const events: SttEvent[] = [];
  void (async () => {
    for await (const e of s.events) events.push(e);
  })();
  return { s, events };
}
const finals = (evs: SttEvent[]) => evs.flatMap((e) => (e.type === "final" && e.text ? [e.text] : []));

describe("Deepgram audio in 200 ms messages", () => {
  test("the default is 200 ms", () => {
    expect(DEEPGRAM_DEFAULTS.chunkMs).toBe(200);
  });

  test("23 frames: two messages of 1600 bytes go out, three frames wait; flush() sends them before Finalize", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const { s, events } = await open();
    const audio = concat([run(HELLO, 200), run(ULAW_SILENCE, 260)]); // 460 ms = 23 frames
    for (const f of toFrames(audio)) s.push(f);
    const c = () => fake.connections[0]!;
    await waitUntil(() => c()?.binary.length === 2, "two messages");
    await Bun.sleep(50);
    expect(c().binary.map((b) => b.length)).toEqual([1600, 1600]);
    expect(fake.audioOf(c())).toEqual(audio.subarray(0, 3200));
    s.flush();
    await waitUntil(() => c().text.some((t) => t.includes("Finalize")), "Finalize");
    // The held 60 ms arrived before the Finalize (one socket, in order): everything pushed is there.
    expect(c().binary.map((b) => b.length)).toEqual([1600, 1600, 480]);
    expect(fake.audioOf(c())).toEqual(audio);
    await waitUntil(() => finals(events).length === 1, "final");
    expect(finals(events)).toEqual(["hello"]);
    expect(s.stats.bytesSent).toBe(audio.length);
  });

  test("end(): the held audio goes out before CloseStream; the last words are delivered", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const { s, events } = await open();
    const audio = concat([run(HELLO, 200), run(ULAW_SILENCE, 60), run(WORLD, 200)]); // 23 frames, no trailing silence
    for (const f of toFrames(audio)) s.push(f);
    await s.end();
    expect(fake.audioOf(fake.connections[0]!)).toEqual(audio);
    expect(finals(events).join(" ")).toBe("hello world");
  });

  test("a drop mid-utterance: the new connection gets the held audio once (replay), no word lost or repeated", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    fake.setMode({ dropNextAfterBinary: 2, dropHow: "close1011" }); // after 400 ms, inside "world" (260–460 ms)
    const { s, events } = await open({ reconnectBackoffMs: [0] });
    const all = concat([
      run(HELLO, 200), run(ULAW_SILENCE, 60), run(WORLD, 200), run(ULAW_SILENCE, 400),
      run(AGAIN, 200), run(ULAW_SILENCE, 60), run(THERE, 200), run(ULAW_SILENCE, 400),
    ]);
    for (const f of toFrames(all)) {
      s.push(f);
      await Bun.sleep(0);
    }
    s.flush();
    await waitUntil(() => finals(events).length === 2, "two finals");
    expect(fake.connections[0]!.dropped).toBe(true);
    expect(finals(events)).toEqual(["hello world", "again there"]);
    // The held audio flushed last may still be on its way; then every byte is there exactly once.
    await waitUntil(() => fake.audioOf(fake.connections[1]!).length >= all.length, "all audio on the new connection");
    await Bun.sleep(50);
    expect(fake.audioOf(fake.connections[1]!)).toEqual(all);
  });
});
