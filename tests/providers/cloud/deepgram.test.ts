import { afterEach, describe, expect, test } from "bun:test";
import { DeepgramStt } from "../../../src/providers/deepgram/provider";
import type { DeepgramStream } from "../../../src/providers/deepgram/stream";
import { ProviderError, type SttEvent } from "../../../src/providers/types";
import { FakeClock } from "../../../src/util/clock";
import { startFakeDeepgram, type FakeDeepgram } from "../../fakes/deepgram";
import { concat, run, toFrames, ULAW_SILENCE } from "../../fakes/g711-frames";
import { waitUntil } from "../../fakes/wait";
import { setPacePoint } from "../../../src/util/pace-point";

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

/** A provider sending one binary message per 20 ms frame (chunkMs 20), which these tests count; chunking has its own tests. */
function stt(extra: Partial<ConstructorParameters<typeof DeepgramStt>[0]> = {}): DeepgramStt {
  return new DeepgramStt({ apiKey: "test-key", baseUrl: fake.url, chunkMs: 20, ...extra });
}

async function openStream(p: DeepgramStt, codec: "PCMU" | "PCMA" = "PCMU", signal = new AbortController().signal) {
  const s = await p.open({ callId: "c1", signal, codec });
  streams.push(s);
  return s;
}

/** Reads events into an array in the background. */
function drain(s: DeepgramStream): { events: SttEvent[]; done: Promise<void> } {
  const events: SttEvent[] = [];
  const done = (async () => {
    for await (const e of s.events) events.push(e);
  })();
  return { events, done };
}

const finals = (evs: SttEvent[]): string[] => evs.flatMap((e) => (e.type === "final" && e.text ? [e.text] : []));

