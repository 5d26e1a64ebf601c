/**
 * Entry compiled by compiled.test.ts into a standalone binary. Reads raw s16le 8 kHz mono PCM from
 * stdin, runs the VAD over it in 20 ms frames and prints one JSON line:
 *   { compiled, extractedDir, extractedDirExists, maxProbability, windows, loadMs }
 * With `--wait` it then stays alive until a signal arrives (to test SIGTERM behaviour).
 */
import { existsSync } from "node:fs";
import { loadSileroVad } from "../../../src/media/vad/silero.ts";
import { ortLoadInfo } from "../../../src/media/vad/ort-loader.ts";

const vad = await loadSileroVad();
vad.silenceFloorDbfs = -Infinity; // every window scored: `windows` counts them all (the quiet rule has tests of its own)
const info = ortLoadInfo();
const pcm = new Int16Array(await Bun.stdin.arrayBuffer());
const s = vad.createStream();
let maxProbability = 0;
for (let i = 0; i + 160 <= pcm.length; i += 160) {
  maxProbability = Math.max(maxProbability, (await s.process(pcm.subarray(i, i + 160))) ?? 0);
}
console.log(
  JSON.stringify({
    compiled: info?.compiled ?? null,
    extractedDir: info?.extractedDir ?? null,
    extractedDirExists: info?.extractedDir ? existsSync(info.extractedDir) : null,
    maxProbability,
    windows: s.stats.windows,
    loadMs: vad.loadMs,
  }),
);
if (process.argv.includes("--wait")) setInterval(() => {}, 1 << 30);
