/**
 * bench-vad-batch: Silero's cost per window by batch size (onnxruntime-node, one thread, the agent's
 * session options), CPU and wall time, and how long one run holds the event loop (p50/p99) — the numbers
 * behind FLUSH_AT, MAX_BATCH and VAD_BATCH_MS (src/media/vad/batcher.ts). Random windows; a few seconds.
 * With --options, the same CPU per window for onnxruntime session options other than the agent's
 * (model.ts openSileroSession), each a session of its own, measured in rounds that rotate the order (median).
 *
 *   bun run scripts/bench-vad-batch.ts [--sizes 1,2,4,8,16,32,64,128]
 *   bun run scripts/bench-vad-batch.ts --options [--rounds 3]      the agent's options against the variants below
 *
 * Measured on the project VM (8 Dec 2026 00:00, pinned to CPU 0 under the bench lock, 4 rounds), CPU µs per window:
 *   batch                 1     4     8    16    32    64   128
 *   agent's options     116    47    34    26    25    23    23
 *   extended            119    48    35    27    24    23    22
 *   basic               116    49    37    27    25    24    23
 *   no CPU mem arena    116    46    34    27    24    23    23
 *   no memory pattern   120    46    34    26    24    24    22
 *   denormals as zero   116    47    34    27    25    23    23
 *   no spinning         118    47    33    27    24    23    24
 * No variant differs from the agent's options by more than 5 % (an earlier run, 3 rounds in a fixed order on a
 * slower host: all within ±10 %, none ahead at every size).
 */
import { parseArgs } from "node:util";
import { loadOrt } from "../src/media/vad/ort-loader.ts";
import { SileroModel } from "../src/media/vad/batcher.ts";
import modelPath from "../models/silero_vad.onnx" with { type: "file" };
const ort = await loadOrt();
const bytes = await Bun.file(modelPath).bytes();
/** The agent's session options (model.ts openSileroSession). */
const AGENT = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" } as const;
/** Session options tried against the agent's (--options). */
const VARIANTS: Record<string, object> = {
  "agent's options": AGENT,
  extended: { ...AGENT, graphOptimizationLevel: "extended" },
  basic: { ...AGENT, graphOptimizationLevel: "basic" },
  "no CPU mem arena": { ...AGENT, enableCpuMemArena: false },
  "no memory pattern": { ...AGENT, enableMemPattern: false },
  "denormals as zero": { ...AGENT, extra: { session: { set_denormal_as_zero: "1" } } },
  "no spinning": { ...AGENT, extra: { session: { "intra_op.allow_spinning": "0" } } },
};
const sr = new ort.Tensor("int64", BigInt64Array.from([8000n]), []);
const modelOf = async (options: object) => new SileroModel(ort, await ort.InferenceSession.create(bytes, options), sr);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const { values: opt } = parseArgs({ options: { sizes: { type: "string" }, options: { type: "boolean", default: false }, rounds: { type: "string", default: "3" } } });
const sizes = (opt.sizes ?? (opt.options ? "1,4,8,16,32,64,128" : "1,2,4,8,16,32,64,128")).split(",").map(Number);
const windowsOf = (b: number) => ({ wins: Array.from({ length: b }, () => Float32Array.from({ length: 288 }, () => (Math.random() - 0.5) * 0.2)), sts: Array.from({ length: b }, () => new Float32Array(256)) });

if (!opt.options) {
  const m = await modelOf(AGENT);
  console.log("| batch | CPU µs per window | wall µs per window | run wall p50 / p99 ms |\n|---|---|---|---|");
  for (const b of sizes) {
    const { wins, sts } = windowsOf(b);
    const n = Math.max(20, Math.round(20000 / b));
    for (let i = 0; i < 20; i++) await m.runBatch(wins, sts);
    const c0 = cpu(), t0 = performance.now();
    const walls: number[] = [];
    for (let i = 0; i < n; i++) { const w = performance.now(); await m.runBatch(wins, sts); walls.push(performance.now() - w); }
    const c = cpu() - c0, t = performance.now() - t0;
    walls.sort((a, b) => a - b);
    console.log(`| ${b} | ${((c / n / b) * 1000).toFixed(1)} | ${((t / n / b) * 1000).toFixed(1)} | ${walls[walls.length >> 1]!.toFixed(3)} / ${walls[Math.floor(walls.length * 0.99)]!.toFixed(3)} |`);
  }
} else {
  const names = Object.keys(VARIANTS);
  const models = new Map<string, SileroModel>();
  for (const v of names) models.set(v, await modelOf(VARIANTS[v]!));
  const us = new Map<string, number[]>(); // `${variant} ${b}` → CPU µs per window, one per round
  for (let r = 0; r < Number(opt.rounds); r++) {
    for (const b of sizes) {
      const { wins, sts } = windowsOf(b);
      // Each round starts with another variant (the first one measured after a switch ran slower).
      for (const v of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
        const m = models.get(v)!;
        const n = Math.max(20, Math.round(6000 / b));
        for (let i = 0; i < 10; i++) await m.runBatch(wins, sts);
        const c0 = cpu();
        for (let i = 0; i < n; i++) await m.runBatch(wins, sts);
        const k = `${v} ${b}`;
        us.set(k, [...(us.get(k) ?? []), ((cpu() - c0) / n / b) * 1000]);
      }
    }
  }
  const median = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!;
  console.log(`| session options | ${sizes.map((b) => `batch ${b}`).join(" | ")} |\n|---|${sizes.map(() => "---").join("|")}|`);
  for (const v of names) console.log(`| ${v} | ${sizes.map((b) => median(us.get(`${v} ${b}`)!).toFixed(1)).join(" | ")} |`);
  console.log("CPU µs per window, median of rounds");
}
