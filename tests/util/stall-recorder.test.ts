import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { STALL_RX, STALL_TICK, STALL_VAD, StallRecorder, ThreadSchedSampler } from "../../src/util/stall-recorder.ts";

describe("StallRecorder", () => {
  test("a late window is split into the kinds of work recorded in it, and what none covers", () => {
    const r = new StallRecorder(64);
    r.note(STALL_TICK, 0, 3); // before the window: only its overlap counts
    r.note(STALL_VAD, 4, 6.5);
    r.note(STALL_RX, 7, 7.5);
    r.note(STALL_RX, 12, 13); // after the window
    const e = r.explain(2, 10);
    expect(e.busy).toEqual({ tick: 1, rx: 0.5, vad: 2.5, ws: 0, end: 0 });
    expect(e.otherMs).toBe(4); // 8 ms window − 4 ms covered
  });

  test("spans of one kind close together are one entry; overlapping kinds are not counted twice in otherMs", () => {
    const r = new StallRecorder(4);
    for (let i = 0; i < 100; i++) r.note(STALL_RX, i * 0.01, i * 0.01 + 0.005); // a burst of datagrams
    r.note(STALL_VAD, 0.5, 2);
    r.note(STALL_TICK, 3, 4);
    r.note(STALL_RX, 3.5, 5); // overlaps the tick
    const e = r.explain(0, 6);
    expect(e.busy.rx).toBeCloseTo(2.5, 5); // burst 0–0.995 (one entry) + 3.5–5
    expect(e.busy.vad).toBe(1.5);
    expect(e.otherMs).toBe(2); // 6 ms − covered 0–2 and 3–5
  });

  test("the ring keeps the newest spans", () => {
    const r = new StallRecorder(2);
    r.note(STALL_VAD, 0, 1);
    r.note(STALL_TICK, 2, 3);
    r.note(STALL_RX, 4, 5); // overwrites the VAD span
    expect(r.explain(0, 5).busy).toEqual({ tick: 1, rx: 1, vad: 0, ws: 0, end: 0 });
  });
});

describe("ThreadSchedSampler", () => {
  test.skipIf(!existsSync("/proc/thread-self/schedstat"))("a busy thread's time on the CPU is counted between two samples", () => {
    const s = new ThreadSchedSampler();
    expect(s.sample(performance.now())).toBeUndefined();
    const t0 = performance.now();
    while (performance.now() - t0 < 60) {
      // busy for 60 ms (reads are at least 50 ms apart: SCHED_SAMPLER_BOUNDS.minGapMs)
    }
    const d = s.sample(performance.now())!;
    expect(d.wallMs).toBeGreaterThanOrEqual(60);
    expect(d.runMs + d.queuedMs).toBeGreaterThan(40); // ran, or waited for the core on a busy machine
    // Each sample reads schedstat after `at` was taken: the run time also covers the second read (CI: 31.7 ms
    // run against 30.3 wall on a busy machine), so the bound has the read's time as slack, not 1 ms.
    expect(d.runMs).toBeLessThanOrEqual(d.wallMs + 5);
  });
});
