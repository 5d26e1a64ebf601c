/**
 * What the agent itself just sent, as a level per 20 ms frame, so the speech detector can tell the
 * agent's own voice coming back from the line (echo: attenuated, delayed by the network and the far
 * end's hybrid) from the caller talking over it.
 *
 * Rule: while the agent plays, a caller frame whose RMS is below `maxSentRms(window) · 10^(-erlDb/20)`
 * is treated as echo (a Geigel-style double-talk rule). `erlDb` is the echo return loss we assume at
 * least (G.168 requires ≥ 6 dB of a hybrid; real lines give 10–30 dB); the window covers echo paths up
 * to `windowMs`. With `adaptMarginDb`, the threshold follows the echo actually observed on the line
 * (never above the erlDb rule), so a line without echo does not hide a quiet caller.
 */
import { ALAW_DECODE, ULAW_DECODE } from "../media/g711";

export interface EchoSettings {
  /** Minimum echo return loss assumed, dB. Caller speech quieter than the agent by more is taken as echo. */
  erlDb: number;
  /** Longest echo delay considered, ms. */
  windowMs: number;
  /**
   * Adapt to the echo actually on the line (off when undefined): the median of caller level ÷
   * `maxSentRms` over the last ADAPT_FRAMES frames checked while the agent played (what comes back
   * while it talks: its echo, line noise, and any talking over it), raised by this margin in dB, is
   * used instead of 10^(−erlDb/20) when it is lower. A line without echo then stops hiding a quiet
   * caller; the threshold never rises above the erlDb rule, and it starts there (ADAPT_MIN_FRAMES).
   */
  adaptMarginDb?: number;
  /**
   * The adaptive threshold stays at or above 10^(−adaptFloorDb/20): sounds quieter than the agent by
   * more than this (distant voices, a TV) are still taken for echo, i.e. never interrupt. Default 40.
   */
  adaptFloorDb?: number;
}

/**
 * From `bun run scripts/bench-bargein.ts --tune-only --confirm true --min-speech 80 --max-gap 160 --erl 12,15
 * --adapt off,12 --floor 18,24,30,40` (144 interruptions on lines without echo and with −20 dB echo; echo
 * distractors at −20/−15/−12 dB and 40–200 ms, −20/−15 dB echo appearing 6 s into the agent's speech,
 * and background voices 20 and 30 dB below the agent):
 *   - erlDb 12: no echo distractor interrupted; at 15 echo at −12 dB did (5 of 5 delays) for 20 ms of p95.
 *   - adaptMarginDb stays off. Adapting (margin 12 dB) cut p95 on lines without echo from 220 ms to
 *     120 ms (floor 40 dB) or 200 ms (floor 18 dB), but echo appearing mid-call interrupted in 10 of 10
 *     cases before the median caught up, and with a floor of 24 dB or more background voices interrupted
 *     (12 of 12 at 40 dB) against 3 of 12 with the fixed rule: a quiet caller's first syllable and a
 *     distant voice are the same level.
 */
export const DEFAULT_ECHO: EchoSettings = { erlDb: 12, windowMs: 400 };

const FRAME_MS = 20;
/** Observations (caller frames while the agent played) the adaptive rule keeps: 3 s. */
const ADAPT_FRAMES = 150;
/** Observations needed before the adaptive rule is used: 1 s of the agent talking. */
const ADAPT_MIN_FRAMES = 50;
/** The median is recomputed every this many observations (200 ms). */
const ADAPT_EVERY = 10;

export class EchoReference {
  private readonly levels: Float64Array;
  private head = 0;
  private readonly ratio: number;
  private readonly adaptGain: number | null;
  private readonly adaptFloor: number;
  private readonly seen = new Float64Array(ADAPT_FRAMES);
  private seenCount = 0;
  private adaptedRatio: number;

  constructor(
    private readonly codec: "PCMU" | "PCMA",
    settings: EchoSettings = DEFAULT_ECHO,
  ) {
    this.levels = new Float64Array(Math.max(1, Math.ceil(settings.windowMs / FRAME_MS)));
    this.ratio = Math.pow(10, -settings.erlDb / 20);
    this.adaptGain = settings.adaptMarginDb === undefined ? null : Math.pow(10, settings.adaptMarginDb / 20);
    this.adaptFloor = Math.min(this.ratio, Math.pow(10, -(settings.adaptFloorDb ?? 40) / 20));
    this.adaptedRatio = this.ratio;
  }

  /** The level ratio below which a caller frame is taken for echo now (10^(−erlDb/20) or lower, see adaptMarginDb). */
  get threshold(): number {
    return this.adaptedRatio;
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
    const level = rms(pcm);
    if (this.adaptGain !== null) this.observe(level / ref);
    return level < ref * this.adaptedRatio;
  }

  private observe(r: number): void {
    this.seen[this.seenCount++ % ADAPT_FRAMES] = r;
    if (this.seenCount < ADAPT_MIN_FRAMES || this.seenCount % ADAPT_EVERY !== 0) return;
    const xs = Array.from(this.seen.subarray(0, Math.min(this.seenCount, ADAPT_FRAMES))).sort((a, b) => a - b);
    this.adaptedRatio = Math.max(this.adaptFloor, Math.min(this.ratio, xs[xs.length >> 1]! * this.adaptGain!));
  }
}

export function rms(pcm: Int16Array): number {
  let e = 0;
  for (let i = 0; i < pcm.length; i++) e += pcm[i] * pcm[i];
  return pcm.length ? Math.sqrt(e / pcm.length) : 0;
}
