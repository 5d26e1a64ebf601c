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
import { coarseLags, coarseScratch, decimate, DECIMATE, FRAME, FRAME_D, type CoarseRing } from "./echo-coarse-search";
import { EchoResidual } from "./echo-residual";
import { NoiseFloorTracker } from "../media/vad/noise-floor";

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
 * `uniformValue` when there is none: outside PCM16 (−32768 … 32767), so no decoded sample equals it, and an
 * integer like the samples. NaN there made the field's type flip between a small integer and a double, and
 * JavaScriptCore's optimized `noteSent` (compiled while it had seen integers) exited to the baseline tier on
 * every read of the NaN: ~1,600 exits in a 200-call row (BUN_JSC_printEachOSRExit, 7 Dec 2026).
 */
const NO_SAMPLE = 0x10000;

/**
 * Cost (what runs per caller frame while our audio is in the window; bench:percall "echo decision"):
 * the sent rings are written twice (at i and i + cap), so every stretch the search reads is contiguous
 * (no modulo in the inner loops); the energies <y, y> of the stretches are kept per start position,
 * updated as samples are sent, not summed again for every lag of every caller frame; the inner loops
 * are one multiply-add per sample, four at a time.
 * Exactness: every sum here is exact in float64, whatever its order — samples are integers (G.711
 * decodes to integers, PCM16 is), decimated ones multiples of 1/4 (exact in float32), so products are
 * multiples of 1/16 below 2^31 and sums of at most 160 of them below 2^39, far inside the 53 bits of a
 * double. Decisions are therefore bit-identical to the plain form's
 * (tests/support/echo-correlation-plain.ts; tests/pipeline/echo-correlation-exact.test.ts).
 */
