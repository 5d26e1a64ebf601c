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
 * A second, level rule keeps distant talkers from interrupting while we talk: what is left of the frame
 * once the echo is taken out, E·(1 − c²), must be within `quietFloorDb` of the loudest frame we sent in
 * the last 2 s (the old level rule used 12 dB of the raw frame over 400 ms, which hid quiet callers'
 * first syllables, and nothing between two sentences of ours).
 *
 * Units: samples at 8000 Hz, PCM16 values; `noteSent` takes the G.711 payload exactly as it went out.
 */
import { ALAW_DECODE, ULAW_DECODE } from "../media/g711";
import { type CorrelationEchoSettings, DEFAULT_CORRELATION_ECHO, LINE_NOISE_MARGIN_DB } from "./echo-correlation-settings";
import type { EchoDecision } from "./echo-decision";
import { coarseLags, coarseScratch, DECIMATE, FRAME } from "./echo-coarse-search";
import { SentRing } from "./echo-sent-ring";
import { EchoResidual } from "./echo-residual";
import { NoiseFloorTracker } from "../media/vad/noise-floor";
import { DEFAULT_FIRST_TURN_TILT } from "./caller-level";

export { type CorrelationEchoSettings, DEFAULT_CORRELATION_ECHO, LINE_NOISE_MARGIN_DB } from "./echo-correlation-settings";
export type { EchoDecision } from "./echo-decision";

/** Refinement half-width, samples (one coarse step). */
const REFINE_SPAN = DECIMATE;
/** Sent frames quieter than this RMS (≈ −61 dBFS) count as silence: nothing to echo. */
const SILENT_RMS = 30;
const PATH_SHARE = 0.9; // c² of a frame that sets the echo path (echo-residual.ts): echo alone 0.9–1.0, a voice over it 0.5–0.85
/** How long the level of what we said sets the quiet floor, in frames (2 s): covers pauses between sentences. */
const HOLD_FRAMES = 100;
const LINE_NOISE_MARGIN = 10 ** (LINE_NOISE_MARGIN_DB / 10);
/**
 * Cost (what runs per caller frame while our audio is in the window; bench:percall "echo decision"):
 * what we sent is kept in rings written twice with the energies of its stretches (echo-sent-ring.ts), so
 * no stretch is summed again per lag and no inner loop takes a modulo; the inner loops are one multiply-add
 * per sample, four at a time; a lag two candidates share is refined once. A frame's own sums (energy,
 * peak, tilted energy) take one pass over it, and a frame with nothing of ours audible in the last 2 s
 * reads no level of what we sent.
 * Exactness: every sum here is exact in float64, whatever its order — samples are integers (G.711
 * decodes to integers, PCM16 is), decimated ones multiples of 1/4 (exact in float32), so products are
 * multiples of 1/16 below 2^31 and sums of at most 160 of them below 2^39, far inside the 53 bits of a
 * double. Decisions are therefore bit-identical to the plain form's
 * (tests/support/echo-correlation-plain.ts; tests/pipeline/echo-correlation-exact.test.ts).
 */
export class CorrelationEcho implements EchoDecision {
  private readonly maxLag: number;
  /** What we sent: samples, decimated samples and the energies of their stretches (echo-sent-ring.ts). */
  private readonly ring: SentRing;
  /** RMS of the sent frames of the last HOLD_FRAMES (ring). */
  private readonly sentRms = new Float32Array(HOLD_FRAMES);
  /** Index (`frames` count) of the last sent frame whose RMS reached SILENT_RMS; far back: none yet. */
  private lastAudible = -2 * HOLD_FRAMES;
  /** Frames of the search window (the newest of `sentRms`). */
  private readonly windowFrames: number;
  private frames = 0;
  private readonly maxGain: number;
  private readonly quietRatio: number;
  /** The coarse search's scratch arrays (echo-coarse-search.ts). */
  private readonly scratch = coarseScratch();
  /** Diagnostics: caller frames taken by the quiet floor without a search (under SILENT_RMS and the floor). */
  quietShortcutFrames = 0;
  /** Diagnostics: caller frames taken by the quiet floor without a search as line noise (LINE_NOISE_MARGIN_DB). */
  lineNoiseFrames = 0;
  /** The caller's line-noise level: minimum statistics over the frames' mean squares (PCM16²), 1.3–1.6 s. */
  private readonly lineNoise = new NoiseFloorTracker();
  /** Diagnostics: the last decision's best correlation², delay (samples) and gain (updated in place). */
  readonly last = { share: 0, lag: -1, gain: 0 };
  /** See EchoDecision.lastLevelDb. */
  lastLevelDb: number | undefined;
  /** See EchoDecision.lastQuiet. */
  lastQuiet = false;
  /** See EchoDecision.lastResidualDbfs / lastResidualPeakDbfs (the echo path of the last frame explained). */
  lastResidualDbfs: number | undefined;
  lastResidualPeakDbfs: number | undefined;
  lastResidualTiltDbfs: number | undefined;
  private readonly residual = new EchoResidual();

