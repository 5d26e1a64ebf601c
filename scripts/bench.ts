/**
 * `bun run bench`: every benchmark, one after another, each printing its own table. Not part of the
 * test suite (timings on a shared machine are for reading, not for asserting).
 *
 *   appliance  binary size, exec → OPTIONS answered, idle memory          scripts/bench-appliance.ts
 *   vad        Silero cost per 20 ms frame, binary start-up to inference   scripts/bench-vad.ts
 *   latency    our added latency per turn with instant cloud fakes         scripts/bench-latency.ts
 *   barge-in   stop latency p50/p95 and false interruptions               scripts/bench-bargein.ts
 *   soak       10,000 short calls: descriptors, ports, temp files, RSS    scripts/bench-soak.ts (bun run bench:soak; not in the default list: ~10 min)
 *
 *   bun run bench [name ...]    (default: all)
 */
import { existsSync } from "node:fs";

const ALL: Record<string, string> = {
  appliance: "scripts/bench-appliance.ts",
  vad: "scripts/bench-vad.ts",
  latency: "scripts/bench-latency.ts",
  "barge-in": "scripts/bench-bargein.ts",
};
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(ALL);
let failed = 0;
for (const name of wanted) {
  const file = ALL[name];
  if (!file) {
    console.error(`bench: unknown benchmark "${name}" (have ${Object.keys(ALL).join(", ")})`);
    process.exit(2);
  }
  if (!existsSync(file)) {
    console.error(`bench: ${file} is missing`);
    failed++;
    continue;
  }
  console.log(`\n=== ${name} (${file}) ===`);
  const p = Bun.spawnSync(["bun", "run", file], { stdout: "inherit", stderr: "inherit" });
  if (p.exitCode !== 0) failed++;
}
process.exit(failed ? 1 : 0);
