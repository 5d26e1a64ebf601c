/**
 * Echo decision that knows what we sent: is a caller frame our own voice coming back?
 *
 * The far end (a hybrid, a speakerphone) returns what we sent, attenuated and delayed by the network
 * and its jitter buffer (0–250 ms; G.168 §6.4.2.1 asks echo cancellers to cover at least 64 ms of tail,
 * VoIP paths add the network's round trip). So each caller frame x (160 samples) is compared with
 * every stretch y_L of what we sent L samples before it, L ∈ [0, `maxDelayMs`]:
 *
 *     c(L) = <x, y_L> / (|x| · |y_L|)          normalized cross-correlation
 *
 * and the best c is taken. With echo alone, x ≈ g·y_L (plus G.711 noise), so c² ≈ 1; with a caller
 * talking over it, c² ≈ E_echo / (E_echo + E_caller): the caller's share of the frame is (1 − c²).
 * The frame is echo when c² ≥ `minEchoShare` and the implied gain g = <x,y>/<y,y> is a loss of at
 * least `minLossDb` (G.168's minimum echo return loss is 6 dB; we allow 3 dB, because G.711 noise
 * scatters the fitted gain of an echo right at 6 dB: something louder than that is not our echo). Unlike a level rule (Geigel), a quiet caller over a loud agent is not taken for echo,
 * and echo louder than any assumed loss still is.
 *
 * The search is per frame and stateless, so it needs no convergence, follows an echo that appears or
 * moves mid-call, and does not care whether frames are aligned by arrival time or by count (jitter of
 * ±1 frame only moves the best L). Cost: a coarse search on 4:1 decimated signals (40 samples × ~620
 * lags ≈ 25 k multiply-adds) then a full-rate refinement of the best `REFINE_CANDIDATES` lags ±4
 * samples (≈ 6 k); ≈ 1.5 M multiply-adds per second of agent speech, about 1–2 ms of CPU per second of
 * a call, well under a millisecond per frame (the RTP pacing thread is never held up).
 *
 * Units: samples at 8000 Hz, PCM16 values; `noteSent` takes the G.711 payload exactly as it went out.
 */
import { ALAW_DECODE, ULAW_DECODE } from "../media/g711";

/** What a speech detector needs from an echo decision (src/pipeline/speech-detector.ts). */
export interface EchoDecision {
  /** Notes one frame we sent (G.711 payload as it went out; silence frames too). */
  noteSent(payload: Uint8Array): void;
  /** True when `pcm` (a caller frame, 160 samples) is explained by our own audio coming back. */
  isLikelyEcho(pcm: Int16Array): boolean;
}

export interface CorrelationEchoSettings {
  /** Longest echo delay searched, ms (the echo path including both jitter buffers). */
  maxDelayMs: number;
  /** Share of the frame's energy our delayed audio must explain (c²) for the frame to be echo. */
  minEchoShare: number;
  /** Echo is at least this much quieter than what we sent, dB (G.168: ≥ 6 dB; see the file comment). */
  minLossDb: number;
}

/**
 * From `bun run scripts/bench-bargein.ts --tune-only --echo xcorr` (see its header for the cases):
 * maxDelayMs 300 covers the 40–200 ms test delays plus a frame of arrival jitter with margin;
 * minEchoShare 0.5: echo alone at −12…−20 dB scores c² 0.9–1.0 (G.711 both ways), a caller at the
 * agent's level over −20 dB echo 0.0–0.2.
 */
export const DEFAULT_CORRELATION_ECHO: CorrelationEchoSettings = { maxDelayMs: 300, minEchoShare: 0.5, minLossDb: 3 };

const FRAME = 160;
const DECIMATE = 4;
/** Coarse candidates refined at full rate. */
const REFINE_CANDIDATES = 3;
/** Refinement half-width, samples (one coarse step). */
const REFINE_SPAN = DECIMATE;
/** Sent frames quieter than this RMS (≈ −61 dBFS) count as silence: nothing to echo. */
const SILENT_RMS = 30;

export class CorrelationEcho implements EchoDecision {
  private readonly table: Int16Array | readonly number[];
  private readonly maxLag: number;
  private readonly cap: number;
  /** Sent samples, ring; `sent[(n) % cap]` is sample n. */
  private readonly sent: Float32Array;
  /** 4:1 decimated sent samples (means of 4), ring of cap/4. */
  private readonly sentD: Float32Array;
  /** RMS of recent sent frames (ring over the search window) to skip the search when we sent silence. */
  private readonly sentRms: Float32Array;
  private n = 0;
  private frames = 0;
  private readonly maxGain: number;
  private readonly xd = new Float32Array(FRAME / DECIMATE);
  /** Diagnostics: the last decision's best correlation², delay (samples) and gain. */
  last = { share: 0, lag: -1, gain: 0 };

  constructor(
    codec: "PCMU" | "PCMA",
    private readonly settings: CorrelationEchoSettings = DEFAULT_CORRELATION_ECHO,
  ) {
    this.table = codec === "PCMU" ? ULAW_DECODE : ALAW_DECODE;
    this.maxLag = Math.round(settings.maxDelayMs * 8);
    // Ring big enough for the window, the frame and the refinement margin, rounded to whole frames.
    this.cap = Math.ceil((this.maxLag + 2 * FRAME + 2 * REFINE_SPAN) / FRAME) * FRAME;
    this.sent = new Float32Array(this.cap);
    this.sentD = new Float32Array(this.cap / DECIMATE);
    this.sentRms = new Float32Array(this.cap / FRAME);
    this.maxGain = Math.pow(10, -settings.minLossDb / 20);
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
    this.sentRms[this.frames++ % this.sentRms.length] = payload.length ? Math.sqrt(e / payload.length) : 0;
    this.n += payload.length;
  }

  isLikelyEcho(pcm: Int16Array): boolean {
    this.last = { share: 0, lag: -1, gain: 0 };
    if (pcm.length !== FRAME || this.n < FRAME) return false;
    let loud = false;
    for (let i = 0; i < this.sentRms.length && !loud; i++) loud = this.sentRms[i]! >= SILENT_RMS;
    if (!loud) return false; // we sent (near) silence: nothing to echo
    let ex = 0;
    for (let i = 0; i < FRAME; i++) ex += pcm[i]! * pcm[i]!;
    if (ex === 0) return false;
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
    return best >= this.settings.minEchoShare && bestGain <= this.maxGain;
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
