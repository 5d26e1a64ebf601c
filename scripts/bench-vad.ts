/**
 * bench-vad: what the VAD costs and how the compiled binary starts.
 *
 *   bun run scripts/bench-vad.ts           cost per frame, concurrency, detection, compiled binary
 *   bun run scripts/bench-vad.ts --tune    also the measurements behind the segmenter defaults
 *   bun run scripts/bench-vad.ts --no-compile   skip building the binary
 *
 * Audio is generated here (Debian flite voices → 8 kHz μ-law → PCM; sox noise), see
 * tests/media/vad/audio-fixtures.ts. Prints markdown tables.
 */
import { join, resolve } from "node:path";
import { existsSync, statSync } from "node:fs";
import { loadSileroVad, type SileroVad } from "../src/media/vad/silero.ts";
import * as A from "../tests/media/vad/audio-fixtures.ts";

const ROOT = resolve(import.meta.dir, "..");
const SENTENCES = [
  "Hello, I would like to book a table for two people tomorrow evening, please.",
  "My account number is four five six seven, and I need to change my address.",
  "Could you tell me what time the pharmacy closes on Sunday?",
];

function q(sorted: number[], f: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))];
}
const fmt = (x: number, d = 3) => x.toFixed(d);

async function probs(vad: SileroVad, pcm: Int16Array, contextSamples?: number): Promise<number[]> {
  const s = vad.createStream(contextSamples === undefined ? undefined : { contextSamples });
  const out: number[] = [];
  for (const f of A.frames160(pcm)) out.push((await s.process(f)) ?? 0);
  return out;
}

/** Max count of p ≥ 0.5 frames in one segmenter candidate (band 0.35–0.5 pauses, < 0.35 cancels). */
function maxCandidateMs(p: number[]): number {
  let best = 0;
  let c = 0;
  let on = false;
  for (const x of p) {
    if (!on) {
      if (x >= 0.5) (on = true), (c = 1);
    } else if (x < 0.35) (on = false), (c = 0);
    else if (x >= 0.5) c++;
    best = Math.max(best, c);
  }
  return best * 20;
}

