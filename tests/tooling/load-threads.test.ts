/**
 * bench:load's CPU by thread (tests/support/load-probes.ts): thread names (comm) sorted into kinds, and
 * the split read from this process's own /proc/<pid>/task/<tid>/stat while its main thread computes; the
 * warm-up wave's count of the agent's ended calls (tests/support/load-warmup.ts) from /metrics text.
 */
import { describe, expect, test } from "bun:test";
import { cpuTicks, threadKind, threadLine, threadSplit, threadTicks } from "../support/load-probes.ts";
import { callsEnded } from "../support/load-warmup.ts";

describe("agent threads by kind", () => {
  test("the names Bun 1.4.5's compiled agent gives its threads (ps -L, 7 Dec 2026)", () => {
    const kinds = Object.fromEntries(["main", "Worker", "JITWorker", "HeapHelper", "Heap Helper Thr", "JSCWarmUp", "mi-scavenger", "HTTP Client", "Bun Pool 0", "fs.watch"].map((n) => [n, threadKind(n)]));
    expect(kinds).toEqual({ main: "main", Worker: "workers", JITWorker: "jit", HeapHelper: "gc", "Heap Helper Thr": "gc", JSCWarmUp: "gc", "mi-scavenger": "alloc", "HTTP Client": "http", "Bun Pool 0": "rest", "fs.watch": "rest" });
  });

  test("this process's main thread computing shows as main; the kinds add up to the process's CPU", () => {
    const t0 = threadTicks(process.pid);
    const p0 = cpuTicks(process.pid);
    const w0 = performance.now();
    // Compute until the main thread has 30 more ticks (0.3 s of CPU), whatever the machine's load.
    let x = 0;
    while ((threadTicks(process.pid).get("main") ?? 0) - (t0.get("main") ?? 0) < 30) for (let i = 0; i < 1e6; i++) x += Math.sqrt(i);
    const seconds = (performance.now() - w0) / 1000;
    const t1 = threadTicks(process.pid);
    const split = threadSplit(t0, t1, seconds);
    const processPct = ((cpuTicks(process.pid) - p0) / 100 / seconds) * 100;
    expect(x).toBeGreaterThan(0);
    expect(split.main).toBeGreaterThanOrEqual(30 / seconds - 0.001);
    expect(split.main).toBeGreaterThan(split.jit + split.gc + split.alloc + split.http + split.rest + split.workers);
    // Threads that ended between the readings drop out of the split, never in: it is at most the process's
    // (read after it; the kernel scales a thread's and the process's utime/stime apart: a few ticks of slack).
    const sum = Object.values(split).reduce((a, b) => a + b, 0);
    expect(sum).toBeLessThanOrEqual(processPct + 5 / seconds);
    expect(threadLine(t0, t1, seconds)).toMatch(/^main \d+\.\d/);
  });
});

describe("calls the agent counted", () => {
  test("voice_agent_calls_total summed over its labels", () => {
    const text = [
      "# HELP voice_agent_calls_total Calls that ended or were refused, by direction and result.",
      "# TYPE voice_agent_calls_total counter",
      'voice_agent_calls_total{direction="inbound",result="completed"} 198',
      'voice_agent_calls_total{direction="inbound",result="rtp_timeout"} 2',
      'voice_agent_calls_total_created{direction="inbound"} 5',
      "voice_agent_active_calls 0",
    ].join("\n");
    expect(callsEnded(text)).toBe(200);
    expect(callsEnded("voice_agent_active_calls 3\n")).toBe(0);
  });
});
