/**
 * What the agent itself just sent, as a level per 20 ms frame, so the speech detector can tell the
 * agent's own voice coming back from the line (echo: attenuated, delayed by the network and the far
 * end's hybrid) from the caller talking over it.
 *
 * Rule: while the agent plays, a caller frame whose RMS is below `maxSentRms(window) · 10^(-erlDb/20)`
 * is treated as echo. `erlDb` is the echo return loss we assume at least (G.168 requires ≥ 6 dB of a
 * hybrid; real lines give 10–30 dB); the window covers echo paths up to `windowMs`.
 */
import { ALAW_DECODE, ULAW_DECODE } from "../media/g711";

export interface EchoSettings {
  /** Minimum echo return loss assumed, dB. Caller speech quieter than the agent by more is taken as echo. */
  erlDb: number;
  /** Longest echo delay considered, ms. */
  windowMs: number;
}

/**
 * erlDb 12, checked with `bun run scripts/bench-bargein.ts --tune-only --confirm true --erl 12,15,18`:
 * at 12 no echo distractor (−20/−15/−12 dB, 40–200 ms) interrupted; at 15 echo at −12 dB did (5 of 5
 * delays) for p95 −20 ms; at 18 also echo at −15 dB (10 false) for p95 −20 ms.
 */
export const DEFAULT_ECHO: EchoSettings = { erlDb: 12, windowMs: 400 };

const FRAME_MS = 20;

export class EchoReference {
  private readonly levels: Float64Array;
  private head = 0;
  private readonly ratio: number;

  constructor(
    private readonly codec: "PCMU" | "PCMA",
    settings: EchoSettings = DEFAULT_ECHO,
  ) {
    this.levels = new Float64Array(Math.max(1, Math.ceil(settings.windowMs / FRAME_MS)));
    this.ratio = Math.pow(10, -settings.erlDb / 20);
  }

  /** Notes one frame we sent (G.711 payload as it went out; silence frames too). */
  noteSent(payload: Uint8Array): void {
    const table = this.codec === "PCMU" ? ULAW_DECODE : ALAW_DECODE;
    let e = 0;
    for (let i = 0; i < payload.length; i++) {
      const s = table[payload[i]];
      e += s * s;
    }
    this.levels[this.head] = payload.length ? Math.sqrt(e / payload.length) : 0;
    this.head = (this.head + 1) % this.levels.length;
  }

  /** Loudest frame sent within the window (RMS of 16-bit samples). */
  get maxSentRms(): number {
    let m = 0;
    for (const v of this.levels) if (v > m) m = v;
    return m;
  }

  /** True when `pcm` (a caller frame) is quiet enough, relative to what we sent, to be our echo. */
  isLikelyEcho(pcm: Int16Array): boolean {
    const ref = this.maxSentRms;
    if (ref < 30) return false; // we sent (near) silence: nothing to echo
    return rms(pcm) < ref * this.ratio;
  }
}

export function rms(pcm: Int16Array): number {
  let e = 0;
  for (let i = 0; i < pcm.length; i++) e += pcm[i] * pcm[i];
  return pcm.length ? Math.sqrt(e / pcm.length) : 0;
}
