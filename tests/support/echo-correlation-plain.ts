/**
 * The echo correlation decision in its plain form, as it was before the per-frame cost was cut
 * (src/pipeline/echo-correlation.ts, session 3): modulo ring reads, <y, y> summed again for every lag
 * of every caller frame. Kept as the reference the fast form must match bit for bit
 * (tests/pipeline/echo-correlation-exact.test.ts) and as the "before" of bench:percall.
 */
import { ALAW_DECODE, ULAW_DECODE } from "../../src/media/g711";
import { NoiseFloorTracker } from "../../src/media/vad/noise-floor";
import { DEFAULT_CORRELATION_ECHO, LINE_NOISE_MARGIN_DB, type CorrelationEchoSettings, type EchoDecision } from "../../src/pipeline/echo-correlation";

const FRAME = 160;
const DECIMATE = 4;
/** Coarse candidates refined at full rate. */
const REFINE_CANDIDATES = 3;
/** Refinement half-width, samples (one coarse step). */
const REFINE_SPAN = DECIMATE;
/** Sent frames quieter than this RMS (≈ −61 dBFS) count as silence: nothing to echo. */
const SILENT_RMS = 30;
/** How long the level of what we said sets the quiet floor, in frames (2 s): covers pauses between sentences. */
const HOLD_FRAMES = 100;
/** c² of a frame that sets the echo path (echo-residual.ts): from then on line noise is searched too. */
const PATH_SHARE = 0.9;

export class PlainCorrelationEcho implements EchoDecision {
  private readonly table: Int16Array | readonly number[];
  private readonly maxLag: number;
  private readonly cap: number;
  /** Sent samples, ring; `sent[(n) % cap]` is sample n. */
  private readonly sent: Float32Array;
  /** 4:1 decimated sent samples (means of 4), ring of cap/4. */
  private readonly sentD: Float32Array;
  /** RMS of the sent frames of the last HOLD_FRAMES (ring). */
  private readonly sentRms = new Float32Array(HOLD_FRAMES);
  /** Frames of the search window (the newest of `sentRms`). */
  private readonly windowFrames: number;
  private n = 0;
  private frames = 0;
  private readonly maxGain: number;
  private readonly quietRatio: number;
  private readonly xd = new Float32Array(FRAME / DECIMATE);
  /** Diagnostics: the last decision's best correlation², delay (samples) and gain. */
  last = { share: 0, lag: -1, gain: 0 };
  /** See EchoDecision.lastLevelDb. */
  lastLevelDb: number | undefined;
  /** See EchoDecision.lastQuiet. */
  lastQuiet = false;
  /** The caller's line-noise level (minimum statistics of the frames' mean squares), and whether an echo path was seen. */
  private readonly lineNoise = new NoiseFloorTracker();
  private pathSeen = false;

  constructor(
    codec: "PCMU" | "PCMA",
    private readonly settings: CorrelationEchoSettings = DEFAULT_CORRELATION_ECHO,
    /** false: louder line noise is searched as before session 18 (the rule's own test compares the two). */
    private readonly lineNoiseRule = true,
  ) {
    this.table = codec === "PCMU" ? ULAW_DECODE : ALAW_DECODE;
    this.maxLag = Math.round(settings.maxDelayMs * 8);
    // Ring big enough for the window, the frame and the refinement margin, rounded to whole frames.
    this.cap = Math.ceil((this.maxLag + 2 * FRAME + 2 * REFINE_SPAN) / FRAME) * FRAME;
    this.sent = new Float32Array(this.cap);
    this.sentD = new Float32Array(this.cap / DECIMATE);
    this.windowFrames = this.cap / FRAME;
    this.maxGain = Math.pow(10, -settings.minLossDb / 20);
    this.quietRatio = Math.pow(10, -settings.quietFloorDb / 20);
  }

  noteSent(payload: Uint8Array): void {
    let e = 0;
    for (let i = 0; i < payload.length; i++) {
      const v = this.table[payload[i]!]!;
      this.sent[(this.n + i) % this.cap] = v;
      e += v * v;
    }
    for (let k = 0; k < payload.length; k += DECIMATE) {
      const b = this.n + k;
      let s = 0;
      for (let j = 0; j < DECIMATE; j++) s += this.sent[(b + j) % this.cap]!;
      this.sentD[(b / DECIMATE) % this.sentD.length] = s / DECIMATE;
    }
    this.sentRms[this.frames++ % HOLD_FRAMES] = payload.length ? Math.sqrt(e / payload.length) : 0;
    this.n += payload.length;
  }

