/** The token bucket of src/rtp/rate-policer.ts, on explicit times (no clock, no sleeping). */
import { describe, expect, test } from "bun:test";
import { RTP_POLICE_BURST, RTP_POLICE_RATE_PPS, RatePolicer } from "../../src/rtp/rate-policer.ts";

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
