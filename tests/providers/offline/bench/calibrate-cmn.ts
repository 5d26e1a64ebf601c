/**
 * Reproduces PHONE_CMNINIT (src/providers/pocketsphinx/model-dir.ts): the cepstral mean that
 * pocketsphinx's live CMN converges to on phone audio as the provider feeds it (8 kHz μ-law → PCM →
 * band-limited 8 → 16 kHz, no band fill).
 *
 *   bun tests/providers/offline/bench/calibrate-cmn.ts
 *
 * For each flite voice (kal16, slt, rms, awb) the 10 CALIBRATION sentences (disjoint from the WER
 * sentences) are written as one raw 16 kHz file and decoded by pocketsphinx_continuous with the
 * model's own start vector and the provider's front-end setting (-remove_noise no); the last
 * "cmn_live … Update to < … >" of its log is that voice's mean.
 * The printed value is the average over the voices.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resample } from "../../../../src/media/resample.ts";
import { phoneAudio } from "./audio.ts";
import { CALIBRATION } from "./corpus.ts";

const dir = mkdtempSync(join(tmpdir(), "cmn-cal-"));
const means: number[][] = [];
try {
  for (const v of ["kal16", "slt", "rms", "awb"] as const) {
    const parts: Int16Array[] = [new Int16Array(4000)];
    for (const s of CALIBRATION) parts.push(phoneAudio(s, v), new Int16Array(8000));
    const pcm8 = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    let k = 0;
    for (const p of parts) {
      pcm8.set(p, k);
      k += p.length;
    }
    const raw = join(dir, `${v}.raw`);
    await Bun.write(raw, await resample(pcm8, 8000, 16000));
    const r = Bun.spawnSync(["pocketsphinx_continuous", "-infile", raw, "-remove_noise", "no"], { stdout: "ignore", stderr: "pipe" });
    const updates = [...r.stderr.toString().matchAll(/Update to\s+<([^>]*)>/g)];
    if (!updates.length) throw new Error(`no CMN update in the log for ${v}`);
    const m = updates.at(-1)![1]!.trim().split(/\s+/).map(Number);
    console.log(`${v.padEnd(6)} ${m.map((x) => x.toFixed(2)).join(",")}`);
    means.push(m);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const avg = means[0]!.map((_, i) => means.reduce((s, m) => s + m[i]!, 0) / means.length);
console.log(`PHONE_CMNINIT = "${avg.map((x) => x.toFixed(2)).join(",")}"`);
