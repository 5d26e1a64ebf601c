/** Home phases (issue 13): the pacer's sources spread over its 4 phases, one wake ticking ~1/4 of them. */
import { describe, expect, test } from "bun:test";
import { Pacer, type PacerSource } from "../../src/rtp/pacer.ts";
import { FakeClock } from "../../src/util/clock.ts";
import { SkewedClock, mulberry32 } from "./helpers.ts";

function recorder(clock: { now(): number }): PacerSource & { times: number[] } {
  const times: number[] = [];
  return { times, onTick: () => times.push(clock.now()) };
}

/** The most sources ticked by one timer's run (one wake of the process) over `ms`, with `n` sources. */
function maxPerWake(homePhases: number, n: number, ms: number): { max: number; wakes: number; pacer: Pacer } {
  const clock = new FakeClock(0);
  let inRun = 0;
  let max = 0;
  let wakes = 0;
  const pacer = new Pacer({ clock, homePhases, onRan: () => ((max = Math.max(max, inRun)), (inRun = 0), wakes++) });
  for (let i = 0; i < n; i++) pacer.add({ onTick: () => void inRun++ });
  clock.advance(ms);
  return { max, wakes, pacer };
}

describe("Pacer home phases", () => {
  test("200 sources are spread 50 per home phase: one wake ticks at most 50 of them, 4 wakes per frame (one shared tick: all 200 in one wake)", () => {
    const four = maxPerWake(4, 200, 1000);
    expect(four.pacer.homeLoad).toEqual([50, 50, 50, 50]);
    expect(four.max).toBe(50);
    expect(four.wakes).toBe(200); // 4 phases × 50 frames: no more wake-ups than phases
    const one = maxPerWake(1, 200, 1000);
    expect(one.pacer.homeLoad).toEqual([200]);
    expect(one.max).toBe(200); // the shared tick this change removes
    expect(one.wakes).toBe(50);
    four.pacer.stop();
    one.pacer.stop();
  });

  test("each source ticks on its own phase's deadlines, exactly once per 20 ms, no drift over 5,000 frames with timers 0–7 ms late", () => {
    const fake = new FakeClock(0);
    const rnd = mulberry32(11);
    const clock = new SkewedClock(fake, () => rnd() * 7);
    const pacer = new Pacer({ clock, homePhases: 4 });
    const srcs = Array.from({ length: 8 }, () => recorder(clock));
    for (const s of srcs) pacer.add(s);
    expect(pacer.homeLoad).toEqual([2, 2, 2, 2]);
    while (fake.now() < 100_000 + 10) fake.advance(1 + Math.floor(rnd() * 9));
    srcs.forEach((s, i) => {
      const phase = i % 4; // added in turn to the least-loaded phase
      const first = phase === 0 ? 20 : phase * 5; // the phase's first deadline after the add at 0
      expect(s.times.length).toBeGreaterThanOrEqual(5000);
      for (let n = 0; n < 5000; n++) {
        const late = s.times[n]! - (first + 20 * n);
        if (late < 0 || late >= 8) throw new Error(`source ${i} tick ${n} at ${s.times[n]}, lateness ${late}`);
      }
    });
    expect(pacer.skippedTicks).toBe(0);
    pacer.stop();
    expect(fake.pending).toBe(0);
  });

  test("a talkspurt on a home phase: ticked at once, its own phase, back home with the timestamps' relation to the wall clock", () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock, homePhases: 4 });
    const a = recorder(clock);
    const b = recorder(clock);
    pacer.add(a); // phase 0: 20, 40, …
    pacer.add(b); // phase 1: 5, 25, 45, …
    clock.advance(52);
    pacer.startNow(b); // 7 ms after its home tick at 45: own schedule on the phase at 50
    clock.advance(115 - 52);
    pacer.rejoin(b);
    clock.advance(170 - 115);
    // Home 5, 25, 45; at once 52; own 70, 90, 110; home again from 145 (125 is before 110 + 20 … and its slot).
    expect(b.times).toEqual([5, 25, 45, 52, 70, 90, 110, 145, 165]);
    // Its n-th packet's timestamp (home deadline 5 + 20·n) against when it went out: ahead by 13, then
    // 15 ms on its own schedule, back to 0 after the rejoin.
    expect(b.times.map((t, n) => 5 + 20 * n - t)).toEqual([0, 0, 0, 13, 15, 15, 15, 0, 0]);
    expect(a.times).toEqual([20, 40, 60, 80, 100, 120, 140, 160]);
    pacer.stop();
  });

  test("a talkspurt starting within a phase of its home tick rejoins at its slot: a frame's gap takes back the frame it ran ahead", () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock, homePhases: 4 });
    const b = recorder(clock);
    pacer.add(recorder(clock));
    pacer.add(b); // phase 1: 5, 25, …
    clock.advance(26);
    pacer.startNow(b); // 1 ms after its home tick at 25: own schedule on the phase at 25 itself
    clock.advance(50 - 26);
    pacer.rejoin(b);
    clock.advance(110 - 50);
    // 65 is a frame after its last own tick (45), but the slot its packets reached is 85's.
    expect(b.times).toEqual([5, 25, 26, 45, 85, 105]);
    expect(b.times.map((t, n) => 5 + 20 * n - t)).toEqual([0, 0, 19, 20, 0, 0]);
    pacer.stop();
  });

  test("any number of talkspurts at random moments: never more than a frame ahead, never behind, back on the wall clock after each rejoin", () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock, homePhases: 4 });
    const rnd = mulberry32(5);
    const srcs = Array.from({ length: 12 }, () => recorder(clock));
    for (const s of srcs) pacer.add(s);
    const first = srcs.map((_, i) => (i % 4 === 0 ? 20 : (i % 4) * 5));
    let t = 0;
    for (let round = 0; round < 300; round++) {
      const s = srcs[Math.floor(rnd() * srcs.length)]!;
      t += rnd() * 30;
      clock.advance(t - clock.now());
      if (pacer.isOwnSchedule(s)) pacer.rejoin(s);
      else pacer.startNow(s);
    }
    for (const s of srcs) if (pacer.isOwnSchedule(s)) pacer.rejoin(s);
    clock.advance(100);
    srcs.forEach((s, i) => {
      const offsets = s.times.map((x, n) => first[i]! + 20 * n - x);
      for (const o of offsets) {
        expect(o).toBeGreaterThanOrEqual(-1e-9);
        expect(o).toBeLessThanOrEqual(20 + 1e-9);
      }
      expect(Math.abs(offsets.at(-1)!)).toBeLessThan(1e-9); // home again, on its slot
    });
    pacer.stop();
  });

  test("catch-up and skip-ahead run per phase: a late phase catches up or skips, the others stay on their deadlines", () => {
    const fake = new FakeClock(0);
    // Phase 2's timer re-armed at 10 (for 30) fires 45 ms late, at 75; phase 3's re-armed at 15 (for 35) 130 ms late, at 165.
    const clock = new SkewedClock(fake, () => (fake.now() === 10 ? 45 : fake.now() === 15 ? 130 : 0));
    const lateness: number[] = [];
    const pacer = new Pacer({ clock, homePhases: 4, onLateness: (ms) => lateness.push(ms) });
    const srcs = Array.from({ length: 4 }, () => recorder(clock));
    for (const s of srcs) pacer.add(s);
    fake.advance(200);
    expect(srcs[2]!.times.slice(0, 5)).toEqual([10, 75, 75, 75, 90]); // 30, 50, 70 back-to-back
    expect(srcs[3]!.times.slice(0, 3)).toEqual([15, 165, 175]); // 35 … 155 dropped but one, then on the grid
    expect(srcs[1]!.times.slice(0, 10)).toEqual([5, 25, 45, 65, 85, 105, 125, 145, 165, 185]);
    expect(pacer.catchUpTicks).toBe(2);
    expect(pacer.skippedTicks).toBe(6);
    expect(lateness).toContain(130); // the skip reports its true lateness
    expect(lateness.filter((ms) => ms === 45)).toHaveLength(1); // once per deadline
    pacer.stop();
  });

  test("a removed source frees its place: its phase's timer stops when empty, the next source added goes there and waits for its deadline", () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock, homePhases: 4 });
    const srcs = Array.from({ length: 8 }, () => recorder(clock));
    for (const s of srcs) pacer.add(s);
    clock.advance(41);
    pacer.remove(srcs[1]!);
    pacer.remove(srcs[5]!);
    expect(pacer.homeLoad).toEqual([2, 0, 2, 2]);
    expect(clock.pending).toBe(3); // phase 1's timer is gone
    const c = recorder(clock);
    pacer.add(c);
    expect(pacer.homeLoad).toEqual([2, 1, 2, 2]);
    clock.advance(70 - 41);
    expect(c.times).toEqual([45, 65]);
    pacer.stop();
    expect(clock.pending).toBe(0);
  });

  test("homePhases must divide the phases of a frame", () => {
    expect(() => new Pacer({ clock: new FakeClock(0), homePhases: 3 })).toThrow(RangeError);
    expect(() => new Pacer({ clock: new FakeClock(0), homePhases: 0 })).toThrow(RangeError);
    expect(new Pacer({ clock: new FakeClock(0), homePhases: 2 }).homeLoad).toEqual([0, 0]);
  });
});
