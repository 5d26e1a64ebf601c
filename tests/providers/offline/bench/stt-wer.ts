/**
 * Measures the pocketsphinx provider on phone audio: WER and real-time factor per voice.
 *
 *   bun tests/providers/offline/bench/stt-wer.ts [--voices kal16,slt] [--bandfill 400] [--cmninit model]
 *        [--lm FILE] [--dict FILE] [--noise RMS] [--extra "-opt value …"] [--show]
 *
 * Each voice's 20 EVAL sentences are sent through ONE stream (as in a call): 0.5 s silence, then each
 * sentence followed by 1 s silence, pushed as 20 ms frames as fast as possible; end() drains it.
 * WER is computed over the concatenated words (so utterance splits do not matter).
 * RTF = wall time from first push to end() resolved / audio duration.
 */
import { createPocketsphinxStt } from "../../../../src/providers/pocketsphinx/pocketsphinx-stt.ts";
import type { SttEvent } from "../../../../src/providers/types.ts";
import { phoneAudio, wer } from "./audio.ts";
import { EVAL, VOICES, type Voice } from "./corpus.ts";

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const voices = (arg("voices")?.split(",") ?? [...VOICES]) as Voice[];
const stt = createPocketsphinxStt({
  endTimeoutMs: 300_000,
  maxBufferedMs: 600_000,
  extraArgs: arg("extra")?.split(" ") ?? [],
  bandFill: Number(arg("bandfill") ?? 0),
  ...(arg("cmninit") === "model" ? { cmninit: null } : {}),
  ...(arg("lm") ? { lm: arg("lm") } : {}),
  ...(arg("dict") ? { dict: arg("dict") } : {}),
});

const frames = (pcm: Int16Array) => {
  const out = [];
  for (let k = 0; k < pcm.length; k += 160) {
    const f = new Int16Array(160);
    f.set(pcm.subarray(k, k + 160));
    out.push({ pcm: f, payload: new Uint8Array(160), codec: "PCMU" as const });
  }
  return out;
};

let totalErr = 0;
let totalWords = 0;
console.log("voice    WER    RTF    utts");
for (const v of voices) {
  const parts: Int16Array[] = [new Int16Array(4000)];
  for (const s of EVAL) parts.push(phoneAudio(s, v), new Int16Array(8000));
  const audio = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let k = 0;
  for (const p of parts) {
    audio.set(p, k);
    k += p.length;
  }
  const noise = Number(arg("noise") ?? 0); // RMS of white noise added to the 8 kHz audio (line noise)
  if (noise > 0) {
    let seed = 7;
    for (let i = 0; i < audio.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      audio[i] = Math.max(-32768, Math.min(32767, audio[i]! + Math.round((seed / 4294967296 - 0.5) * noise * 3.4641)));
    }
  }
  const stream = await stt.open({ callId: v, signal: new AbortController().signal, codec: "PCMU" });
  const finals: string[] = [];
  const reader = (async () => {
    for await (const e of stream.events as AsyncIterable<SttEvent>) {
      if (e.type === "final") finals.push(e.text);
      if (e.type === "error") throw e.error;
    }
  })();
  const t0 = performance.now();
  for (const f of frames(audio)) stream.push(f);
  await stream.end();
  await reader;
  const secs = (performance.now() - t0) / 1000;
  const ref = EVAL.join(" ").split(" ");
  const hyp = finals.join(" ").split(" ").filter(Boolean);
  const w = wer(ref, hyp);
  totalErr += w * ref.length;
  totalWords += ref.length;
  console.log(`${v.padEnd(8)} ${w.toFixed(3)}  ${(secs / (audio.length / 8000)).toFixed(3)}  ${finals.length}`);
  if (process.argv.includes("--show")) for (const f of finals) console.log(`   ${f}`);
}
console.log(`all      ${(totalErr / totalWords).toFixed(3)}`);
