/**
 * util/thread-sched.ts on this Linux kernel: the calling thread's slice and nice value change, as the
 * kernel reports them in /proc (se.slice in /proc/PID/task/TID/sched, nice in …/stat field 19), and only
 * that thread's (run in a Worker, so the test process's own thread keeps its values).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { raiseThreadNice, setThreadSlice, threadId } from "../../src/util/thread-sched.ts";

const linux = process.platform === "linux" && (process.arch === "x64" || process.arch === "arm64");
const task = (tid: number, f: string) => readFileSync(`/proc/${process.pid}/task/${tid}/${f}`, "utf8");
const sliceNs = (tid: number) => Number(/^se\.slice\s*:\s*(\d+)/m.exec(task(tid, "sched"))?.[1] ?? NaN);
const nice = (tid: number) => Number(task(tid, "stat").slice(task(tid, "stat").lastIndexOf(") ") + 2).split(" ")[16]);
const hasSlice = linux && Number.isFinite(sliceNs(process.pid));

/** Runs `code` (a module body with these imports) in a Worker; `check` gets what it posts while its thread still runs. */
async function inWorker(code: string, check: (posted: any) => void): Promise<void> {
  const src = `import { raiseThreadNice, setThreadSlice, threadId } from ${JSON.stringify(new URL("../../src/util/thread-sched.ts", import.meta.url).pathname)};\n${code}`;
  const url = URL.createObjectURL(new Blob([src], { type: "application/typescript" }));
  const w = new Worker(url);
  try {
    check(
      await new Promise((resolve, reject) => {
        w.onmessage = (e) => resolve(e.data);
        w.onerror = (e) => reject(new Error(e.message));
      }),
    );
  } finally {
    w.terminate();
  }
}

describe.skipIf(!hasSlice)("thread-sched (Linux, /proc)", () => {
  test("threadId is this thread's id: the main thread's is the process id", () => {
    expect(threadId()).toBe(process.pid);
  });

  test("setThreadSlice sets the calling thread's slice (µs → ns in /proc), keeps its nice value, and no other thread's", async () => {
    const mainSlice = sliceNs(process.pid);
    await inWorker(
      `postMessage({ r: setThreadSlice(350), tid: threadId() });
       await new Promise((r) => setTimeout(r, 10_000));`,
      (r) => {
        expect(r.r).toEqual({ ok: true, tid: r.tid });
        expect(r.tid).not.toBe(process.pid);
        expect(sliceNs(r.tid)).toBe(350_000);
        expect(nice(r.tid)).toBe(nice(process.pid));
      },
    );
    expect(sliceNs(process.pid)).toBe(mainSlice);
  });

  test("raiseThreadNice raises the calling thread's nice value by the amount given (capped at 19), that thread only", async () => {
    const base = nice(process.pid);
    await inWorker(
      `const a = raiseThreadNice(2);
       const b = raiseThreadNice(40);
       postMessage({ a, b, tid: threadId() });
       await new Promise((r) => setTimeout(r, 10_000));`,
      (r) => {
        expect(r.a).toEqual({ ok: true, tid: r.tid, nice: Math.min(19, base + 2) });
        expect(r.b.nice).toBe(19);
        expect(nice(r.tid)).toBe(19);
      },
    );
    expect(nice(process.pid)).toBe(base);
  });

  test("raiseHelperThreadsNice raises the runtime's helper threads' nice value, not the caller's nor a Worker's; a repeat skips the threads done", () => {
    // In a child process: the test runner's own threads keep their values.
    const mod = JSON.stringify(new URL("../../src/util/thread-sched.ts", import.meta.url).pathname);
    const script = `import { raiseHelperThreadsNice } from ${mod};
      import { readdirSync, readFileSync } from "node:fs";
      const w = new Worker(URL.createObjectURL(new Blob(["setInterval(() => {}, 1000)"])));
      await Bun.sleep(300);
      const threads = () => readdirSync("/proc/self/task").map((t) => {
        const stat = readFileSync("/proc/self/task/" + t + "/stat", "utf8");
        return { tid: Number(t), name: readFileSync("/proc/self/task/" + t + "/comm", "utf8").trim(), nice: Number(stat.slice(stat.lastIndexOf(") ") + 2).split(" ")[16]) };
      });
      const before = threads();
      const done = new Set();
      const first = raiseHelperThreadsNice(3, done);
      const again = raiseHelperThreadsNice(3, done);
      console.log(JSON.stringify({ pid: process.pid, before, after: threads(), first, again }));
      w.terminate();
      process.exit(0);`;
    const r = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    const o = JSON.parse(r.stdout.toString().trim().split("\n").pop()!);
    const was = new Map<number, number>(o.before.map((t: any) => [t.tid, t.nice]));
    const helpers = o.after.filter((t: any) => t.tid !== o.pid && t.name !== "Worker" && was.has(t.tid));
    expect(helpers.length).toBeGreaterThan(0); // JITWorker, mi-scavenger, … (Bun's runtime threads)
    for (const t of helpers) expect(t.nice).toBe(Math.min(19, was.get(t.tid)! + 3));
    for (const t of o.after.filter((t: any) => t.tid === o.pid || t.name === "Worker")) expect(t.nice).toBe(was.get(t.tid));
    expect(o.after.some((t: any) => t.name === "Worker")).toBe(true);
    expect(o.first.changed.length).toBe(helpers.length);
    expect(o.again.changed.length).toBeLessThanOrEqual(o.after.length - o.before.length); // only threads started meanwhile
  });

  test("raiseHelperThreadsNice leaves the threads named in `keep` alone and raises the other helpers", () => {
    const mod = JSON.stringify(new URL("../../src/util/thread-sched.ts", import.meta.url).pathname);
    const script = `import { raiseHelperThreadsNice } from ${mod};
      import { readdirSync, readFileSync } from "node:fs";
      await Bun.sleep(300);
      const threads = () => readdirSync("/proc/self/task").map((t) => {
        const stat = readFileSync("/proc/self/task/" + t + "/stat", "utf8");
        return { tid: Number(t), name: readFileSync("/proc/self/task/" + t + "/comm", "utf8").trim(), nice: Number(stat.slice(stat.lastIndexOf(") ") + 2).split(" ")[16]) };
      });
      const before = threads();
      const kept = before.find((t) => t.tid !== process.pid).name;
      const r = raiseHelperThreadsNice(4, new Set(), new Set([kept]));
      console.log(JSON.stringify({ pid: process.pid, before, after: threads(), kept, r }));
      process.exit(0);`;
    const r = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    const o = JSON.parse(r.stdout.toString().trim().split("\n").pop()!);
    const was = new Map<number, number>(o.before.map((t: any) => [t.tid, t.nice]));
    const old = o.after.filter((t: any) => t.tid !== o.pid && was.has(t.tid));
    const kept = old.filter((t: any) => t.name === o.kept);
    const raised = old.filter((t: any) => t.name !== o.kept);
    expect(kept.length).toBeGreaterThan(0);
    expect(raised.length).toBeGreaterThan(0); // Bun starts several helper threads (JITWorker, mi-scavenger, Bun Pool …)
    for (const t of kept) expect(t.nice).toBe(was.get(t.tid));
    for (const t of raised) expect(t.nice).toBe(Math.min(19, was.get(t.tid)! + 4));
    expect(o.r.changed).not.toContain(o.kept);
  });
});
