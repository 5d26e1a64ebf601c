/**
 * The audio-output seam's pause/resume (src/media/audio-output.ts, Playout): on the real Pacer and a
 * fake clock, with every 20 ms frame of the reply distinct, so a frame lost, repeated or reordered by a
 * pause shows in the bytes sent.
 */
import { describe, expect, test } from "bun:test";
import type { PlaybackFinishedEvent } from "../../src/media/audio-output.ts";
import { Playout } from "../../src/media/playout.ts";
import { Pacer } from "../../src/rtp/pacer.ts";
import { FakeClock } from "../../src/util/clock.ts";

const FRAMES = 24;
/** 24 frames of 160 samples, frame i at a constant level of its own (μ-law: one distinct byte each). */
const reply = Int16Array.from({ length: FRAMES * 160 }, (_, n) => (Math.floor(n / 160) + 1) * 150);

function setup() {
  const clock = new FakeClock(0);
  const pacer = new Pacer({ clock });
  const sent: Array<{ byte: number; marker: boolean; at: number }> = [];
  let paused = 0;
  const playout = new Playout({
    sink: { sendFrame: (p, marker) => (sent.push({ byte: p[0]!, marker, at: clock.now() }), true) },
    codec: "PCMU",
    onPaused: () => paused++,
  });
  const events: string[] = [];
  const finished: PlaybackFinishedEvent[] = [];
  playout.listen({
    onPlaybackStarted: (e) => events.push(`started:${e.segmentId}@${clock.now()}`),
    onPlaybackFinished: (e) => (finished.push(e), events.push(`finished:${e.segmentId}@${clock.now()}`)),
  });
  pacer.add(playout);
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 20) {
      clock.advance(20);
      for (let i = 0; i < 3; i++) await Promise.resolve();
    }
  };
  const SILENCE = 0xff;
  const audio = () => sent.filter((f) => f.byte !== SILENCE);
  return { clock, pacer, playout, sent, audio, events, finished, run, paused: () => paused };
}

describe("AudioOutput pause/resume (Playout on a fake-clock Pacer)", () => {
  test("a pause sends silence and keeps the queue; resume goes on from the same frame: every frame once, in order", async () => {
    const s = setup();
    void s.playout.captureFrame(reply);
    s.playout.flush();
    await s.run(100); // frames 0–4 went out (t = 20…100)
    expect(s.audio()).toHaveLength(5);
    s.playout.pause();
    expect(s.playout.isPaused).toBe(true);
    expect(s.playout.isPlaying).toBe(false);
    expect(s.paused()).toBe(1);
    await s.run(400); // 20 ticks of silence
    expect(s.audio()).toHaveLength(5);
    expect(s.sent.slice(-20).every((f) => f.byte === 0xff)).toBe(true);
    expect(s.playout.queuedMs).toBe((FRAMES - 5) * 20);
    s.playout.resume();
    expect(s.playout.isPaused).toBe(false);
    await s.run(600);
    const bytes = s.audio().map((f) => f.byte);
    const expected = [...new Set(Array.from({ length: FRAMES }, (_, i) => bytes[i]))];
    expect(expected).toHaveLength(FRAMES); // the frames are told apart by their bytes: the check below can fail
    expect(bytes).toHaveLength(FRAMES);
    // The frame after the pause is the one after the last before it, and starts a talkspurt (RFC 3551 §4.1 marker).
    const firstAfter = s.sent.findIndex((f, i) => i > 5 && f.byte !== 0xff);
    expect(s.sent[firstAfter]!.byte).toBe(bytes[5]!);
    expect(s.sent[firstAfter]!.marker).toBe(true);
    // One segment: started once, finished once, not interrupted, all of it played.
    expect(s.events.filter((e) => e.startsWith("started"))).toHaveLength(1);
    expect(s.finished).toEqual([{ segmentId: 1, playedMs: FRAMES * 20, interrupted: false }]);
    s.pacer.stop();
  });

  test("captureFrame keeps its back-pressure while paused; waitForPlayout waits for the resumed end", async () => {
    const s = setup();
    const long = new Int16Array(2500 * 8).fill(3000);
    let room = false;
    void s.playout.captureFrame(long).then(() => (room = true));
    s.playout.pause();
    await s.run(1000);
    expect(room).toBe(false); // 2.5 s queued, nothing sent: no room
    s.playout.flush();
    let done = false;
    void s.playout.waitForPlayout().then(() => (done = true));
    await s.run(200);
    expect(done).toBe(false);
    s.playout.resume();
    await s.run(700);
    expect(room).toBe(true);
    await s.run(2000);
    expect(done).toBe(true);
    expect(s.finished).toEqual([{ segmentId: 1, playedMs: 2500, interrupted: false }]);
    s.pacer.stop();
  });

  test("clearBuffer while paused: interrupted with what went out before the pause, and the pause is over", async () => {
    const s = setup();
    void s.playout.captureFrame(reply);
    await s.run(60); // 3 frames
    s.playout.pause();
    await s.run(200);
    s.playout.clearBuffer();
    expect(s.finished).toEqual([{ segmentId: 1, playedMs: 60, interrupted: true }]);
    expect(s.playout.isPaused).toBe(false);
    // The next reply plays at once.
    void s.playout.captureFrame(reply.subarray(0, 320));
    s.playout.flush();
    await s.run(100);
    expect(s.audio()).toHaveLength(5);
    s.pacer.stop();
  });

  test("audio queued while paused waits; pause and resume are idempotent", async () => {
    const s = setup();
    s.playout.pause();
    s.playout.pause();
    expect(s.paused()).toBe(1);
    void s.playout.captureFrame(reply.subarray(0, 800));
    s.playout.flush();
    expect(s.playout.hasFrame).toBe(false); // an owner that starts talkspurts on queued audio sees none
    await s.run(200);
    expect(s.audio()).toHaveLength(0);
    s.playout.resume();
    s.playout.resume();
    await s.run(200);
    expect(s.audio()).toHaveLength(5);
    s.pacer.stop();
  });
});
