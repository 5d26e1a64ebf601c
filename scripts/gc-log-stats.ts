/**
 * gc-log-stats: the garbage collector's rows for a bench:load run, from the agents' own JavaScriptCore
 * log. Run bench:load with `--env BUN_JSC_logGC=1 --agent-log DIR`; each row leaves DIR/<row>.jsonl.stderr
 * (JSC's GC log) and .stderr-marks (every 50 ms: wall-clock ms and the stderr length then). For each row,
 * over the middle of its run (35–85 % of its time, i.e. inside the hold, not the ramp or the hang-ups):
 * collections a second (eden/full), pauses (each `p=<ms>ms` increment JSC logs: p50/p99/max), the share
 * of the time in pauses, MB allocated a second and MB per collection (heap at each START minus the heap
 * the collection before left).
 *
 *   bun run bench:load --cloud 200 --offline "" --hold 40 --versus BUN_GC_TIMER_DISABLE=1 --env BUN_JSC_logGC=1 --agent-log /tmp/gc
 *   bun scripts/gc-log-stats.ts /tmp/gc
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface GcWindowStats {
  /** JSC heap (one per VM: the call thread and each worker), from the log's `[GC<0x…>` prefix. */
  heap: string;
  seconds: number;
  eden: number;
  full: number;
  pauses: number[];
  allocatedMB: number;
}

/**
 * The GC log's numbers between stderr offsets `lo` and `hi`, per heap, most allocation first (the call
 * thread's heap at load). A collection counts where its START line is; the log's lines are split at each
 * `[GC<` so the lines two threads wrote into each other are attributed to their own heap.
 */
export function gcStats(log: string, lo: number, hi: number, seconds: number): GcWindowStats[] {
  const heaps = new Map<string, GcWindowStats & { after?: number }>();
  let at = 0;
  for (const chunk of log.split("[GC<")) {
    const start = at;
    at += chunk.length + 4;
    const m = /^(0x[0-9a-f]+)>:/.exec(chunk);
    if (!m) continue;
    let h = heaps.get(m[1]);
    if (!h) heaps.set(m[1], (h = { heap: m[1], seconds, eden: 0, full: 0, pauses: [], allocatedMB: 0 }));
    const inWindow = start >= lo && start < hi;
    const began = /START [A-Z]+ (\d+)kb => (Eden|Full)Collection/.exec(chunk);
    if (began && inWindow) {
      if (began[2] === "Eden") h.eden++;
      else h.full++;
      if (h.after !== undefined) h.allocatedMB += (Number(began[1]) - h.after) / 1024;
    }
    const left = /=> (\d+)kb, p=/.exec(chunk);
    if (left) h.after = Number(left[1]);
    if (inWindow) for (const p of chunk.matchAll(/ p=([0-9.]+)ms/g)) h.pauses.push(Number(p[1]));
  }
  const out = [...heaps.values()].map(({ after: _a, ...h }) => ({ ...h, pauses: h.pauses.sort((a, b) => a - b) }));
  return out.sort((a, b) => b.allocatedMB - a.allocatedMB);
}

const q = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0);

if (import.meta.main) {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: bun scripts/gc-log-stats.ts AGENT_LOG_DIR");
  console.log(`${"row heap".padEnd(40)}${"win s".padStart(5)}  ${"coll/s (eden+full)".padEnd(28)}${"pause p50/p99/max ms".padEnd(22)}${"share%".padStart(6)}  ${"MB/s".padStart(5)}  ${"MB/coll".padStart(6)}`);
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".stderr")).sort()) {
    const log = readFileSync(join(dir, f), "utf8");
    const marks = readFileSync(join(dir, `${f}-marks`), "utf8").split("\n").filter(Boolean).map((l) => l.split(" ").map(Number));
    if (marks.length < 2) continue;
    const t0 = marks[0][0];
    const t1 = marks[marks.length - 1][0];
    const [loT, hiT] = [t0 + (t1 - t0) * 0.35, t0 + (t1 - t0) * 0.85];
    const lo = marks.find(([t]) => t >= loT)![1];
    const hi = marks.find(([t]) => t >= hiT)![1];
    for (const s of gcStats(log, lo, hi, (hiT - loT) / 1000)) {
      const n = s.eden + s.full;
      if (n < 3) continue; // a worker's heap that hardly collects
      const share = s.pauses.reduce((a, b) => a + b, 0) / s.seconds / 10;
      console.log(
        `${f.replace(/\.jsonl\.stderr$/, "")} ${s.heap}`.padEnd(40) +
          `${s.seconds.toFixed(1).padStart(5)}  ${(n / s.seconds).toFixed(2).padStart(5)} (${s.eden}+${s.full})`.padEnd(30) +
          `${q(s.pauses, 0.5).toFixed(2)}/${q(s.pauses, 0.99).toFixed(2)}/${(s.pauses.at(-1) ?? 0).toFixed(2)}`.padEnd(22) +
          `${share.toFixed(2).padStart(6)}  ${(s.allocatedMB / s.seconds).toFixed(1).padStart(5)}  ${(s.allocatedMB / Math.max(1, n)).toFixed(1).padStart(6)}`,
      );
    }
  }
}