  constructor(
    codec: "PCMU" | "PCMA",
    private readonly settings: CorrelationEchoSettings = DEFAULT_CORRELATION_ECHO,
  ) {
    this.maxLag = Math.round(settings.maxDelayMs * 8);
    // Ring big enough for the window, the frame and the refinement margin, rounded to whole frames.
    const cap = Math.ceil((this.maxLag + 2 * FRAME + 2 * REFINE_SPAN) / FRAME) * FRAME;
    this.ring = new SentRing(codec === "PCMU" ? ULAW_DECODE : ALAW_DECODE, cap);
    this.windowFrames = cap / FRAME;
    this.maxGain = Math.pow(10, -settings.minLossDb / 20);
    this.quietRatio = Math.pow(10, -settings.quietFloorDb / 20);
  }

  /** Notes one frame we sent (EchoDecision.noteSent): into the sent ring (echo-sent-ring.ts) and its level into the hold. */
  noteSent(payload: Uint8Array): void {
    const rms = this.ring.note(payload);
    if (rms >= SILENT_RMS) this.lastAudible = this.frames;
    this.sentRms[this.frames++ % HOLD_FRAMES] = rms;
  }

  /** Diagnostics: sent frames taken by the silence shortcut of `noteSent` (SentRing.shortcutFrames). */
  get shortcutFrames(): number {
    return this.ring.shortcutFrames;
  }