  isLikelyEcho(pcm: Int16Array, agentTalking = false): boolean {
    this.last = { share: 0, lag: -1, gain: 0 };
    this.lastLevelDb = undefined;
    this.lastQuiet = false;
    let e0 = 0;
    for (let i = 0; i < pcm.length; i++) e0 += pcm[i]! * pcm[i]!;
    const noise = this.lineNoise.note(e0 / (pcm.length || 1));
    if (pcm.length !== FRAME || this.n < FRAME) return false;
    let maxWindow = 0;
    let maxHold = 0;
    for (let k = 0; k < HOLD_FRAMES; k++) {
      const v = this.sentRms[(this.frames - 1 - k + HOLD_FRAMES * 2) % HOLD_FRAMES]!;
      if (v > maxHold) maxHold = v;
      if (k < this.windowFrames && v > maxWindow) maxWindow = v;
    }
    const floor = agentTalking && maxHold >= SILENT_RMS ? maxHold * this.quietRatio : 0;
    const levelDb = (rms: number) => (maxHold >= SILENT_RMS ? 20 * Math.log10(rms / maxHold) : undefined);
    if (maxWindow < SILENT_RMS) {
      const rms = rmsOf(pcm);
      this.lastLevelDb = levelDb(rms);
      this.lastQuiet = floor > 0 && rms < floor; // nothing of ours to echo now
      return this.lastQuiet;
    }
    let ex = 0;
    for (let i = 0; i < FRAME; i++) ex += pcm[i]! * pcm[i]!;
    this.lastLevelDb = levelDb(Math.sqrt(ex / FRAME));
    if (ex === 0) return (this.lastQuiet = floor > 0); // digital silence while we talk: under any quiet floor
    // Line noise while we talk (session 14): under SILENT_RMS and the quiet floor, taken by the floor unsearched.
    const q = Math.min(SILENT_RMS, floor);
    if (floor > 0 && ex < q * q * FRAME) return (this.lastQuiet = true);
    // Louder line noise (session 18): under the quiet floor, within LINE_NOISE_MARGIN_DB of the tracked noise,
    // no echo path seen yet on the call: taken by the floor unsearched.
    if (this.lineNoiseRule && floor > 0 && !this.pathSeen && ex < floor * floor * FRAME && ex / FRAME <= noise * 10 ** (LINE_NOISE_MARGIN_DB / 10)) return (this.lastQuiet = true);
    // The frame's samples correspond to sent samples [end - FRAME - L, end - L) for lag L.
    const end = this.n;
    const maxLag = Math.min(this.maxLag, end - FRAME);
    const cands = this.coarse(pcm, end, maxLag);
    let best = 0;
    let bestLag = -1;
    let bestGain = 0;
    for (const c of cands) {
      const from = Math.max(0, c - REFINE_SPAN);
      const to = Math.min(maxLag, c + REFINE_SPAN);
      for (let lag = from; lag <= to; lag++) {
        let xy = 0;
        let yy = 0;
        const start = end - FRAME - lag;
        for (let i = 0; i < FRAME; i++) {
          const y = this.sent[(start + i) % this.cap]!;
          xy += pcm[i]! * y;
          yy += y * y;
        }
        if (yy <= 0 || xy <= 0) continue;
        const share = (xy * xy) / (ex * yy);
        if (share > best) {
          best = share;
          bestLag = lag;
          bestGain = xy / yy;
        }
      }
    }
    this.last = { share: best, lag: bestLag, gain: bestGain };
    const explained = bestGain <= this.maxGain ? best : 0;
    const residual = Math.sqrt((ex * (1 - explained)) / FRAME);
    if (explained >= PATH_SHARE) this.pathSeen = true;
    this.lastLevelDb = levelDb(residual);
    if (explained >= this.settings.minEchoShare) return true;
    // What is left once our echo is out: too quiet next to what we are saying to be the caller.
    this.lastQuiet = residual < floor;
    return this.lastQuiet;
  }

  /** Best coarse lags (multiples of DECIMATE, full-rate samples), highest normalized correlation first. */
  private coarse(pcm: Int16Array, end: number, maxLag: number): number[] {
    const m = FRAME / DECIMATE;
    const xd = this.xd;
    let xx = 0;
    for (let k = 0; k < m; k++) {
      let s = 0;
      for (let j = 0; j < DECIMATE; j++) s += pcm[k * DECIMATE + j]!;
      xd[k] = s / DECIMATE;
      xx += xd[k]! * xd[k]!;
    }
    const top: number[] = [];
    const topScore: number[] = [];
    if (xx === 0) return top;
    const ring = this.sentD;
    const rn = ring.length;
    // end is a multiple of FRAME, hence of DECIMATE.
    const endD = end / DECIMATE;
    for (let lagD = 0; lagD * DECIMATE <= maxLag; lagD++) {
      const start = endD - m - lagD;
      let xy = 0;
      let yy = 0;
      for (let k = 0; k < m; k++) {
        const y = ring[(start + k) % rn]!;
        xy += xd[k]! * y;
        yy += y * y;
      }
      if (yy <= 0 || xy <= 0) continue;
      const score = (xy * xy) / yy; // ∝ c² (xx is the same for every lag)
      if (top.length < REFINE_CANDIDATES || score > topScore[topScore.length - 1]!) {
        let i = top.length < REFINE_CANDIDATES ? top.length : REFINE_CANDIDATES - 1;
        top[i] = lagD * DECIMATE;
        topScore[i] = score;
        while (i > 0 && topScore[i]! > topScore[i - 1]!) {
          [top[i], top[i - 1]] = [top[i - 1]!, top[i]!];
          [topScore[i], topScore[i - 1]] = [topScore[i - 1]!, topScore[i]!];
          i--;
        }
      }
    }
    return top;
  }
}

function rmsOf(pcm: Int16Array): number {
  let e = 0;
  for (let i = 0; i < pcm.length; i++) e += pcm[i]! * pcm[i]!;
  return pcm.length ? Math.sqrt(e / pcm.length) : 0;
}
