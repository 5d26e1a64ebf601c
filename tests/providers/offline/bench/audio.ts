/**
 * Renders a sentence as a caller would send it: Debian flite / espeak-ng → sox → 8 kHz μ-law (G.711)
 * → decoded back to 8 kHz PCM16 (sox's μ-law decoder). Needs flite, espeak-ng and sox on PATH.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Voice } from "./corpus.ts";

function run(cmd: string[]): Uint8Array {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd[0]} failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

/** 8 kHz PCM16 of `text` spoken by `voice`, after a μ-law round trip. */
export function phoneAudio(text: string, voice: Voice): Int16Array {
  const dir = mkdtempSync(join(tmpdir(), "stt-bench-"));
  try {
    const wav = join(dir, "s.wav");
    const ulaw = join(dir, "s.ulaw");
    if (voice === "espeak") run(["espeak-ng", "-v", "en-us", "-w", wav, text]);
    else run(["flite", "-voice", voice, "-t", text, "-o", wav]);
    run(["sox", "-V1", wav, "-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw", ulaw]);
    const pcm = run(["sox", "-V1", "-t", "raw", "-r", "8000", "-c", "1", "-e", "mu-law", ulaw, "-t", "raw", "-e", "signed", "-b", "16", "-"]);
    return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength >> 1).slice();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Word error rate: Levenshtein distance over words / reference length. */
export function wer(ref: string[], hyp: string[]): number {
  let prev = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const cur = [i];
    for (let j = 1; j <= hyp.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[hyp.length]! / Math.max(1, ref.length);
}
