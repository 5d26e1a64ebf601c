/**
 * What a speech detector needs from an echo decision (src/pipeline/speech-detector.ts): the contract
 * that CorrelationEcho (echo-correlation.ts) and EchoReference (echo-reference.ts) implement, split from
 * echo-correlation.ts so that file stays the correlation itself.
 * Units: PCM16 frames at 8000 Hz (160 samples), dB relative to our loudest sent frame, dBFS.
 */
export interface EchoDecision {
  /** Notes one frame we sent (G.711 payload as it went out; silence frames too). */
  noteSent(payload: Uint8Array): void;
  /**
   * True when `pcm` (a caller frame, 160 samples) is explained by our own audio coming back — or, with
   * `agentTalking`, is too quiet next to what we are saying to be the caller talking to us.
   */
  isLikelyEcho(pcm: Int16Array, agentTalking?: boolean): boolean;
  /**
   * For the frame of the last `isLikelyEcho`: its level once our echo is taken out, relative to the
   * loudest frame we sent in the last 2 s, dB (0 = as loud as we were; −Infinity for digital silence;
   * undefined when we sent nothing audible in that time).
   */
  readonly lastLevelDb?: number;
  /**
   * The last `isLikelyEcho` answered true only because the frame was too quiet next to what we are
   * saying (the quiet floor), not because our audio explains it: a real sound, maybe the soft onset of
   * the caller's first syllable.
   */
  readonly lastQuiet?: boolean;
  /**
   * The last frame once our echo (the best-fitting delayed, scaled stretch we sent) is taken out: level and
   * peak sample, dBFS (−Infinity: digital silence), for the level rules (level-gate.ts); undefined: not known.
   */
  readonly lastResidualDbfs?: number;
  readonly lastResidualPeakDbfs?: number;
  /** The same residual's tilted level (caller-level.ts tiltedDbfs: pre-emphasis 0.5), dBFS, for the second floor. */
  readonly lastResidualTiltDbfs?: number;
}
