/**
 * Real-time latency of the pocketsphinx provider: audio pushed at 20 ms pace like a live call; measures
 * the time from the last frame of speech to the "final" event, (a) letting pocketsphinx's VAD find the
 * end (silence keeps flowing), (b) calling flush() right after the speech (as the pipeline's own
 * endpointing does).
 *
 *   bun tests/providers/offline/bench/stt-latency.ts [--post 50] [--voice kal16]
 */
import { createPocketsphinxStt } from "../../../../src/providers/pocketsphinx/pocketsphinx-stt.ts";
import type { AudioFrame, SttEvent } from "../../../../src/providers/types.ts";
import { phoneAudio } from "./audio.ts";
import type { Voice } from "./corpus.ts";

const arg = (n: string) => {
  const i = process.argv.indexOf(`--${n}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const post = Number(arg("post") ?? 50);
const voice = (arg("voice") ?? "kal16") as Voice;
const sentences = ["my name is john smith", "i have a question about my bill", "yes that is right"];
const frame = (pcm: Int16Array, k: number): AudioFrame => {
  const f = new Int16Array(160);
  f.set(pcm.subarray(k, k + 160));
  return { pcm: f, payload: new Uint8Array(160), codec: "PCMU" };
};

for (const mode of ["vad", "flush"] as const) {
  const s = await createPocketsphinxStt({ vad: { postSpeechFrames: post }, extraArgs: arg("extra")?.split(" ") ?? [] }).open({ callId: "l", signal: new AbortController().signal, codec: "PCMU" });
  let lastSpeech = 0;
  const lat: number[] = [];
  const texts: string[] = [];
  const reader = (async () => {
    for await (const e of s.events as AsyncIterable<SttEvent>) {
      if (e.type === "final") {
        lat.push(performance.now() - lastSpeech);
        texts.push(e.text);
      }
    }
  })();
  // Real-time pacing against a monotonic deadline.
  let due = performance.now();
  const pace = async () => {
    due += 20;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
  };
  const silence = new Int16Array(160);
  for (let i = 0; i < 100; i++) (s.push(frame(silence, 0)), await pace()); // 2 s: model loads meanwhile
  for (const text of sentences) {
    const pcm = phoneAudio(text, voice);
    due = performance.now();
    for (let k = 0; k < pcm.length; k += 160) (s.push(frame(pcm, k)), await pace());
    lastSpeech = performance.now();
    if (mode === "flush") s.flush();
    for (let i = 0; i < 100; i++) (s.push(frame(silence, 0)), await pace()); // 2 s gap
  }
  await s.end();
  await reader;
  console.log(`post=${post} ${mode.padEnd(5)} latency ms: ${lat.map((x) => Math.round(x)).join(", ")}  | ${texts.join(" / ")}`);
}
