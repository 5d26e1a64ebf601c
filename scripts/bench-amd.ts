/**
 * bench-amd: what answering-machine detection costs per 20 ms frame on the media path, and how it
 * decides on phone audio.
 *
 *   bun run bench:amd
 *
 * 1. Cost per frame (µs, p50/p99 over batches of 1000 frames) of the beep detector alone and of the
 *    whole OutboundAnswer.frame (energy speech detector + beep detector + classifier tick) on speech, silence, a tone; heap growth over
 *    the run (nothing is allocated per frame, so it should stay flat).
 * 2. Beeps found in flite speech in every Debian voice (false beeps: must be 0) and in greetings + a
 *    beep at 400–2000 Hz and −30…−6 dBFS through μ-law (must all be found).
 * Prints markdown tables. Needs flite and sox (tests/media/vad/audio-fixtures.ts).
 */
import { BeepDetector } from "../src/media/beep-detector.ts";
import { OutboundAnswer } from "../src/pipeline/outbound-answer.ts";
import type { CallRecord } from "../src/pipeline/call-record.ts";
import { silentLogger } from "../src/util/log.ts";
import * as A from "../tests/media/vad/audio-fixtures.ts";

const { dir, remove } = A.makeTempDir("bench-amd-");
const GREETING =
  "Hi, you have reached the voicemail of John Smith. I can't take your call right now. Please leave your name and number after the tone and I will get back to you.";
const q = (s: number[], f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))]!;

function frames(pcm: Int16Array): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i + 160 <= pcm.length; i += 160) out.push(pcm.subarray(i, i + 160));
  return out;
}

async function costTable(): Promise<void> {
  const inputs: Record<string, Int16Array[]> = {
    speech: frames(await A.speech(dir, "slt", GREETING)),
    silence: frames(A.silence(2000)),
    "1 kHz tone": frames(await A.synth(dir, 2, ["sine", "1000"], -12)),
  };
  console.log("| input | detector p50 µs | detector p99 µs | OutboundAnswer.frame p50 µs | p99 µs |");
  console.log("|---|---|---|---|---|");
  for (const [name, fs] of Object.entries(inputs)) {
    const det: number[] = [];
    const whole: number[] = [];
    const d = new BeepDetector();
    const record = { id: "b", turns: [] } as unknown as CallRecord;
    const noop = { open() {}, hangup() {}, leaveMessage() {}, changed() {} };
    for (let batch = 0; batch < 40; batch++) {
      let t0 = performance.now();
      for (let i = 0; i < 1000; i++) d.push(fs[i % fs.length]!);
      det.push(((performance.now() - t0) * 1000) / 1000);
      // A fresh controller per batch that never decides (huge timings), so every frame runs the detector.
      const never = { decisionMs: 1e9, greetingMs: 1e9, noSpeechMs: 1e9, silenceAfterSpeechMs: 1e9, machineWords: 1e9 };
      const a = new OutboundAnswer({ amd: "message", classifier: never }, { record, log: silentLogger, actions: noop });
      t0 = performance.now();
      for (let i = 0; i < 1000; i++) a.frame(fs[i % fs.length]!);
      whole.push(((performance.now() - t0) * 1000) / 1000);
    }
    det.sort((x, y) => x - y);
    whole.sort((x, y) => x - y);
    console.log(`| ${name} | ${q(det, 0.5).toFixed(1)} | ${q(det, 0.99).toFixed(1)} | ${q(whole, 0.5).toFixed(1)} | ${q(whole, 0.99).toFixed(1)} |`);
  }
  Bun.gc(true);
  const before = process.memoryUsage().heapUsed;
  const d = new BeepDetector();
  const f = frames(A.silence(20).map(() => 3000))[0]!;
  for (let i = 0; i < 200_000; i++) d.push(f);
  Bun.gc(true);
  console.log(`\nheap after 200,000 loud frames: ${((process.memoryUsage().heapUsed - before) / 1024).toFixed(0)} KiB growth\n`);
}

async function accuracyTable(): Promise<void> {
  let falseBeeps = 0;
  let speechFrames = 0;
  for (const v of A.FLITE_VOICES) {
    const fs = frames(await A.speech(dir, v, `${GREETING} Hello? Who is this? Mmmm. Ooooh.`));
    const d = new BeepDetector();
    for (const f of fs) if (d.push(f)) falseBeeps++;
    speechFrames += fs.length;
  }
  console.log(`| speech (${A.FLITE_VOICES.length} voices) | frames ${speechFrames} | false beeps ${falseBeeps} |\n`);
  console.log("| beep Hz | level dBFS | found | end frame error (frames) |");
  console.log("|---|---|---|---|");
  const g = await A.speech(dir, "kal16", GREETING);
  for (const hz of [400, 600, 850, 1000, 1400, 1700, 2000]) {
    for (const db of [-30, -18, -6]) {
      const beep = await A.synth(dir, 0.3, ["sine", String(hz)], db);
      const fs = frames(A.concat([g, A.silence(200), beep, A.silence(400)]));
      const d = new BeepDetector();
      let at = -1;
      fs.forEach((f, i) => {
        if (d.push(f) && at < 0) at = i;
      });
      const want = (g.length + 1600 + beep.length) / 160;
      console.log(`| ${hz} | ${db} | ${at >= 0 ? "yes" : "NO"} | ${at >= 0 ? (at - want).toFixed(1) : "-"} |`);
    }
  }
}

if (!A.haveAudioTools()) {
  console.error("bench-amd needs flite and sox (scripts/bootstrap.sh --test)");
  process.exit(1);
}
await costTable();
await accuracyTable();
remove();
