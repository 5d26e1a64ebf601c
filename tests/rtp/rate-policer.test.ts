/** The token bucket of src/rtp/rate-policer.ts, on explicit times (no clock, no sleeping). */
import { describe, expect, test } from "bun:test";
import { RTP_POLICE_AUDIO_BURST, RTP_POLICE_AUDIO_RATE, RTP_POLICE_BURST, RTP_POLICE_RATE_PPS, RatePolicer } from "../../src/rtp/rate-policer.ts";

const admitted = (p: RatePolicer, n: number, at: number) => Array.from({ length: n }, () => p.admit(at)).filter(Boolean).length;

describe("RatePolicer", () => {
  test("defaults: 150 packets/s, burst 250 — at least 3× a 20 ms stream, 1.5× a 10 ms one; 5 s of backlog", () => {
    expect([RTP_POLICE_RATE_PPS, RTP_POLICE_BURST]).toEqual([150, 250]);
    expect(RTP_POLICE_RATE_PPS).toBeGreaterThanOrEqual(3 * 50);
  });

  test.each([
    ["a full bucket at once", 10, 5, [[0, 20]], [5]],
    ["refill by elapsed time", 10, 5, [[0, 5], [100, 5], [1000, 20]], [5, 1, 5]],
    ["never above the burst after a long pause", 100, 3, [[0, 3], [60_000, 10]], [3, 3]],
    ["time that does not advance refills nothing", 1000, 2, [[5, 2], [5, 2], [4, 2]], [2, 0, 0]],
  ] as const)("%s", (_name, rate, burst, steps, expected) => {
    const p = new RatePolicer(rate, burst);
    expect(steps.map(([at, n]) => admitted(p, n, at))).toEqual([...expected]);
  });

  test("a steady stream at the rate is never dropped", () => {
    const p = new RatePolicer(150, 100);
    let t = 0;
    let dropped = 0;
    for (let i = 0; i < 15_000; i++, t += 1000 / 150) if (!p.admit(t)) dropped++;
    expect(dropped).toBe(0);
  });
});

describe("RatePolicer with a cost per packet (the audio rate in samples)", () => {
  test("defaults: 12,000 samples/s (1.5× real time at 8 kHz), burst 40,000 (5 s, the packet burst's 250 × 160)", () => {
    expect([RTP_POLICE_AUDIO_RATE, RTP_POLICE_AUDIO_BURST]).toEqual([12_000, 40_000]);
    expect(RTP_POLICE_AUDIO_BURST).toBe(RTP_POLICE_BURST * 160);
  });

  test("a packet takes its cost; one costing more than what is left is dropped whole, and takes nothing", () => {
    const p = new RatePolicer(1000, 1000);
    expect([p.admit(0, 600), p.admit(0, 600), p.admit(0, 400), p.admit(0, 1)]).toEqual([true, false, true, false]);
    expect(p.admit(100, 100)).toBe(true); // 100 ms at 1000/s refilled 100
  });

  test("a real-time G.711 stream (160 samples every 20 ms) is never dropped; 1,488-byte packets at 140/s keep 1.5× real time", () => {
    const steady = new RatePolicer(RTP_POLICE_AUDIO_RATE, RTP_POLICE_AUDIO_BURST);
    let dropped = 0;
    for (let i = 0; i < 50 * 600; i++) if (!steady.admit(i * 20, 160)) dropped++;
    expect(dropped).toBe(0);
    const big = new RatePolicer(RTP_POLICE_AUDIO_RATE, RTP_POLICE_AUDIO_BURST);
    let samples = 0;
    for (let i = 0; i < 140 * 10; i++) if (big.admit((i * 1000) / 140, 1488)) samples += 1488;
    // 10 s: the 5 s burst plus 1.5 × 10 s, instead of 140 × 10 × 1,488 = 260 s of audio.
    expect(samples / 8000).toBeGreaterThan(18);
    expect(samples / 8000).toBeLessThanOrEqual(20);
  });
});
