/**
 * How fast one CPU core runs fixed work right now, in the probe's own CPU time (waiting on the run queue
 * does not count): bench:load measures the agent's core before each row and again once its calls ended
 * (tests/support/load.ts). On this VM the same binary's rows at 200 calls fall into a "good" (~3.3 ms CPU
 * per call-second) and a "behind" (~4.5) group, and a behind row is already dearer at 40 calls, before
 * any VAD backlog; this says whether the core itself was slower around the row.
 *
 *   const s = coreSpeed(0);   // CPU µs per unit, median of the units (lower = faster)
 *
 * Units: `computeUs` 409,600 multiply-adds over a 32 KB Float64Array (L1-resident); `memoryUs` 32,768
 * dependent reads along a random cycle through an 8 MB Int32Array (last-level cache and DRAM; noisier).
 * Runs ~1.5 s in a child process (Bun's own executable) pinned with `taskset`.
 * @throws Error when the child fails
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CHILD = `
const a = new Float64Array(4096);
function compute() { let s = 0; for (let r = 0; r < 100; r++) for (let i = 0; i < a.length; i++) { a[i] = a[i] * 0.999 + i; s += a[i]; } return s; }
const n = 1 << 21;
const next = new Int32Array(n);
{ // one random cycle through all slots (Sattolo), so every read depends on the one before
  const p = new Int32Array(n); for (let i = 0; i < n; i++) p[i] = i;
  let x = 12345; for (let i = n - 1; i > 0; i--) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; const j = x % i; const t = p[i]; p[i] = p[j]; p[j] = t; }
  for (let i = 0; i < n; i++) next[p[i]] = p[(i + 1) % n];
}
let at = 0;
function memory() { let k = at; for (let i = 0; i < 32768; i++) k = next[k]; at = k; return k; }
function cpuUs(f) { const c0 = process.cpuUsage(); f(); const c = process.cpuUsage(c0); return c.user + c.system; }
for (let i = 0; i < 20; i++) { compute(); memory(); }
const cs = [], ms = [];
const t0 = performance.now();
while (performance.now() - t0 < Number(process.argv[2])) { cs.push(cpuUs(compute)); ms.push(cpuUs(memory)); }
const med = (v) => v.sort((x, y) => x - y)[v.length >> 1];
console.log(JSON.stringify({ computeUs: med(cs), memoryUs: med(ms), units: cs.length }));
`;

/** Median CPU µs per unit of fixed compute and memory work on core `cpu` (see the file's comment). */
export function coreSpeed(cpu: number, ms = 1000): { computeUs: number; memoryUs: number; units: number } {
  const dir = mkdtempSync(join(tmpdir(), "va-core-speed-"));
  try {
    const script = join(dir, "probe.js");
    writeFileSync(script, CHILD);
    const r = Bun.spawnSync(["taskset", "-c", String(cpu), process.execPath, script, String(ms)], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`core-speed probe on cpu ${cpu} failed: ${r.stderr.toString().slice(-300)}`);
    return JSON.parse(r.stdout.toString());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