describe("Deepgram streaming STT against the local fake", () => {
  test("handshake: Token auth, μ-law 8 kHz mono, model and feature params; payload bytes sent unchanged", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const s = await openStream(stt({ model: "nova-2-phonecall", endpointingMs: 250 }));
    const audio = concat([run(HELLO, 200), run(ULAW_SILENCE, 100)]);
    for (const f of toFrames(audio)) s.push(f);
    await waitUntil(() => fake.connections[0]?.binary.length === 15, "audio at the fake");
    const c = fake.connections[0];
    expect(c.path).toBe("/v1/listen");
    expect(c.headers.authorization).toBe("Token test-key");
    expect(c.params).toMatchObject({
      model: "nova-2-phonecall",
      encoding: "mulaw",
      sample_rate: "8000",
      channels: "1",
      interim_results: "true",
      endpointing: "250",
      utterance_end_ms: "1000",
      vad_events: "true",
      smart_format: "true",
    });
    expect(fake.audioOf(c)).toEqual(audio); // no decode, no resample: the RTP payload itself
    expect(c.binary[0].length).toBe(160); // one 20 ms frame per binary message
  });

  test("PCMA frames open the stream with encoding=alaw", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const s = await openStream(stt(), "PCMA");
    const audio = run(0xd5, 40);
    for (const f of toFrames(audio, "PCMA")) s.push(f);
    s.push(toFrames(run(ULAW_SILENCE, 20), "PCMU")[0]); // wrong law for this stream: dropped, counted
    await waitUntil(() => fake.connections[0]?.binary.length === 2, "audio");
    expect(fake.connections[0].params.encoding).toBe("alaw");
    expect(fake.audioOf(fake.connections[0])).toEqual(audio);
    expect(s.stats.codecMismatches).toBe(1);
  });

  test("Results map to interim/final(speechFinal) events, UtteranceEnd to utterance_end", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const s = await openStream(stt({ endpointingMs: 300 }));
    const d = drain(s);
    const audio = concat([run(HELLO, 200), run(ULAW_SILENCE, 60), run(WORLD, 200), run(ULAW_SILENCE, 1200)]);
    for (const f of toFrames(audio)) s.push(f);
    await waitUntil(() => d.events.some((e) => e.type === "utterance_end"), "utterance_end");
    expect(d.events).toEqual([
      { type: "interim", text: "hello" },
      { type: "interim", text: "hello world" },
      { type: "final", text: "hello world", speechFinal: true, confidence: 0.98 },
      { type: "utterance_end" },
    ]);
    expect(s.stats.speechStarted).toBe(2);
  });

  test("each server message is a pace point: a pacer tick due meanwhile goes before the rest of the loop turn", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const s = await openStream(stt({ endpointingMs: 300 }));
    const d = drain(s);
    let points = 0;
    const release = setPacePoint(() => points++);
    try {
      for (const f of toFrames(concat([run(HELLO, 200), run(ULAW_SILENCE, 1200)]))) s.push(f);
      await waitUntil(() => d.events.some((e) => e.type === "utterance_end"), "utterance_end");
    } finally {
      release();
    }
    expect(points).toBeGreaterThanOrEqual(d.events.length); // interim, final, utterance_end: one message each at least
  });

  test("flush() sends Finalize; the from_finalize result is a final without speechFinal, marked fromFinalize", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const s = await openStream(stt());
    const d = drain(s);
    for (const f of toFrames(concat([run(AGAIN, 200), run(ULAW_SILENCE, 20)]))) s.push(f);
    await waitUntil(() => d.events.length === 1, "interim");
    s.flush();
    await waitUntil(() => d.events.length === 2, "final");
    expect(fake.connections[0].text).toEqual(['{"type":"Finalize"}']);
    expect(d.events[1]).toEqual({ type: "final", text: "again", speechFinal: false, confidence: 0.98, fromFinalize: true });
  });

  test("an empty from_finalize answer is still reported (the Finalize round trip is over)", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const s = await openStream(stt());
    const d = drain(s);
    s.flush();
    fake.inject({
      type: "Results",
      channel_index: [0, 1],
      start: 0,
      duration: 0.1,
      is_final: true,
      speech_final: false,
      from_finalize: true,
      channel: { alternatives: [{ transcript: "", confidence: 0, words: [] }] },
    });
    await waitUntil(() => d.events.length === 1, "final");
    expect(d.events[0]).toEqual({ type: "final", text: "", speechFinal: false, fromFinalize: true });
  });

  test("end() sends CloseStream, delivers the last final, waits for the server's close, ends events", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const s = await openStream(stt());
    const d = drain(s);
    for (const f of toFrames(concat([run(THERE, 200), run(ULAW_SILENCE, 20)]))) s.push(f);
    await waitUntil(() => fake.connections[0]?.binary.length === 11, "audio");
    await s.end();
    await d.done;
    const c = fake.connections[0];
    expect(c.text).toEqual(['{"type":"CloseStream"}']);
    expect(c.closed?.code).toBe(1000);
    expect(finals(d.events)).toEqual(["there"]);
    expect(s.state).toBe("closed");
    expect(s.stats.requestIds.length).toBe(1); // the closing Metadata
    s.push(toFrames(run(HELLO, 20))[0]); // ignored after end
    s.close(); // idempotent
  });

  test("end() is bounded by endTimeoutMs when the server never closes (FakeClock)", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const clock = new FakeClock();
    const s = await openStream(stt({ clock, endTimeoutMs: 2000 }));
    fake.setMode({ replyDelayMs: 60_000 }); // the server's answers (and its close) never come in time
    let ended = false;
    const p = s.end().then(() => (ended = true));
    await waitUntil(() => fake.connections[0].text.length === 1, "CloseStream");
    clock.advance(1999);
    await Bun.sleep(5);
    expect(ended).toBe(false);
    clock.advance(1);
    await p;
    expect(s.state).toBe("closed");
  });

  test("KeepAlive after keepAliveMs without audio, never while audio flows (FakeClock)", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const clock = new FakeClock();
    const s = await openStream(stt({ clock, keepAliveMs: 4000 }));
    const frame = toFrames(run(ULAW_SILENCE, 20))[0];
    for (let t = 0; t < 10_000; t += 20) {
      clock.advance(20);
      s.push(frame); // last frame at t = 10000
    }
    await waitUntil(() => fake.connections[0].binary.length === 500, "audio");
    expect(fake.connections[0].text).toEqual([]);
    clock.advance(3999);
    await Bun.sleep(10);
    expect(fake.connections[0].text).toEqual([]);
    clock.advance(1);
    await waitUntil(() => fake.connections[0].text.length === 1, "KeepAlive");
    expect(fake.connections[0].text[0]).toBe('{"type":"KeepAlive"}');
    clock.advance(4000);
    await waitUntil(() => fake.connections[0].text.length === 2, "second KeepAlive");
    expect(s.stats.keepAlives).toBe(2);
  });

  test.each([
    [401, "auth", false],
    [403, "auth", false],
    [429, "rate_limited", true],
    [500, "unavailable", true],
    [503, "unavailable", true],
    [400, "bad_request", false],
  ] as const)("handshake HTTP %d → ProviderError %s (retryable %p)", async (status, code, retryable) => {
    fake = startFakeDeepgram();
    fake.setMode({ rejectWith: status });
    const err = await stt()
      .open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: "deepgram", kind: "stt", code, retryable, status });
    if (status === 401) expect(err.message).toContain("key rejected");
  });

  test("a wrong key is rejected by the fake's own auth check (401, key rejected)", async () => {
    fake = startFakeDeepgram({ apiKey: "right" });
    const err = await new DeepgramStt({ apiKey: "wrong", baseUrl: fake.url })
      .open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" })
      .catch((e) => e);
    expect(err).toMatchObject({ code: "auth", retryable: false, status: 401 });
  });

  test("connection refused → unavailable, retryable", async () => {
    fake = startFakeDeepgram();
    const url = fake.url;
    await fake.close();
    const err = await new DeepgramStt({ apiKey: "k", baseUrl: url })
      .open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" })
      .catch((e) => e);
    expect(err).toMatchObject({ code: "unavailable", retryable: true });
  });

  test("handshake timeout (slow server) → timeout error (FakeClock)", async () => {
    fake = startFakeDeepgram();
    fake.setMode({ handshakeDelayMs: 2000 });
    const clock = new FakeClock();
    const p = stt({ clock, connectTimeoutMs: 500 })
      .open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" })
      .catch((e) => e);
    clock.advance(500);
    expect(await p).toMatchObject({ code: "timeout", retryable: true });
  });

  test("an aborted signal closes the stream and ends events", async () => {
    fake = startFakeDeepgram();
    const ac = new AbortController();
    const s = await openStream(stt(), "PCMU", ac.signal);
    const d = drain(s);
    ac.abort();
    await d.done;
    expect(s.state).toBe("closed");
    await waitUntil(() => fake.connections[0].closed !== null, "server saw close");
    expect(fake.connections[0].closed?.code).toBe(1000);
  });

  test("a rejecting close (1008 DATA-0000) is an error event, no reconnect", async () => {
    fake = startFakeDeepgram();
    const s = await openStream(stt());
    const d = drain(s);
    s.push({ payload: new Uint8Array(0), pcm: new Int16Array(0), codec: "PCMU" }); // skipped by push()
    (s as unknown as { ws: WebSocket }).ws.send(new Uint8Array(0)); // force the fake's rejection
    await d.done;
    expect(d.events).toHaveLength(1);
    const e = d.events[0];
    expect(e.type).toBe("error");
    if (e.type === "error") expect(e.error).toMatchObject({ code: "bad_request", retryable: false });
    expect(fake.connections).toHaveLength(1);
  });
});

