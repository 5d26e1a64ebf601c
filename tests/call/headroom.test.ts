/**
 * Headroom (src/call/headroom.ts) with a fake clock and an injected CPU counter: the CPU share over the
 * 5 s window, the share of pacer ticks later than the limit (p99 above it = more than 1 % late), the
 * minimum of live calls below which nothing is refused, old seconds leaving the window, the share of
 * VAD windows skipped by overload shedding (the overload state seen coming), and the refusal reaching
 * the admission verdict (503 + Retry-After for INVITE and OPTIONS).
 */
import { describe, expect, test } from "bun:test";
import { Admission, BUSY_RETRY_AFTER_S } from "../../src/call/admission.ts";
import { Headroom, HEADROOM_DEFAULTS } from "../../src/call/headroom.ts";
import { FakeClock } from "../../src/util/clock.ts";

function setup(limits = HEADROOM_DEFAULTS) {
  const clock = new FakeClock(0);
  let cpuUs = 0;
  const vad = { windows: 0, skipped: 0 };
  const h = new Headroom({ clock, limits, cpuUsageUs: () => cpuUs, vadCounts: () => vad });
  h.start();
  /**
   * `s` seconds at `pct` % CPU with one tick per 20 ms, `lateEvery`-th tick `lateMs` late; 50 calls'
   * VAD windows (31 per call-second) with `skipPct` % of them skipped.
   */
  const run = (s: number, pct: number, lateEvery = 0, lateMs = 0, skipPct = 0) => {
    for (let i = 0; i < s * 50; i++) {
      h.recordLateness(lateEvery && i % lateEvery === 0 ? lateMs : 0.3);
      cpuUs += pct * 200; // 20 ms × pct %
      const windows = 31; // 50 calls × 31.25 windows/s × 20 ms
      const skipped = (windows * skipPct) / 100;
      vad.skipped += skipped;
      vad.windows += windows - skipped;
      clock.advance(20);
    }
  };
  return { clock, h, run };
}

describe("Headroom", () => {
  test("CPU at or above the limit over the window refuses; below it does not", () => {
    const { h, run } = setup();
    run(6, 60);
    expect(h.state().cpuPct).toBeCloseTo(60, 0);
    expect(h.check(50)).toBeUndefined();
    run(6, 90);
    expect(h.check(50)).toContain("overloaded: CPU 90 %");
  });

  test("more than 1 % of ticks later than the limit refuses; 1 % or less does not", () => {
    const { h, run } = setup();
    run(6, 20, 100, 15); // 1 % late
    expect(h.check(50)).toBeUndefined();
    run(6, 20, 50, 15); // 2 % late
    expect(h.check(50)).toContain("% of RTP ticks later than 10 ms");
    run(6, 20, 50, 9); // late but within the limit
    expect(h.check(50)).toBeUndefined();
  });

  test("old seconds leave the window", () => {
    const { h, run } = setup();
    run(3, 99, 10, 50);
    expect(h.check(20)).toBeDefined();
    run(7, 30);
    expect(h.check(20)).toBeUndefined();
    expect(h.state().lateShare).toBe(0);
  });

  test("below ADMISSION_MIN_CALLS live calls nothing is refused; 0 limits turn the checks off", () => {
    const { h, run } = setup();
    run(6, 99, 2, 100);
    expect(h.check(HEADROOM_DEFAULTS.minCalls - 1)).toBeUndefined();
    expect(h.check(HEADROOM_DEFAULTS.minCalls)).toBeDefined();
    const off = setup({ cpuPct: 0, pacerP99Ms: 0, vadSkipPct: 0, minCalls: 0 });
    off.run(6, 99, 2, 100, 50);
    expect(off.h.check(100)).toBeUndefined();
  });

  test("more than ADMISSION_VAD_SKIP_PCT of VAD windows skipped refuses, whatever the CPU and ticks say; old skips leave the window", () => {
    const { h, run } = setup();
    run(6, 60, 0, 0, 0.5);
    expect(h.state().vadSkipShare).toBeCloseTo(0.005, 4);
    expect(h.check(50)).toBeUndefined();
    run(6, 60, 0, 0, 3); // CPU 60 %, no late tick: only the VAD falls behind
    expect(h.check(50)).toContain("3.0 % of VAD windows skipped");
    expect(h.check(50)).toContain("ADMISSION_VAD_SKIP_PCT 1");
    run(7, 60);
    expect(h.check(50)).toBeUndefined();
    const vadOff = setup({ ...HEADROOM_DEFAULTS, vadSkipPct: 0 });
    vadOff.run(6, 60, 0, 0, 30);
    expect(vadOff.h.check(50)).toBeUndefined();
  });

  test("an overloaded agent's admission verdict: 503 degraded with Retry-After", () => {
    const { h, run } = setup();
    run(6, 95);
    const a = new Admission({ capacity: 500, active: () => 40, draining: () => false, degraded: [() => h.check(40)] });
    const v = a.verdict();
    expect(v.accept).toBe(false);
    if (!v.accept) {
      expect(v.reason).toBe("degraded");
      expect(v.detail).toContain("overloaded");
      expect(v.retryAfterS).toBe(BUSY_RETRY_AFTER_S);
    }
  });
});
