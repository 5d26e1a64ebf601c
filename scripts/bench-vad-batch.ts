/**
 * bench-vad-batch: Silero's cost per window by batch size (onnxruntime-node, one thread, the agent's
 * session options), CPU and wall time, and how long one run holds the event loop (p50/p99) — the numbers
 * behind FLUSH_AT, MAX_BATCH and VAD_BATCH_MS (src/media/vad/batcher.ts). Random windows; a few seconds.
 *
 *   bun run scripts/bench-vad-batch.ts [--sizes 1,2,4,8,16,32,64,128]
 */
import { parseArgs } from "node:util";
import { loadOrt } from "../src/media/vad/ort-loader.ts";
import { SileroModel } from "../src/media/vad/batcher.ts";
import modelPath from "../models/silero_vad.onnx" with { type: "file" };
const ort = await loadOrt();
const session = await ort.InferenceSession.create(await Bun.file(modelPath).bytes(), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
const sr = new ort.Tensor("int64", BigInt64Array.from([8000n]), []);
const m = new SileroModel(ort, session, sr);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const { values: opt } = parseArgs({ options: { sizes: { type: "string", default: "1,2,4,8,16,32,64,128" } } });
console.log("| batch | CPU µs per window | wall µs per window | run wall p50 / p99 ms |\n|---|---|---|---|");
for (const b of opt.sizes!.split(",").map(Number)) {
  const wins = Array.from({ length: b }, () => Float32Array.from({ length: 288 }, () => (Math.random() - 0.5) * 0.2));
  const sts = Array.from({ length: b }, () => new Float32Array(256));
  const n = Math.max(20, Math.round(20000 / b));
  for (let i = 0; i < 20; i++) await m.runBatch(wins, sts);
  const c0 = cpu(), t0 = performance.now();
  const walls: number[] = [];
  for (let i = 0; i < n; i++) { const w = performance.now(); await m.runBatch(wins, sts); walls.push(performance.now() - w); }
  const c = cpu() - c0, t = performance.now() - t0;
  walls.sort((a, b) => a - b);
  console.log(`| ${b} | ${((c / n / b) * 1000).toFixed(1)} | ${((t / n / b) * 1000).toFixed(1)} | ${walls[walls.length >> 1]!.toFixed(3)} / ${walls[Math.floor(walls.length * 0.99)]!.toFixed(3)} |`);
}