describe("Deepgram reconnect with replay", () => {
  // hello(200) gap(60) world(200) silence(400) | again(200) gap(60) there(200) silence(400)
  const utterance1 = concat([run(HELLO, 200), run(ULAW_SILENCE, 60), run(WORLD, 200), run(ULAW_SILENCE, 400)]);
  const utterance2 = concat([run(AGAIN, 200), run(ULAW_SILENCE, 60), run(THERE, 200), run(ULAW_SILENCE, 400)]);

  test("socket dropped mid-utterance: audio since the last final is replayed, no word lost or repeated", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const clock = new FakeClock();
    const s = await openStream(stt({ clock, reconnectBackoffMs: [100] }));
    const d = drain(s);
    const f1 = toFrames(utterance1); // 43 frames
    const f2 = toFrames(utterance2);
    for (const f of f1) s.push(f);
    await waitUntil(() => finals(d.events).length === 1, "first final");
    // Drop the socket 14 frames (280 ms) into the second utterance: "again" heard, no final yet.
    const dropAt = 14;
    for (let i = 0; i < dropAt; i++) s.push(f2[i]);
    await waitUntil(() => fake.connections[0].binary.length === f1.length + dropAt, "frames before drop");
    const srvConn = fake.connections[0];
    expect(d.events.at(-1)).toEqual({ type: "interim", text: "again" });
    fake.drop(srvConn, "terminate"); // no close frame: the client sees 1006
    await waitUntil(() => s.state === "reconnecting", "reconnecting");
    // Audio keeps arriving while we are disconnected; it must not be lost either.
    for (let i = dropAt; i < dropAt + 5; i++) s.push(f2[i]);
    clock.advance(99);
    await Bun.sleep(10);
    expect(fake.connections).toHaveLength(1); // backoff not yet elapsed
    clock.advance(1);
    await waitUntil(() => s.state === "open" && fake.connections.length === 2, "reconnected");
    for (let i = dropAt + 5; i < f2.length; i++) s.push(f2[i]);
    await waitUntil(() => finals(d.events).length === 2, "second final");
    const c2 = fake.connections[1];
    // The new connection got exactly the audio after the first final: utterance 2 from its start,
    // except what the first final's range already covered (its range ends where the fake finalised).
    const firstFinalEnd = Math.round(((srvConn.sent.find((m) => m.is_final) as any).start + (srvConn.sent.find((m) => m.is_final) as any).duration) * 8000);
    const all = concat([utterance1, utterance2]);
    expect(fake.audioOf(c2)).toEqual(all.subarray(firstFinalEnd));
    expect(s.stats.reconnects).toBe(1);
    expect(s.stats.replayedBytes).toBe(all.length - firstFinalEnd - (f2.length - dropAt - 5) * 160);
    expect(finals(d.events)).toEqual(["hello world", "again there"]);
    expect(c2.headers.authorization).toBe("Token test-key");
    expect(c2.params).toEqual(srvConn.params);
  });

  test("fake drops the next connection after N frames; words before and after survive", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    // The fake closes the connection (1011 NET-0000) after 18 frames (360 ms), in the middle of "world".
    fake.setMode({ dropNextAfterBinary: 18, dropHow: "close1011" });
    const s = await openStream(stt({ reconnectBackoffMs: [0] }));
    const d = drain(s);
    const all = concat([utterance1, utterance2]);
    for (const f of toFrames(all)) {
      s.push(f);
      await Bun.sleep(0);
    }
    await waitUntil(() => finals(d.events).length === 2, "two finals");
    expect(fake.connections[0].dropped).toBe(true);
    expect(fake.connections[0].closed?.code).toBe(1011);
    expect(finals(d.events)).toEqual(["hello world", "again there"]);
    // Nothing was final before the drop, so the second connection received the whole call's audio.
    expect(fake.audioOf(fake.connections[1])).toEqual(all);
  });

  test("reconnect attempts are bounded; then an error event, retryable (FakeClock backoff)", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const clock = new FakeClock();
    const s = await openStream(stt({ clock, maxReconnectAttempts: 3, reconnectBackoffMs: [0, 200, 800] }));
    const d = drain(s);
    fake.setMode({ rejectWith: 503 });
    fake.drop();
    await waitUntil(() => s.state === "reconnecting", "reconnecting");
    clock.advance(0);
    await waitUntil(() => fake.refused.length === 1, "attempt 1");
    clock.advance(199);
    await Bun.sleep(10);
    expect(fake.refused.length).toBe(1);
    clock.advance(1);
    await waitUntil(() => fake.refused.length === 2, "attempt 2");
    clock.advance(800);
    await waitUntil(() => fake.refused.length === 3, "attempt 3");
    await d.done;
    const last = d.events.at(-1)!;
    expect(last.type).toBe("error");
    if (last.type === "error") {
      expect(last.error).toMatchObject({ code: "unavailable", retryable: true, kind: "stt" });
      expect(last.error.message).toContain("3 reconnect attempts failed");
    }
    expect(s.state).toBe("closed");
  });

  test("401 on reconnect stops at once with a non-retryable auth error", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const s = await openStream(stt({ reconnectBackoffMs: [0] }));
    const d = drain(s);
    fake.setMode({ rejectWith: 401 });
    fake.drop();
    await d.done;
    expect(fake.refused).toEqual([401]);
    const e = d.events.at(-1)!;
    expect(e.type === "error" && e.error.code).toBe("auth");
  });

  test("flush() and end() during a reconnect are carried out on the new socket", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const clock = new FakeClock();
    const s = await openStream(stt({ clock, reconnectBackoffMs: [50] }));
    const d = drain(s);
    for (const f of toFrames(concat([run(HELLO, 200), run(ULAW_SILENCE, 20)]))) s.push(f);
    await waitUntil(() => fake.connections[0].binary.length === 11, "audio");
    fake.drop();
    await waitUntil(() => s.state === "reconnecting", "reconnecting");
    s.flush();
    const ended = s.end();
    clock.advance(50);
    await ended;
    await d.done;
    expect(fake.connections[1].text).toEqual(['{"type":"Finalize"}', '{"type":"CloseStream"}']);
    expect(finals(d.events)).toEqual(["hello"]);
  });
});