const tmp = A.makeTempDir("bench-vad-");
try {
  const t0 = performance.now();
  const vad = await loadSileroVad();
  console.log(`load (onnxruntime + session, bun run): ${fmt(performance.now() - t0, 1)} ms\n`);

  const speech: { voice: string; pcm: Int16Array }[] = [];
  for (const v of A.FLITE_VOICES) for (const t of SENTENCES) speech.push({ voice: v, pcm: await A.speech(tmp.dir, v, t) });
  const all = A.concat(speech.map((s) => s.pcm));

  // ---- cost per 20 ms frame (one stream) and per window
  {
    const s = vad.createStream();
    for (const f of A.frames160(all).slice(0, 200)) await s.process(f); // warm-up
    s.reset();
    const perFrame: number[] = [];
    for (const f of A.frames160(all)) {
      const a = performance.now();
      await s.process(f);
      perFrame.push(performance.now() - a);
    }
    perFrame.sort((x, y) => x - y);
    const win = s.stats.inferenceMsTotal / s.stats.windows;
    console.log("| VAD cost, one stream | value |\n|---|---|");
    console.log(`| frames (20 ms) | ${perFrame.length} (${fmt(perFrame.length / 50, 1)} s of audio) |`);
    console.log(`| ms per frame p50 / p99 / max | ${fmt(q(perFrame, 0.5))} / ${fmt(q(perFrame, 0.99))} / ${fmt(perFrame.at(-1)!)} |`);
    console.log(`| ms per 32 ms window (session.run) mean / max | ${fmt(win)} / ${fmt(s.stats.inferenceMsMax)} |`);
    console.log(`| CPU share of one core per call | ${fmt((100 * perFrame.reduce((a, b) => a + b, 0)) / (perFrame.length * 20), 2)} % |\n`);
  }

  // ---- N concurrent streams (calls) sharing the session
  {
    console.log("| concurrent streams | wall ms per 20 ms tick p50 / p99 | frames/s capacity |\n|---|---|---|");
    const fr = A.frames160(all).slice(0, 1500);
    for (const n of [1, 10, 50]) {
      const streams = Array.from({ length: n }, () => vad.createStream());
      const ticks: number[] = [];
      for (const f of fr) {
        const a = performance.now();
        await Promise.all(streams.map((s) => s.process(f)));
        ticks.push(performance.now() - a);
      }
      const total = ticks.reduce((x, y) => x + y, 0);
      ticks.sort((x, y) => x - y);
      console.log(`| ${n} | ${fmt(q(ticks, 0.5))} / ${fmt(q(ticks, 0.99))} | ${Math.round((n * fr.length) / (total / 1000))} |`);
    }
    console.log("");
  }

  // ---- detection
  {
    console.log("| detection (p ≥ 0.5) | context 32 | context 0 |\n|---|---|---|");
    for (const v of A.FLITE_VOICES) {
      const row: string[] = [];
      for (const ctx of [32, 0]) {
        let h = 0;
        let t = 0;
        for (const s of speech.filter((x) => x.voice === v)) {
          const p = await probs(vad, s.pcm, ctx);
          A.frames160(s.pcm).forEach((f, i) => {
            if (A.rms(f) < A.SPEECH_RMS) return;
            t++;
            if (p[i] >= 0.5) h++;
          });
        }
        row.push(`${fmt((100 * h) / t, 1)} %`);
      }
      console.log(`| speech frames, voice ${v} | ${row.join(" | ")} |`);
    }
    const noise: [string, string[], number][] = [
      ["white noise −10 dB", ["whitenoise"], -10],
      ["pink noise −10 dB", ["pinknoise"], -10],
      ["DTMF 1", ["sine", "697", "sine", "1209"], -10],
      ["sweep 200–3000 Hz", ["sine", "200-3000"], -10],
    ];
    for (const [name, kind, g] of noise) {
      const p = await probs(vad, await A.synth(tmp.dir, 3, kind, g));
      console.log(`| ${name}: max p | ${fmt(Math.max(...p))} | |`);
    }
    console.log(`| digital silence: max p | ${fmt(Math.max(...(await probs(vad, A.silence(3000)))))} | |\n`);
  }

  // ---- segmenter tuning
  if (process.argv.includes("--tune")) {
    console.log("| segmenter measurement | value |\n|---|---|");
    const words = ["no", "yes", "hi", "okay", "yeah", "stop", "wait"];
    let shortest = Infinity;
    let shortestWhat = "";
    for (const v of A.FLITE_VOICES) {
      for (const w of words) {
        const ms = maxCandidateMs(await probs(vad, A.concat([A.silence(400), await A.speech(tmp.dir, v, w), A.silence(600)])));
        if (ms < shortest) (shortest = ms), (shortestWhat = `${v} "${w}"`);
      }
    }
    console.log(`| shortest one-word speech run (must exceed minSpeechMs) | ${shortest} ms (${shortestWhat}) |`);
    for (const L of [100, 140, 180]) {
      const runs: number[] = [];
      for (const s of speech) {
        const n = L * 8;
        for (let off = 1600; off + n < s.pcm.length - 1600; off += 2400) {
          const frag = s.pcm.slice(off, off + n);
          if (A.rms(frag) < 600) continue;
          for (let k = 0; k < 40; k++) (frag[k] = (frag[k] * k) / 40), (frag[n - 1 - k] = (frag[n - 1 - k] * k) / 40);
          runs.push(maxCandidateMs(await probs(vad, A.concat([A.silence(400), frag, A.silence(600)]))));
        }
      }
      const rej = (ms: number) => `${fmt((100 * runs.filter((r) => r < ms).length) / runs.length, 0)} %`;
      console.log(`| ${L} ms speech fragments rejected at minSpeech 160 / 200 / 240 ms (n=${runs.length}) | ${rej(160)} / ${rej(200)} / ${rej(240)} |`);
    }
    let maxGap = 0;
    const lags: number[] = [];
    for (const s of speech) {
      const padded = A.concat([A.silence(500), s.pcm, A.silence(800)]);
      const p = await probs(vad, padded);
      const first = p.findIndex((x) => x >= 0.5);
      const last = p.findLastIndex((x) => x >= 0.5);
      let c = 0;
      for (let i = first; i <= last; i++) (c = p[i] < 0.35 ? c + 1 : 0), (maxGap = Math.max(maxGap, c));
      const audible = A.frames160(padded).findIndex((f) => A.rms(f) >= 100);
      lags.push((first - audible) * 20);
    }
    console.log(`| longest in-sentence pause below 0.35 (must stay under minSilenceMs) | ${maxGap * 20} ms |`);
    console.log(`| onset lag, first p ≥ 0.5 after first audible frame, max (pre-roll must cover) | ${Math.max(...lags)} ms |\n`);
  }

  // ---- compiled binary
  if (!process.argv.includes("--no-compile")) {
    const bin = join(tmp.dir, "vad-probe");
    const b = Bun.spawnSync({
      cmd: [process.execPath, "run", "scripts/build.ts", "--entry", "tests/media/vad/compiled-entry.ts", "--outfile", bin],
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    if (b.exitCode !== 0) throw new Error(`build failed: ${b.stderr}`);
    const input = new Uint8Array(A.frames160(speech[0].pcm).slice(0, 2).reduce((n, f) => n + f.byteLength, 0));
    input.set(new Uint8Array(speech[0].pcm.buffer, 0, input.length));
    const walls: number[] = [];
    const loads: number[] = [];
    for (let i = 0; i < 6; i++) {
      const a = performance.now();
      const p = Bun.spawnSync({ cmd: [bin], stdin: input, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
      const wall = performance.now() - a;
      if (p.exitCode !== 0) throw new Error(`probe failed: ${p.stderr}`);
      if (i === 0) continue; // first run fills the page cache
      walls.push(wall);
      loads.push(JSON.parse(p.stdout.toString()).loadMs);
    }
    walls.sort((x, y) => x - y);
    loads.sort((x, y) => x - y);
    console.log("| compiled binary (VAD-only entry) | value |\n|---|---|");
    console.log(`| size | ${statSync(bin).size} B (${fmt(statSync(bin).size / 2 ** 20, 1)} MiB) |`);
    console.log(`| process start → first inference → exit, median / max of 5 | ${fmt(q(walls, 0.5), 0)} / ${fmt(walls.at(-1)!, 0)} ms |`);
    console.log(`| of which loadSileroVad (extract .so, dlopen, session), median | ${fmt(q(loads, 0.5), 0)} ms |`);
    const app = join(ROOT, "dist/voice-agent");
    if (existsSync(app)) console.log(`| dist/voice-agent size | ${statSync(app).size} B (${fmt(statSync(app).size / 2 ** 20, 1)} MiB) |`);
  }
} finally {
  tmp.remove();
}
