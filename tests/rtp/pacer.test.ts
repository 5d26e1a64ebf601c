import { describe, expect, test } from "bun:test";
import { Pacer, type PacerSource } from "../../src/rtp/pacer.ts";
import { FakeClock } from "../../src/util/clock.ts";
import { SkewedClock, mulberry32 } from "./helpers.ts";

function recorder(clock: { now(): number }): PacerSource & { times: number[] } {
  const times: number[] = [];
  return { times, onTick: () => times.push(clock.now()) };
}

describe("Pacer", () => {
  test("ticks exactly on start + n·20 ms", () => {
    const clock = new FakeClock(1000);
    const pacer = new Pacer({ clock });
    const src = recorder(clock);
    pacer.add(src);
    clock.advance(100);
    expect(src.times).toEqual([1020, 1040, 1060, 1080, 1100]);
    expect(pacer.ticks).toBe(5);
    expect(pacer.nextDeadline).toBe(1120);
    pacer.stop();
  });

  test("onRan reports each timer's run with its start and end on the clock", () => {
    const clock = new FakeClock(0);
    const runs: [number, number][] = [];
    const pacer = new Pacer({ clock, onRan: (s, e) => runs.push([s, e]) });
    // A source that holds the thread 3 ms (the fake clock moves only when told).
    pacer.add({ onTick: () => void ((clock as unknown as { t: number }).t += 3) });
    clock.advance(40);
    expect(runs).toEqual([
      [20, 23],
      [40, 43],
    ]);
    pacer.stop();
  });

  test("poll runs a due tick at once (its timer waits behind other work) and re-arms; nothing before the deadline", () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock });
    const src = recorder(clock);
    pacer.add(src);
    const t = clock as unknown as { t: number };
    t.t = 19.9; // the thread ran something else up to here, without its timers
    pacer.poll();
    expect(src.times).toEqual([]);
    t.t = 21.5;
    pacer.poll(); // due at 20: runs now, 1.5 ms late, not when the loop reaches the timer
    expect(src.times).toEqual([21.5]);
    expect(pacer.lateness.snapshot().count).toBe(1);
    pacer.poll(); // nothing more is due
    clock.advance(0); // the cleared timer does not tick again
    expect(src.times).toEqual([21.5]);
    clock.advance(40 - 21.5);
    expect(src.times).toEqual([21.5, 40]); // the schedule goes on from its deadlines
    expect(clock.pending).toBe(1);
    pacer.stop();
  });

  test("poll(now) judges by the caller's reading (a pace point's), not by a clock read of its own", () => {
    const clock = new FakeClock(0);
    let reads = 0;
    const counting = { now: () => (reads++, clock.now()), setTimer: clock.setTimer.bind(clock), clearTimer: clock.clearTimer.bind(clock) };
    const pacer = new Pacer({ clock: counting });
    const src = recorder(clock);
    pacer.add(src);
    const t = clock as unknown as { t: number };
    t.t = 21; // the clock says due
    const before = reads;
    pacer.poll(19.9); // the caller read 19.9 just before: not due by its reading, and no read here
    expect(src.times).toEqual([]);
    expect(reads).toBe(before);
    pacer.poll(21); // due by the caller's reading: the tick runs (its own work reads the clock)
    expect(src.times).toEqual([21]);
    pacer.poll(); // no reading given: the pacer reads its clock (21: nothing more due)
    expect(src.times).toEqual([21]);
    pacer.stop();
  });

  test("poll runs a due phase of the own schedules; a poll from inside a tick does nothing", () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock });
    const shared = recorder(clock);
    pacer.add(shared);
    let inner = 0;
    const talker: PacerSource & { times: number[] } = {
      times: [],
      onTick() {
        this.times.push(clock.now());
        pacer.poll(); // re-entry is ignored
        inner++;
      },
    };
    pacer.add(talker);
    clock.advance(26); // shared ticks at 20 (both sources)
    pacer.startNow(talker); // ticks at 26, then on the 25 ms phase: 45, 65, …
    expect(talker.times).toEqual([20, 26]);
    const t = clock as unknown as { t: number };
    t.t = 47;
    pacer.poll(); // the shared tick of 40 and the phase of 45 are both due
    expect(shared.times).toEqual([20, 47]);
    expect(talker.times).toEqual([20, 26, 47]);
    clock.advance(65 - 47);
    expect(talker.times).toEqual([20, 26, 47, 65]);
    expect(inner).toBe(4);
    expect(clock.pending).toBe(2); // one shared, one phase timer: none left behind by poll
    pacer.stop();
  });

  test("no drift over 1000 ticks with timers firing 0–7 ms late", () => {
    const fake = new FakeClock(0);
    const rnd = mulberry32(7);
    const clock = new SkewedClock(fake, () => rnd() * 7);
    const pacer = new Pacer({ clock });
    const src = recorder(clock);
    pacer.add(src);
    // Advance in uneven steps, as an event loop would.
    while (fake.now() < 20_000 + 10) fake.advance(1 + Math.floor(rnd() * 9));
    expect(src.times.length).toBeGreaterThanOrEqual(1000);
    for (let n = 1; n <= 1000; n++) {
      const late = src.times[n - 1] - 20 * n;
      if (late < 0 || late >= 8) throw new Error(`tick ${n} at ${src.times[n - 1]}, lateness ${late}`);
    }
    // A naive "setTimer(20) after each tick" would be ~3.5 s late after 1000 ticks.
    expect(src.times[999] - 20_000).toBeLessThan(8);
    expect(pacer.skippedTicks).toBe(0);
    expect(pacer.lateness.snapshot().count).toBe(src.times.length);
    expect(pacer.lateness.snapshot().maxMs).toBeLessThan(8);
    pacer.stop();
  });

  test("a timer 50 ms late is caught up by a burst (ticks for every passed deadline)", () => {
    const fake = new FakeClock(0);
    // The timer armed at t=80 (for deadline 100) fires 50 ms late, at 150.
    const clock = new SkewedClock(fake, () => (fake.now() === 80 ? 50 : 0));
    const lateness: number[] = [];
    const pacer = new Pacer({ clock, onLateness: (ms) => lateness.push(ms) });
    const src = recorder(clock);
    pacer.add(src);
    fake.advance(150);
    // Deadlines 100, 120 and 140 have all passed at 150: three ticks back-to-back.
    expect(src.times).toEqual([20, 40, 60, 80, 150, 150, 150]);
    expect(lateness).toEqual([0, 0, 0, 0, 50, 30, 10]);
    expect(pacer.catchUpTicks).toBe(2);
    expect(pacer.skippedTicks).toBe(0);
    fake.advance(10);
    expect(src.times.at(-1)).toBe(160); // back on the grid
    pacer.stop();
  });

  test("a timer more than 3 frames late skips ahead and counts the dropped deadlines", () => {
    const fake = new FakeClock(0);
    // The timer armed at t=40 (for deadline 60) fires 130 ms late, at 190.
    const clock = new SkewedClock(fake, () => (fake.now() === 40 ? 130 : 0));
    const pacer = new Pacer({ clock });
    const src = recorder(clock);
    pacer.add(src);
    fake.advance(190);
    // At 190: deadline 60 is 130 ms late; 6 later deadlines (80…180) have passed too → 6 skipped,
    // one tick runs for deadline 180, and the next tick is on the grid at 200.
    expect(src.times).toEqual([20, 40, 190]);
    expect(pacer.skippedTicks).toBe(6);
    expect(pacer.nextDeadline).toBe(200);
    fake.advance(10);
    expect(src.times).toEqual([20, 40, 190, 200]);
    pacer.stop();
  });

  test("a stall past the catch-up window reports its true lateness (from the first missed deadline) and the dropped deadlines", () => {
    const fake = new FakeClock(0);
    // The timer armed at t=40 (for deadline 60) fires 1,000 ms late, at 1,060: a 1 s stall.
    const clock = new SkewedClock(fake, () => (fake.now() === 40 ? 1000 : 0));
    const lateness: number[] = [];
    const skipped: number[] = [];
    const pacer = new Pacer({ clock, onLateness: (ms) => lateness.push(ms), onSkipped: (n) => skipped.push(n) });
    const src = recorder(clock);
    pacer.add(src);
    fake.advance(1100);
    expect(src.times).toEqual([20, 40, 1060, 1080, 1100]);
    // Before: [0, 0, 0, 0, 0] — the 1 s stall was measured after the skip and read 0.
    expect(lateness).toEqual([0, 0, 1000, 0, 0]);
    expect(pacer.lateness.snapshot().maxMs).toBeGreaterThanOrEqual(1000);
    expect(skipped).toEqual([50]); // deadlines 80…1,060 dropped; one tick ran for 1,060
    expect(pacer.skippedTicks).toBe(50);
    pacer.stop();
  });

  test("a timer that fires early is re-armed; no tick runs before its deadline", () => {
    const fake = new FakeClock(0);
    let first = true;
    const clock = new SkewedClock(fake, () => {
      const e = first ? -3 : 0;
      first = false;
      return e;
    });
    const pacer = new Pacer({ clock });
    const src = recorder(clock);
    pacer.add(src);
    fake.advance(17);
    expect(src.times).toEqual([]);
    fake.advance(3);
    expect(src.times).toEqual([20]);
    pacer.stop();
  });

  test("all sources tick in the same tick; add/remove; timer stops when empty", () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock });
    const a = recorder(clock);
    const b = recorder(clock);
    pacer.add(a);
    clock.advance(30);
    pacer.add(b); // joins at the next deadline (40), not 20 ms after being added
    clock.advance(30);
    expect(a.times).toEqual([20, 40, 60]);
    expect(b.times).toEqual([40, 60]);
    pacer.remove(a);
    clock.advance(20);
    expect(a.times.length).toBe(3);
    pacer.remove(b);
    expect(pacer.running).toBe(false);
    expect(clock.pending).toBe(0);
    // Restart: a new schedule from the time of the add.
    pacer.add(a);
    clock.advance(25);
    expect(a.times.at(-1)).toBe(100);
    pacer.stop();
    expect(clock.pending).toBe(0);
  });

  test("startNow ticks a source at once and then every 20 ms on the last 5 ms phase at or before that tick; rejoin returns it to the shared ticks one frame after its last own tick", () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock });
    const a = recorder(clock);
    const b = recorder(clock);
    pacer.add(a);
    pacer.add(b);
    clock.advance(47); // shared ticks at 20, 40
    pacer.startNow(a); // a talkspurt starting 7 ms after the shared tick at 40
    expect(a.times).toEqual([20, 40, 47]);
    expect(pacer.isOwnSchedule(a)).toBe(true);
    clock.advance(60); // to 107
    // Its own schedule on the phase at 45 (the shared ticks' + 5 ms): the second packet 18 ms after the
    // first, then one frame apart.
    expect(a.times).toEqual([20, 40, 47, 65, 85, 105]);
    expect(b.times).toEqual([20, 40, 60, 80, 100]); // the others keep the shared one
    pacer.startNow(a); // already on its own schedule: nothing extra
    expect(a.times.at(-1)).toBe(105);
    pacer.rejoin(a);
    expect(pacer.isOwnSchedule(a)).toBe(false);
    clock.advance(40); // to 147: shared 120 is < 105 + 20, so a's next tick is the shared 140
    expect(a.times.slice(6)).toEqual([140]);
    expect(b.times.slice(5)).toEqual([120, 140]);
    // Packets sent by a: 2 on the shared schedule, 4 on its own, then shared again. Its n-th packet's
    // timestamp (n·160 samples) against the time it went out: ahead by 13, then 15 ms while on its own
    // schedule, back to the shared relation after the rejoin (no drift over talkspurts).
    const offsets = a.times.map((t, i) => 20 * (i + 1) - t);
    expect(offsets).toEqual([0, 0, 13, 15, 15, 15, 0]);
    expect(clock.pending).toBe(1); // the shared timer only: no own timer left behind
    pacer.stop();
    expect(clock.pending).toBe(0);
  });

  test("startNow while rejoining: within a frame of its last own tick it resumes that schedule, later it starts a new one", () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock });
    const a = recorder(clock);
    pacer.add(a);
    clock.advance(25);
    pacer.startNow(a); // own schedule 25, 45, 65…
    clock.advance(20); // 45
    pacer.rejoin(a);
    clock.advance(5); // 50: less than a frame after 45
    pacer.startNow(a);
    expect(a.times).toEqual([20, 25, 45]); // no packet now
    clock.advance(15); // 65: the schedule it left
    expect(a.times).toEqual([20, 25, 45, 65]);
    pacer.rejoin(a);
    clock.advance(15); // 80: a shared deadline, but not one frame after 65
    expect(a.times.at(-1)).toBe(65);
    clock.advance(6); // 86: a frame and more after 65, before the shared 100
    pacer.startNow(a);
    expect(a.times.at(-1)).toBe(86);
    clock.advance(20);
    expect(a.times.slice(-2)).toEqual([86, 105]); // on the phase at 85
    pacer.remove(a);
    expect(clock.pending).toBe(0);
  });

  test("a source's own timer follows the lateness rule; remove() inside its own tick is safe", () => {
    const fake = new FakeClock(0);
    const clock = new SkewedClock(fake, () => (fake.now() === 50 ? 45 : 0));
    const pacer = new Pacer({ clock });
    const a = recorder(clock);
    pacer.add(a);
    fake.advance(30);
    pacer.startNow(a); // own: 30, 50, 70, 90…
    fake.advance(100);
    // The timer armed at 50 for 70 fires at 115: 70, 90, 110 are caught up at once.
    expect(a.times.slice(0, 3)).toEqual([20, 30, 50]);
    expect(a.times.slice(3, 6)).toEqual([115, 115, 115]);
    expect(pacer.catchUpTicks).toBe(2);
    const selfRemoving: PacerSource = { onTick: () => pacer.remove(selfRemoving) };
    pacer.add(selfRemoving);
    pacer.startNow(selfRemoving);
    expect(pacer.size).toBe(1);
    pacer.stop();
    expect(fake.pending).toBe(0);
  });

  test("a throwing source does not stop the others; removal inside onTick is safe", () => {
    const clock = new FakeClock(0);
    const errors: unknown[] = [];
    const pacer = new Pacer({ clock, onError: (e) => errors.push(e) });
    const good = recorder(clock);
    const bad: PacerSource = {
      onTick() {
        throw new Error("boom");
      },
    };
    const selfRemoving: PacerSource & { n: number } = {
      n: 0,
      onTick() {
        this.n++;
        pacer.remove(this);
      },
    };
    pacer.add(bad);
    pacer.add(selfRemoving);
    pacer.add(good);
    clock.advance(60);
    expect(good.times).toEqual([20, 40, 60]);
    expect(selfRemoving.n).toBe(1);
    expect(pacer.errors).toBe(3);
    expect(errors.length).toBe(3);
    pacer.stop();
  });

  test("lateness histogram buckets and quantiles", () => {
    const fake = new FakeClock(0);
    const rnd = mulberry32(3);
    const clock = new SkewedClock(fake, () => (rnd() < 0.1 ? 15 : 0.3));
    const pacer = new Pacer({ clock });
    pacer.add({ onTick() {} });
    fake.advance(2000);
    const s = pacer.lateness.snapshot();
    expect(s.count).toBe(pacer.ticks);
    expect(s.counts.reduce((a, b) => a + b, 0)).toBe(s.count);
    expect(pacer.lateness.quantile(0.5)).toBe(0.5);
    expect(pacer.lateness.quantile(1)).toBe(15);
    pacer.stop();
  });

  test("sources talking on the same phase share one timer: 40 talkspurts started at random moments wake the clock at most 5 times per frame, and report lateness as often", () => {
    const clock = new FakeClock(0);
    let lateCalls = 0;
    const pacer = new Pacer({ clock, onLateness: () => lateCalls++ });
    const rnd = mulberry32(3);
    const srcs = Array.from({ length: 40 }, () => recorder(clock));
    for (const s of srcs) pacer.add(s);
    clock.advance(20);
    let t = 20;
    const startedAt = new Map<PacerSource, number>();
    for (const s of srcs) {
      t += rnd() * 1.5; // starts spread over ~30 ms
      clock.advance(t - clock.now());
      startedAt.set(s, clock.now());
      pacer.startNow(s);
    }
    expect(clock.pending).toBeLessThanOrEqual(5); // the shared timer and one per phase (4)
    const from = clock.now();
    lateCalls = 0;
    clock.advance(200);
    // Lateness is reported once per deadline (the shared one and each phase's), not once per source.
    expect(lateCalls).toBeLessThanOrEqual(5 * 10);
    for (const s of srcs) {
      const own = s.times.filter((x) => x > from);
      expect(own.length).toBe(10);
      for (let i = 1; i < own.length; i++) expect(own[i]! - own[i - 1]!).toBeCloseTo(20, 6);
      // The second packet of its talkspurt: less than a phase (5 ms) early, never late.
      const start = startedAt.get(s)!;
      expect(s.times).toContain(start); // ticked at once
      const gap = s.times.find((x) => x > start)! - start;
      expect(gap).toBeGreaterThan(15);
      expect(gap).toBeLessThanOrEqual(20);
    }
    pacer.stop();
    expect(clock.pending).toBe(0);
  });
});