describe("Deepgram stall watchdog", () => {
  /** Pushes `frames` 20 ms apart on the fake clock. */
  const pushTimed = (s: DeepgramStream, clock: FakeClock, frames: ReturnType<typeof toFrames>) => {
    for (const f of frames) {
      clock.advance(20);
      s.push(f);
    }
  };

  test("a socket that takes speech and answers nothing for stallTimeoutMs is reconnected with replay; the words arrive", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    fake.setMode({ muteNext: true }); // the first connection stays open and never answers
    const clock = new FakeClock();
    const s = await openStream(stt({ clock, stallTimeoutMs: 3000, reconnectBackoffMs: [0] }));
    const d = drain(s);
    const speech = toFrames(concat([run(HELLO, 200), run(WORLD, 200), run(ULAW_SILENCE, 400)]));
    pushTimed(s, clock, speech); // 0.8 s: nothing expected yet
    pushTimed(s, clock, toFrames(run(AGAIN, 2400))); // 3 s more of speech with no answer → stall
    await waitUntil(() => s.stats.stalls === 1, "the watchdog fired");
    clock.advance(0);
    await waitUntil(() => s.state === "open" && fake.connections.length === 2, "reconnected");
    expect(fake.connections[0].muted).toBe(true);
    expect(fake.connections[0].closed?.code).toBe(4000);
    pushTimed(s, clock, toFrames(run(ULAW_SILENCE, 600)));
    await waitUntil(() => finals(d.events).length >= 2, "finals from the new connection");
    expect(finals(d.events)).toEqual(["hello world", "again"]); // replayed from the start: nothing lost
    expect(s.stats.reconnects).toBe(1);
    expect(d.events.some((e) => e.type === "error")).toBe(false);
  });

  test("silence with no answer never trips it (no speech sent); 0 turns it off", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    fake.setMode({ muteNext: true });
    const clock = new FakeClock();
    const s = await openStream(stt({ clock, stallTimeoutMs: 2000 }));
    pushTimed(s, clock, toFrames(run(ULAW_SILENCE, 8000 * 5))); // 5 s of silence, no answer
    await Bun.sleep(20);
    expect(s.stats.stalls).toBe(0);
    expect(s.state).toBe("open");

    fake.setMode({ muteNext: true });
    const off = await openStream(stt({ clock, stallTimeoutMs: 0 }));
    pushTimed(off, clock, toFrames(run(HELLO, 8000 * 5)));
    await Bun.sleep(20);
    expect(off.stats.stalls).toBe(0);
  });

  test("a server that stalls every time: bounded by maxReconnectAttempts, then a retryable error event", async () => {
    fake = startFakeDeepgram({ vocabulary: VOCAB });
    const clock = new FakeClock();
    fake.setMode({ muteNext: true });
    const s = await openStream(stt({ clock, stallTimeoutMs: 1000, maxReconnectAttempts: 2, reconnectBackoffMs: [0] }));
    const d = drain(s);
    for (let round = 0; round < 3; round++) {
      fake.setMode({ muteNext: true }); // the next connection is stuck as well
      pushTimed(s, clock, toFrames(run(HELLO, 8000 * 1.2)));
      await waitUntil(() => s.stats.stalls === round + 1 || s.state === "closed", `stall ${round + 1}`);
      clock.advance(0);
      if (round < 2) await waitUntil(() => s.state === "open" || s.state === "closed", "reconnect");
    }
    await d.done;
    const last = d.events.at(-1)!;
    expect(last.type).toBe("error");
    if (last.type === "error") expect(last.error).toMatchObject({ kind: "stt", retryable: true });
    expect(s.state).toBe("closed");
  });
});