export class CorrelationEcho implements EchoDecision {
  private readonly table: Int16Array | readonly number[];
  private readonly maxLag: number;
  private readonly cap: number;
  /** Sent samples; sample n at `n % cap` and again at `n % cap + cap`. */
  private readonly sent: Float32Array;
  /** 4:1 decimated sent samples (means of 4), ring of `capD` written twice like `sent`. */
  private readonly sentD: Float64Array;
  private readonly capD: number;
  /** <y, y> of the decimated stretch of FRAME_D samples starting at decimated sample s, at `s % capD`. */
  private readonly yyD: Float64Array;
  /** Decimated stretches whose <y, y> is in `yyD` (starts 0 … yyDone − 1). */
  private yyDone = 0;
  /** <y, y> of the full-rate stretch of FRAME samples starting at sample s, at `s % cap`. */
  private readonly yyF: Float64Array;
  /** Full-rate stretches whose <y, y> is in `yyF` (starts 0 … yyFDone − 1). */
  private yyFDone = 0;
  /** Stream position up to which the decimated ring and the <y, y> are written (`catchUp`); below `n`: owed. */
  private decDone = 0;
  /** RMS of the sent frames of the last HOLD_FRAMES (ring). */
  private readonly sentRms = new Float32Array(HOLD_FRAMES);
  /** Frames of the search window (the newest of `sentRms`). */
  private readonly windowFrames: number;
  private n = 0;
  private frames = 0;
  private readonly maxGain: number;
  private readonly quietRatio: number;
  /** What the coarse search reads (echo-coarse-search.ts) and its scratch arrays. */
  private readonly ring: CoarseRing;
  private readonly scratch = coarseScratch();
  /** The one value of the last `uniformRun` sent samples, all written the full way (NO_SAMPLE: none). */
  private uniformValue = NO_SAMPLE;
  private uniformRun = 0;
  /** Diagnostics: sent frames taken by the silence shortcut of `noteSent`. */
  shortcutFrames = 0;
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
    this.table = codec === "PCMU" ? ULAW_DECODE : ALAW_DECODE;
    this.maxLag = Math.round(settings.maxDelayMs * 8);
    // Ring big enough for the window, the frame and the refinement margin, rounded to whole frames.
    this.cap = Math.ceil((this.maxLag + 2 * FRAME + 2 * REFINE_SPAN) / FRAME) * FRAME;
    this.capD = this.cap / DECIMATE;
    this.sent = new Float32Array(2 * this.cap);
    this.sentD = new Float64Array(2 * this.capD);
    this.yyD = new Float64Array(this.capD);
    this.yyF = new Float64Array(this.cap);
    this.windowFrames = this.cap / FRAME;
    this.ring = { sentD: this.sentD, yyD: this.yyD, capD: this.capD };
    this.maxGain = Math.pow(10, -settings.minLossDb / 20);
    this.quietRatio = Math.pow(10, -settings.quietFloorDb / 20);
  }

  /**
   * Shortcut for silence (most of what a call sends: every frame while the agent is not talking): once
   * more than the rings hold (`cap` + a frame) has been one repeated sample value v, written the full way,
   * every ring slot holds v, every <y, y> is the exact sum of v², and another frame of v changes none of
   * them — only the stream position and the frame's RMS move. Bit-identical (tests/pipeline/
   * echo-correlation-exact.test.ts counts `shortcutFrames`).
   */
  noteSent(payload: Uint8Array): void {
    const len = payload.length;
    let uniform = len > 0 && len % DECIMATE === 0 && this.n % DECIMATE === 0;
    const b = payload[0]!;
    for (let i = 1; uniform && i < len; i++) if (payload[i] !== b) uniform = false;
    const v = uniform ? this.table[b]! : NO_SAMPLE;
    if (uniform && v === this.uniformValue && this.uniformRun >= this.cap + FRAME) {
      this.catchUp(); // what is owed first: then every slot holds v
      this.sentRms[this.frames++ % HOLD_FRAMES] = Math.sqrt((len * v * v) / len);
      this.n += len;
      this.decDone = this.n;
      this.yyDone = Math.floor(this.n / DECIMATE) - FRAME_D + 1;
      this.yyFDone = this.n - FRAME + 1;
      this.uniformRun += len;
      this.shortcutFrames++;
      return;
    }
    this.noteSentFully(payload);
    if (!uniform) this.uniformRun = 0;
    else if (v === this.uniformValue) this.uniformRun += len;
    else this.uniformRun = len;
    this.uniformValue = uniform ? v : NO_SAMPLE;
  }

  private noteSentFully(payload: Uint8Array): void {
    const cap = this.cap;
    const sent = this.sent;
    const table = this.table;
    const len = payload.length;
    const n0 = this.n;
    // Whole groups of 4 at a multiple of 4 (every 20 ms payload): the decimated samples and <y, y> are owed
    // until a search reads them (`catchUp`). Otherwise (odd lengths) they are written now, as always, after
    // what is owed (before this payload overwrites the oldest samples it is made of).
    const owed = n0 % DECIMATE === 0 && len % DECIMATE === 0;
    if (!owed) this.catchUp();
    let e = 0;
    for (let i = 0, j = n0 % cap; i < len; i++) {
      const v = table[payload[i]!]!;
      sent[j] = v;
      sent[j + cap] = v;
      e += v * v;
      if (++j === cap) j = 0;
    }
    this.sentRms[this.frames++ % HOLD_FRAMES] = len ? Math.sqrt(e / len) : 0;
    this.n = n0 + len;
    if (owed) return;
    if (n0 % DECIMATE === 0) decimate(sent, this.sentD, cap, n0, len);
    // else: a stream position not on a multiple of 4 (payloads of odd length) writes no decimated samples
    this.updateYy();
    this.decDone = this.n;
  }

  /**
   * Brings the decimated ring and the <y, y> of its stretches up to the stream position (`n`): the owed
   * decimated samples of the last `cap` samples (older ones are overwritten in the rings anyway), then the
   * stretches now complete. Every value is what writing them payload by payload gives (means of integers;
   * exact sums: see the class comment), so decisions do not change (echo-correlation-exact.test.ts).
   * While the agent talks over line noise the quiet floor takes the caller's frames unsearched, and this
   * work, about two thirds of noting a sent frame, is done only for the frames that are searched.
   */
  private catchUp(): void {
    const n = this.n;
    if (this.decDone === n) return;
    const from = Math.max(this.decDone, n - this.cap, 0);
    decimate(this.sent, this.sentD, this.cap, from, n - from);
    this.updateYy();
    this.decDone = n;
  }

  /** <y, y> of every stretch complete at the stream position, each from the one before it (one sample out, one in; exact). */
  private updateYy(): void {
    const cap = this.cap;
    const capD = this.capD;
    const sent = this.sent;
    const sentD = this.sentD;
    const yyD = this.yyD;
    const lastD = Math.floor(this.n / DECIMATE) - FRAME_D;
    // A stretch's <y, y> follows from the one before it only while the sample leaving it is still in its
    // slot: after a catch-up longer than the ring less a stretch, the first is summed afresh.
    const firstD = Math.max(this.yyDone, lastD - capD + 1);
    const freshD = firstD === 0 || firstD !== this.yyDone || this.yyDone - 1 < lastD + FRAME_D - capD;
    for (let s = firstD; s <= lastD; s++) {
      const i0 = s % capD;
      if (s === firstD && freshD) {
        let yy = 0;
        for (let k = 0; k < FRAME_D; k++) yy += sentD[i0 + k]! * sentD[i0 + k]!;
        yyD[i0] = yy;
      } else {
        const out = sentD[i0 + capD - 1]!; // decimated sample s − 1
        const inn = sentD[i0 + FRAME_D - 1]!; // decimated sample s + FRAME_D − 1
        yyD[i0] = yyD[i0 === 0 ? capD - 1 : i0 - 1]! - out * out + inn * inn;
      }
      this.yyDone = s + 1;
    }
    const yyF = this.yyF;
    const lastF = this.n - FRAME;
    let s = Math.max(this.yyFDone, lastF - cap + 1);
    if (s > lastF) return;
    let i0 = s % cap;
    if (s === 0 || s !== this.yyFDone || this.yyFDone - 1 < this.n - cap) {
      let yy = 0;
      for (let i = 0; i < FRAME; i++) yy += sent[i0 + i]! * sent[i0 + i]!;
      yyF[i0] = yy;
      s++;
      i0 = i0 + 1 === cap ? 0 : i0 + 1;
    }
    for (; s <= lastF; s++) {
      const out = sent[i0 + cap - 1]!; // sample s − 1
      const inn = sent[i0 + FRAME - 1]!; // sample s + FRAME − 1
      yyF[i0] = yyF[i0 === 0 ? cap - 1 : i0 - 1]! - out * out + inn * inn;
      if (++i0 === cap) i0 = 0;
    }
    this.yyFDone = lastF + 1;
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
    let ex = 0;
    let pk = 0;
    for (let i = 0; i < pcm.length; i++) {
      const v = pcm[i]!;
      ex += v * v;
      if (v > pk) pk = v;
      else if (-v > pk) pk = -v;
    }
    this.lastResidualDbfs = 10 * Math.log10(ex / (pcm.length || 1) / (32768 * 32768)); // until an echo path is known: the frame as it is
    this.lastResidualPeakDbfs = pk > 0 ? 20 * Math.log10(pk / 32768) : -Infinity;
    this.lastResidualTiltDbfs = this.residual.tiltOf(pcm);
    const noise = this.lineNoise.note(ex / (pcm.length || 1)); // Infinity for the first 16 frames
    if (pcm.length !== FRAME || this.n < FRAME) return false;
    let maxWindow = 0;
    let maxHold = 0;
    for (let k = 0; k < HOLD_FRAMES; k++) {
      const v = this.sentRms[(this.frames - 1 - k + HOLD_FRAMES * 2) % HOLD_FRAMES]!;
      if (v > maxHold) maxHold = v;
      if (k < this.windowFrames && v > maxWindow) maxWindow = v;
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
    const end = this.n;
    const maxLag = Math.min(this.maxLag, end - FRAME);
    this.catchUp();
    const found = coarseLags(pcm, this.ring, this.scratch, end, maxLag);
    const cap = this.cap;
    const sent = this.sent;
    let best = 0;
    let bestLag = -1;
    let bestGain = 0;
    for (let c = 0; c < found; c++) {
      const cand = this.scratch.top[c]!;
      const from = Math.max(0, cand - REFINE_SPAN);
      const to = Math.min(maxLag, cand + REFINE_SPAN);
      for (let lag = from; lag <= to; lag++) {
        const i0 = (end - FRAME - lag) % cap;
        const yy = this.yyF[i0]!;
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

