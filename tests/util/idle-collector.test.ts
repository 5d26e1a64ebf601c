/** IdleCollector (src/util/idle-collector.ts): one full collection after idleMs with no live call, re-armed by every call end. */
import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/util/clock";
import { IdleCollector, type IdleCollection } from "../../src/util/idle-collector";

function setup(idleMs = 40_000) {
  const clock = new FakeClock();
  let live = 0;
  let collected = 0;
  const reports: IdleCollection[] = [];
  const idle = new IdleCollector({ clock, idleMs, active: () => live, collect: () => void collected++, onCollected: (r) => reports.push(r) });
  return { clock, idle, reports, setLive: (n: number) => (live = n), collected: () => collected };
}

describe("IdleCollector", () => {
  test("collects once, idleMs after the last call end, and not again until another call ends", () => {
    const s = setup();
    s.idle.callEnded();
    s.clock.advance(20_000);
    s.idle.callEnded(); // the wait restarts
    s.clock.advance(39_999);
    expect(s.collected()).toBe(0);
    s.clock.advance(1);
    expect(s.collected()).toBe(1);
    s.clock.advance(10 * 40_000);
    expect(s.collected()).toBe(1); // an idle agent collects once, not periodically
    expect(s.reports).toHaveLength(1);
    expect(s.reports[0]!.rssBeforeMiB).toBeGreaterThan(0);
    expect(s.reports[0]!.rssAfterMiB).toBeGreaterThan(0);
    expect(s.reports[0]!.ms).toBeGreaterThanOrEqual(0);
    s.idle.callEnded();
    s.clock.advance(40_000);
    expect(s.collected()).toBe(2);
  });

  test("never while a call is live (no RTP paced around a stop-the-world pause); stop() cancels the wait", () => {
    const s = setup(1000);
    s.idle.callEnded();
    s.setLive(1);
    s.clock.advance(5000);
    expect(s.collected()).toBe(0);
    s.setLive(0);
    s.idle.callEnded(); // that live call's end
    s.idle.stop();
    s.clock.advance(5000);
    expect(s.collected()).toBe(0);
    s.idle.callEnded(); // after stop: ignored
    s.clock.advance(5000);
    expect(s.collected()).toBe(0);
  });

  test("the default collection is Bun's full synchronous GC: the heap in use drops after garbage is made", () => {
    const clock = new FakeClock();
    const reports: IdleCollection[] = [];
    const idle = new IdleCollector({ clock, idleMs: 10, active: () => 0, onCollected: (r) => reports.push(r) });
    let junk: unknown[] | null = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `x${i}` }));
    const withJunk = process.memoryUsage().heapUsed / 1048576;
    junk = null;
    idle.callEnded();
    clock.advance(10);
    expect(junk).toBeNull();
    expect(reports).toHaveLength(1);
    expect(reports[0]!.heapUsedMiB).toBeLessThan(withJunk - 5); // ~200k small objects ≈ 10+ MiB given back
  });
});
