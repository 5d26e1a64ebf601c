/**
 * The pure parts of the Deepgram stream, alone: the transcript-segment rules (which Results give
 * which SttEvent), the stall watchdog, the keep-alive timer and the reconnect budget, on a fake clock.
 * The stream itself is tested against the fake server in deepgram.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { encodeFrame } from "../../../src/media/g711";
import type { DgResults } from "../../../src/providers/deepgram/messages";
import { TranscriptSegments } from "../../../src/providers/deepgram/results";
import { STALL_MIN_SPEECH_MS, STALL_SPEECH_LEVEL, StallWatchdog } from "../../../src/providers/deepgram/stall-watchdog";
import { FakeClock } from "../../../src/util/clock";
import { KeepAlive } from "../../../src/providers/deepgram/keep-alive";
import { ReconnectBudget } from "../../../src/providers/deepgram/reconnect-budget";
import { ProviderError } from "../../../src/providers/types";

const results = (o: Partial<DgResults>): DgResults => ({
  type: "Results",
  start: 0,
  duration: 1,
  isFinal: true,
  speechFinal: false,
  fromFinalize: false,
  transcript: "",
  ...o,
});

describe("TranscriptSegments", () => {
  test("interim, final, from_finalize and the empty finals that matter", () => {
    const seg = new TranscriptSegments();
    expect(seg.results(results({ isFinal: false, transcript: " a table " }))).toEqual({ type: "interim", text: "a table" });
    expect(seg.results(results({ isFinal: false, transcript: "  " }))).toBeUndefined();
    // An empty speech_final with no open segment says nothing new.
    expect(seg.results(results({ speechFinal: true }))).toBeUndefined();
    expect(seg.results(results({ transcript: "a table for two", confidence: 0.9 }))).toEqual({
      type: "final",
      text: "a table for two",
      speechFinal: false,
      confidence: 0.9,
    });
    // …now a segment is open: the empty speech_final ends it, once.
    expect(seg.results(results({ speechFinal: true }))).toEqual({ type: "final", text: "", speechFinal: true });
    expect(seg.results(results({ speechFinal: true }))).toBeUndefined();
    // The answer to our Finalize counts even when empty.
    expect(seg.results(results({ fromFinalize: true }))).toEqual({ type: "final", text: "", speechFinal: false, fromFinalize: true });
    expect(seg.results(results({ transcript: "please", fromFinalize: true }))).toMatchObject({ text: "please", fromFinalize: true });
  });

  test("UtteranceEnd closes an open segment", () => {
    const seg = new TranscriptSegments();
    seg.results(results({ transcript: "hello" }));
    expect(seg.utteranceEnd()).toEqual({ type: "utterance_end" });
    expect(seg.results(results({ speechFinal: true }))).toBeUndefined();
  });
});

describe("StallWatchdog", () => {
  const frame = (level: number) => encodeFrame(new Int16Array(160).fill(level), "PCMU"); // 20 ms
  const speech = frame(4 * STALL_SPEECH_LEVEL);
  const quiet = frame(10);

  test("a stall is silence for the limit while at least STALL_MIN_SPEECH_MS of speech went out", () => {
    const clock = new FakeClock();
    const dog = new StallWatchdog(clock, "PCMU", 3000);
    // 4 s of line noise: no stall, however long the server is silent.
    for (let t = 0; t < 4000; t += 20, clock.advance(20)) expect(dog.sent(quiet)).toBeUndefined();
    // Speech: reported once both the time and the speech are there.
    let stall;
    let sentMs = 0;
    while (!(stall = dog.sent(speech))) {
      sentMs += 20;
      clock.advance(20);
      expect(sentMs).toBeLessThan(5000);
    }
    expect(stall.speechMs).toBe(STALL_MIN_SPEECH_MS);
    expect(stall.silentForMs).toBeGreaterThanOrEqual(3000);
  });

  test("anything heard starts over; limit 0 is off", () => {
    const clock = new FakeClock();
    const dog = new StallWatchdog(clock, "PCMU", 1000);
    for (let i = 0; i < 200; i++) {
      clock.advance(20);
      if (i % 40 === 0) dog.heard();
      expect(dog.sent(speech)).toBeUndefined();
    }
    const off = new StallWatchdog(clock, "PCMU", 0);
    clock.advance(60_000);
    for (let i = 0; i < 100; i++) expect(off.sent(speech)).toBeUndefined();
  });
});

describe("KeepAlive", () => {
  test("sent once the interval passed with nothing sent, counted from the last send; stops when not open", () => {
    const clock = new FakeClock();
    let open = true;
    const at: number[] = [];
    const ka = new KeepAlive(clock, 5000, () => open, () => (at.push(clock.now()), ka.sent()));
    ka.arm();
    clock.advance(3000);
    ka.sent(); // audio at 3 s: the next keep-alive is due at 8 s, not 5 s
    clock.advance(9000);
    expect(at).toEqual([8000]);
    open = false; // dropped: the timer stops by itself…
    clock.advance(20_000);
    expect(at).toEqual([8000]);
    expect(clock.pending).toBe(0);
    open = true; // …and a reconnect re-arms it, after its replay went out
    ka.sent();
    ka.arm();
    clock.advance(5000);
    expect(at).toEqual([8000, 37_000]);
    ka.stop();
    clock.advance(20_000);
    expect(at).toHaveLength(2);
  });
});

describe("ReconnectBudget", () => {
  const src = { provider: "deepgram", kind: "stt" } as const;
  const drop = new ProviderError("deepgram", "stt", "unavailable", "deepgram: WebSocket closed 1006", true, 503);

  test("the backoff per attempt (its last value repeated), then a retryable error naming the attempts", () => {
    const b = new ReconnectBudget(4, [100, 300], src);
    expect([b.next(drop), b.next(drop), b.next(drop), b.next(drop)]).toEqual([{ delayMs: 100 }, { delayMs: 300 }, { delayMs: 300 }, { delayMs: 300 }]);
    const out = b.next(drop);
    expect("error" in out).toBe(true);
    const err = (out as { error: ProviderError }).error;
    expect(err.code).toBe("unavailable");
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(503);
    expect(err.cause).toBe(drop);
    expect(err.message).toBe("deepgram: connection lost, 4 reconnect attempts failed (deepgram: WebSocket closed 1006)");
  });

  test("reset gives the whole budget again; no backoff list means no wait; max 0 gives up at once", () => {
    const b = new ReconnectBudget(2, [], src);
    expect(b.next(drop)).toEqual({ delayMs: 0 });
    expect(b.next(drop)).toEqual({ delayMs: 0 });
    b.reset();
    expect(b.next(drop)).toEqual({ delayMs: 0 });
    expect("error" in new ReconnectBudget(0, [100], src).next(drop)).toBe(true);
  });
});
