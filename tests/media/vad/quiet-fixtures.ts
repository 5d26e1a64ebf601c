/**
 * Fixtures of the quiet rule's tests (quiet.test.ts, noise-floor.test.ts): a runner that records what it
 * was given, square-wave windows of a level, seeded line noise, and a stream's result per window.
 */
import type { VadStream } from "../../../src/media/vad/silero.ts";
import type { WindowRunner } from "../../../src/media/vad/batcher.ts";
import { SILERO_CONTEXT_SAMPLES, SILERO_WINDOW_SAMPLES } from "../../../src/media/vad/framer.ts";

/** A runner that records each window's first sample and the state it was given, and marks the state it returns. */
export function recordingRunner() {
  const seen: { first: number; stateZero: boolean; state0: number }[] = [];
  const runner: WindowRunner = {
    async run(samples, state) {
      seen.push({ first: Math.round(samples[SILERO_CONTEXT_SAMPLES]! * 32768), stateZero: state.every((x) => x === 0), state0: state[0]! });
      state.fill(0.25); // any next state that is not zero
      return 0.9;
    },
  };
  return { runner, seen };
}

/** 32 ms windows of 256 samples, each filled with `value` (±: a square wave of that amplitude). */
export function windowsOf(value: number, n: number): Int16Array {
  const pcm = new Int16Array(n * SILERO_WINDOW_SAMPLES);
  for (let i = 0; i < pcm.length; i++) pcm[i] = i % 2 ? value : -value;
  return pcm;
}

/** Feeds PCM in 128-sample pieces (two per window, none left over); the stream's result per 32 ms window, in order. */
export async function perWindow(s: VadStream, pcm: Int16Array): Promise<number[]> {
  const out: number[] = [];
  let lastEnd = -1;
  for (let i = 0; i + 128 <= pcm.length; i += 128) {
    await s.process(pcm.subarray(i, i + 128));
    const r = s.last;
    if (r && r.endMs !== lastEnd) {
      out.push(r.probability);
      lastEnd = r.endMs;
    }
  }
  return out;
}

/** Gaussian-like line noise (sum of 4 uniforms, seeded) whose level is `dbfs` (the windows' mean square). */
export function lineNoise(n: number, dbfs: number, seed: number): Int16Array {
  let x = seed >>> 0;
  const amp = 10 ** (dbfs / 20) * 32768 * Math.sqrt(3); // 4 uniforms on [-0.5, 0.5): variance 1/3
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let k = 0; k < 4; k++) sum += (x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5;
    out[i] = Math.round(sum * amp);
  }
  return out;
}