  isLikelyEcho(pcm: Int16Array, agentTalking = false): boolean {
    const last = this.last;
    last.share = 0;
    last.lag = -1;
    last.gain = 0;
    this.lastLevelDb = undefined;
    this.lastQuiet = false;
    // The frame's energy (sum of squares: integers, exact in a double whatever the order) and peak in one
    // pass, for its own levels (caller-level.ts frameDbfs/peakDbfs, same values) and the rules below.
    // Its tilted energy in the same pass (caller-level.ts tiltedDbfs, the same sum in the same order).
    let ex = 0;
    let pk = 0;
    let et = 0;
    let prev = this.residual.lastSample;
    for (let i = 0; i < pcm.length; i++) {
      const v = pcm[i]!;
      ex += v * v;
      if (v > pk) pk = v;
      else if (-v > pk) pk = -v;
      const t = v - DEFAULT_FIRST_TURN_TILT * prev;
      et += t * t;
      prev = v;
    }
    this.lastResidualDbfs = 10 * Math.log10(ex / (pcm.length || 1) / (32768 * 32768)); // until an echo path is known: the frame as it is
    this.lastResidualPeakDbfs = pk > 0 ? 20 * Math.log10(pk / 32768) : -Infinity;
    this.lastResidualTiltDbfs = this.residual.tiltFromEnergy(et, pcm.length, prev);
    const noise = this.lineNoise.note(ex / (pcm.length || 1)); // Infinity for the first 16 frames
    if (pcm.length !== FRAME || this.ring.n < FRAME) return false;
    // The loudest sent frame of the hold time and of the search window. With none reaching SILENT_RMS in the
    // hold time (the agent silent for 2 s), both are under it and no rule below reads more: left at 0.
    let maxWindow = 0;
    let maxHold = 0;
    if (this.frames - this.lastAudible <= HOLD_FRAMES) {
      const rms = this.sentRms;
      for (let k = 0, i = (this.frames - 1) % HOLD_FRAMES; k < HOLD_FRAMES; k++) {
        const v = rms[i]!;
        if (v > maxHold) maxHold = v;
        if (k < this.windowFrames && v > maxWindow) maxWindow = v;
        i = i === 0 ? HOLD_FRAMES - 1 : i - 1;
      }
    }
    const floor = agentTalking && maxHold >= SILENT_RMS ? maxHold * this.quietRatio : 0;
    if (maxWindow < SILENT_RMS) {
      const rms = Math.sqrt(ex / FRAME);
      this.lastLevelDb = levelDb(rms, maxHold);
      this.lastQuiet = floor > 0 && rms < floor; // nothing of ours to echo now
      return this.lastQuiet;
    }
    this.lastLevelDb = levelDb(Math.sqrt(ex / FRAME), maxHold);
    // Digital silence holds no caller sound; while we talk it is below any quiet floor (as in our own
    // pauses above), so Silero's lagging "speech" for the frames after a quiet voice does not count.
    if (ex === 0) return (this.lastQuiet = floor > 0);
    // Line noise (a caller's silence on a real line, −60…−70 dBFS) while we talk: a frame under both the
    // quiet floor and SILENT_RMS is taken by the quiet floor whatever the search would find (its residual
    // ≤ its level < floor), so the search is skipped. What differs from searching: our echo that quiet
    // (≥ 40 dB under a −20 dBFS agent) counts as `lastQuiet` (the confirming stream hears it as it is, not
    // as silence), and `last`/the residual are the frame's own. bench:load --caller-noise=-65 at 200 calls,
    // session 14: the search was ~8 % of the agent's samples, 0 on digital-zero silences.
    if (floor > 0 && ex < this.quietEnergy(floor)) {
      this.quietShortcutFrames++;
      return (this.lastQuiet = true);
    }
    // The same for louder line noise (a noisy line, −50 dBFS, over SILENT_RMS): a frame under the quiet
    // floor and within LINE_NOISE_MARGIN_DB of the caller's noise level is the line's own noise, which
    // correlates with nothing we sent (best c² of −50 dBFS noise over the 600 lags ≈ 0.05, far under
    // minEchoShare), so the search's answer is known: under the floor. Only while no echo path was seen
    // on this call (EchoResidual.lag < 0): on a line that returns our voice, a quiet echo frame near the
    // noise level is searched and found as before. bench:load --caller-noise=-50 at 200 calls, session
    // 18: the search was ~12 % of the agent's samples (5.5 % at −65 dBFS, where the shortcut above runs).
    if (floor > 0 && this.residual.lag < 0 && ex < floor * floor * FRAME && ex / FRAME <= noise * LINE_NOISE_MARGIN) {
      this.lineNoiseFrames++;
      return (this.lastQuiet = true);
    }
    // The frame's samples correspond to sent samples [end - FRAME - L, end - L) for lag L.
    const ring = this.ring;
    const end = ring.n;
    const maxLag = Math.min(this.maxLag, end - FRAME);
    ring.catchUp();
    const found = coarseLags(pcm, ring, this.scratch, end, maxLag);
    const cap = ring.cap;
    const sent = ring.sent;
    const yyF = ring.yyF;
    let best = 0;
    let bestLag = -1;
    let bestGain = 0;
    // Neighbouring candidates' spans overlap (a peak's best coarse lags are often 4 apart): a lag already
    // tried gives the same share again, which does not beat the best so far, so it is not tried twice.
    const top = this.scratch.top;
    for (let c = 0; c < found; c++) {
      const cand = top[c]!;
      const from = Math.max(0, cand - REFINE_SPAN);
      const to = Math.min(maxLag, cand + REFINE_SPAN);
      tryLag: for (let lag = from; lag <= to; lag++) {
        for (let j = 0; j < c; j++) if (Math.abs(lag - top[j]!) <= REFINE_SPAN) continue tryLag;
        const i0 = (end - FRAME - lag) % cap;
        const yy = yyF[i0]!;
        if (yy <= 0) continue;
        let a = 0;
        let b = 0;
        let c2 = 0;
        let d = 0;
        for (let i = 0; i < FRAME; i += 4) {
          a += pcm[i]! * sent[i0 + i]!;
          b += pcm[i + 1]! * sent[i0 + i + 1]!;
          c2 += pcm[i + 2]! * sent[i0 + i + 2]!;
          d += pcm[i + 3]! * sent[i0 + i + 3]!;
        }
        const xy = a + b + c2 + d;
        if (xy <= 0) continue;
        const share = (xy * xy) / (ex * yy);
        if (share > best) {
          best = share;
          bestLag = lag;
          bestGain = xy / yy;
        }
      }
    }
    last.share = best;
    last.lag = bestLag;
    last.gain = bestGain;
    const explained = bestGain <= this.maxGain ? best : 0;
    const residual = Math.sqrt((ex * (1 - explained)) / FRAME);
    this.lastLevelDb = levelDb(residual, maxHold);
    if (explained >= PATH_SHARE) this.residual.note(bestLag, bestGain);
    this.residual.measure(pcm, sent, cap, end, maxLag, REFINE_SPAN);
    this.lastResidualDbfs = this.residual.dbfs;
    this.lastResidualPeakDbfs = this.residual.peakDbfs;
    this.lastResidualTiltDbfs = this.residual.tiltDbfs;
    if (explained >= this.settings.minEchoShare) return true;
    // What is left once our echo is out: too quiet next to what we are saying to be the caller.
    this.lastQuiet = residual < floor;
    return this.lastQuiet;
  }

  /** Frame energy (sum of squares, PCM16²) under which a caller frame skips the search: min(SILENT_RMS, floor)² · FRAME. */
  private quietEnergy(floor: number): number {
    const r = Math.min(SILENT_RMS, floor);
    return r * r * FRAME;
  }
}

/** `rms` relative to the loudest frame we sent in the hold time, dB; undefined when we sent nothing audible. */
function levelDb(rms: number, maxHold: number): number | undefined {
  return maxHold >= SILENT_RMS ? 20 * Math.log10(rms / maxHold) : undefined;
}

