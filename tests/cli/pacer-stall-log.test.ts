/**
 * PACER_STALL_LOG_MS below 50 adds the kernel's account of the call thread (`sched`) to a late tick's log
 * line. It used to read /proc/thread-self/schedstat on every pacer tick (50 a second: 21 % of the call
 * thread's profile samples in session 21); the reads are now bounded, on an idle pacer and on a busy one.
 * Time is injected: a pacer ticking every 20 ms for 10 s, its lateness chosen per tick.
 */
import { describe, expect, test } from "bun:test";
import { pacerStallLog } from "../../src/cli/pacer-stall-log.ts";
import type { Logger } from "../../src/util/log.ts";
import { ThreadSchedSampler } from "../../src/util/stall-recorder.ts";

type Line = { lateMs: number; sched?: { wallMs: number; runMs: number; queuedMs: number } };

/** Runs `seconds` of 20 ms ticks with lateness `lateOf(i)`, threshold 5 ms; the clock runs at the tick's actual time. */
function run(seconds: number, lateOf: (i: number) => number) {
  let now = 0;
  let cpuNs = 0;
  const sampler = new ThreadSchedSampler(undefined, () => `${cpuNs} ${cpuNs / 2} 7\n`);
  const lines: Line[] = [];
  const log = { warn: (o: Line) => void lines.push(o) } as unknown as Logger;
  const late = pacerStallLog({ log, thresholdMs: 5, calls: () => 1, sampler, now: () => now });
  const ticks = (seconds * 1000) / 20;
  for (let i = 0; i < ticks; i++) {
    const ms = lateOf(i);
    now = i * 20 + ms;
    cpuNs = now * 0.5e6; // the thread ran half of the wall time, and waited a quarter on its run queue
    late(ms, "call thread");
  }
  return { reads: sampler.reads, lines, perSecond: sampler.reads / seconds };
}

describe("pacer stall log: schedstat reads bounded (PACER_STALL_LOG_MS=5)", () => {
  test("idle pacer (no tick late): at most 10 reads a second, not one per tick", () => {
    const r = run(10, () => 0.4);
    expect(r.lines).toHaveLength(0);
    expect(r.perSecond).toBeLessThanOrEqual(10.1); // was 50 (every tick)
    expect(r.perSecond).toBeGreaterThanOrEqual(9); // it keeps a recent base for the next late window
  });

  test("busy pacer (every tick 8 ms late): at most 20 reads a second; every late tick still logged", () => {
    const r = run(10, () => 8);
    expect(r.lines).toHaveLength(500);
    expect(r.perSecond).toBeLessThanOrEqual(20.1); // was 50
    const withSched = r.lines.filter((l) => l.sched);
    expect(withSched.length).toBeGreaterThanOrEqual(150);
    for (const l of withSched) expect(l.sched!.wallMs).toBeGreaterThanOrEqual(50);
  });

  test("a rare stall on an idle pacer gets `sched` over a window that holds the whole late window", () => {
    const r = run(10, (i) => (i % 100 === 57 ? 75 : 0.4)); // one 75 ms stall every 2 s
    expect(r.lines).toHaveLength(5);
    for (const l of r.lines) {
      expect(l.sched).toBeDefined();
      expect(l.sched!.wallMs).toBeGreaterThanOrEqual(75);
      expect(l.sched!.wallMs).toBeLessThanOrEqual(75 + 100 + 20); // base at most baseMs + one tick before
      expect(l.sched!.runMs).toBeCloseTo(l.sched!.wallMs / 2, 0);
      expect(l.sched!.queuedMs).toBeCloseTo(l.sched!.wallMs / 4, 0);
    }
    expect(r.perSecond).toBeLessThanOrEqual(10.6);
  });

  test("at the default threshold (50 ms) nothing is read", () => {
    let reads = 0;
    const sampler = new ThreadSchedSampler(undefined, () => (reads++, "1 1 1"));
    const late = pacerStallLog({ log: { warn: () => {} } as unknown as Logger, thresholdMs: 50, calls: () => 0, sampler, now: () => 0 });
    for (let i = 0; i < 100; i++) late(i % 2 ? 60 : 1, "call thread");
    expect(reads).toBe(0);
  });
});
