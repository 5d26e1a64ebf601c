/**
 * The audio-output seam (src/media/audio-output.ts) as Playout implements it, driven by the real Pacer
 * on a fake clock: playback events, back-pressure at the high-water mark, clearBuffer.
 */
import { describe, expect, test } from "bun:test";
import { AUDIO_OUTPUT_HIGH_WATER_MS, type AudioOutput, type PlaybackFinishedEvent } from "../../src/media/audio-output.ts";
import { Playout } from "../../src/media/playout.ts";
import { Pacer } from "../../src/rtp/pacer.ts";
import { FakeClock } from "../../src/util/clock.ts";

const tone = (ms: number) => Int16Array.from({ length: ms * 8 }, (_, i) => (i % 2 === 0 ? 6000 : -6000));

function setup(opts: { maxQueuedMs?: number } = {}) {
  const clock = new FakeClock(0);
  const pacer = new Pacer({ clock });
  const frames: ("A" | "s")[] = [];
  const playout = new Playout({
    sink: { sendFrame: (p) => (frames.push(p.every((b) => b === 0xff) ? "s" : "A"), true) },
    codec: "PCMU",
    ...opts,
  });
  const events: string[] = [];
  const finished: PlaybackFinishedEvent[] = [];
  const output: AudioOutput = playout;
  output.listen({
    onPlaybackStarted: (e) => events.push(`started:${e.segmentId}@${clock.now()}`),
    onPlaybackFinished: (e) => {
      finished.push(e);
      events.push(`finished:${e.segmentId}@${clock.now()}`);
    },
  });
  pacer.add(playout);
  /** Advances fake time in 20 ms steps, letting promise callbacks run between ticks. */
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 20) {
      clock.advance(20);
      for (let i = 0; i < 3; i++) await Promise.resolve();
    }
  };
  return { clock, pacer, playout, output, frames, events, finished, run };
}

describe("AudioOutput seam (Playout on a fake-clock Pacer)", () => {
  test("events: started after the first frame went out, finished after the last, with playedMs", async () => {
    const s = setup();
    await s.output.captureFrame(tone(50));
    expect(s.output.capturingSegment).toBe(1);
    s.output.flush();
    expect(s.output.capturingSegment).toBe(0);
    await s.run(100);
    // 50 ms = 3 frames (the last padded): first frame at t=20, last at t=60.
    expect(s.events).toEqual(["started:1@20", "finished:1@60"]);
    expect(s.finished).toEqual([{ segmentId: 1, playedMs: 50, interrupted: false }]);
    expect(s.frames.slice(0, 4).join("")).toBe("AAAs");
    s.pacer.stop();
  });

  test("waitForPlayout resolves once the flushed segment's last frame was sent", async () => {
    const s = setup();
    void s.output.captureFrame(tone(100));
    s.output.flush();
    let doneAt = -1;
    void s.output.waitForPlayout().then(() => (doneAt = s.clock.now()));
    await s.run(200);
    expect(doneAt).toBe(100);
    s.pacer.stop();
  });

  test("back-pressure: captureFrame resolves only once less than 2 s is queued", async () => {
    expect(AUDIO_OUTPUT_HIGH_WATER_MS).toBe(2000);
    const s = setup();
    let first = false;
    void s.output.captureFrame(tone(1500)).then(() => (first = true));
    await Promise.resolve();
    expect(first).toBe(true); // 1.5 s queued: room left
    let second = -1;
    void s.output.captureFrame(tone(1000)).then(() => (second = s.clock.now()));
    await s.run(400);
    expect(second).toBe(-1); // 2.5 s − 0.4 s = 2.1 s still queued
    await s.run(200);
    // 2.5 s queued at t=0; below 2 s after 26 frames (520 ms) went out.
    expect(second).toBe(520);
    s.pacer.stop();
  });

  test("a producer that awaits captureFrame stays within the high-water mark plus one chunk", async () => {
    const s = setup();
    let maxQueued = 0;
    let produced = 0;
    const producer = (async () => {
      for (let i = 0; i < 100; i++) {
        await s.output.captureFrame(tone(100)); // 10 s in 100 ms chunks, as fast as allowed
        produced += 100;
        maxQueued = Math.max(maxQueued, s.output.queuedMs);
      }
      s.output.flush();
    })();
    await s.run(3000);
    expect(maxQueued).toBeLessThanOrEqual(AUDIO_OUTPUT_HIGH_WATER_MS + 100);
    expect(produced).toBeLessThan(10_000); // held back, not all queued at once
    await s.run(8500);
    await producer;
    expect(s.finished).toEqual([{ segmentId: 1, playedMs: 10_000, interrupted: false }]);
    expect(s.playout.overflowSamples).toBe(0);
    s.pacer.stop();
  });

  test("clearBuffer: interrupted event at once with what went out, no further audio frame, waiting producer released", async () => {
    const s = setup();
    void s.output.captureFrame(tone(1000));
    let released = false;
    void s.output.captureFrame(tone(2000)).then(() => (released = true));
    let drained = false;
    void s.output.waitForPlayout().then(() => (drained = true));
    await s.run(300); // 15 frames sent
    expect(s.output.isPlaying).toBe(true);
    const audioBefore = s.frames.filter((f) => f === "A").length;
    s.output.clearBuffer();
    expect(s.finished).toEqual([{ segmentId: 1, playedMs: 300, interrupted: true }]);
    expect(s.output.isPlaying).toBe(false);
    expect(s.output.queuedMs).toBe(0);
    await Promise.resolve();
    expect(released).toBe(true);
    expect(drained).toBe(true);
    await s.run(200);
    // Held in 20 ms frames: the frame already sent is the last the caller hears; nothing more is lost or sent.
    expect(audioBefore).toBe(15);
    expect(s.frames.filter((f) => f === "A").length).toBe(audioBefore);
    expect(s.frames.slice(-10).every((f) => f === "s")).toBe(true);
    // A new segment after the clear.
    void s.output.captureFrame(tone(20));
    expect(s.output.capturingSegment).toBe(2);
    s.pacer.stop();
  });

  test("overflow rule drop-newest: above maxQueuedMs samples are dropped and counted, queued audio kept", async () => {
    const s = setup({ maxQueuedMs: 100 });
    void s.output.captureFrame(tone(60));
    void s.output.captureFrame(tone(100));
    expect(s.output.queuedMs).toBe(100);
    expect(s.playout.overflowSamples).toBe(60 * 8);
    s.output.flush();
    await s.run(200);
    expect(s.finished[0]).toEqual({ segmentId: 1, playedMs: 100, interrupted: false });
    s.pacer.stop();
  });

  test("listen returns an unsubscribe", async () => {
    const s = setup();
    const seen: number[] = [];
    const off = s.output.listen({ onPlaybackStarted: (e) => seen.push(e.segmentId) });
    void s.output.captureFrame(tone(20));
    s.output.flush();
    await s.run(40);
    off();
    void s.output.captureFrame(tone(20));
    s.output.flush();
    await s.run(40);
    expect(seen).toEqual([1]);
    expect(s.events.filter((e) => e.startsWith("started"))).toHaveLength(2);
    s.pacer.stop();
  });
});
