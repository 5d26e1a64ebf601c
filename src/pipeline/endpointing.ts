/**
 * Endpointing: decides when the caller's turn is over by combining the VAD (is the caller silent, and
 * since when) with the STT (final text, and its own end-of-speech signal: Deepgram `speech_final` /
 * `UtteranceEnd`, a pocketsphinx utterance end).
 *
 * Rule: a turn ends when there is final text, the caller is not speaking, and either
 *  - the STT signalled end of speech and the VAD has heard `minSilenceMs` of silence, or
 *  - the VAD has heard `maxSilenceMs` of silence (the STT's signal never came).
 * A pause shorter than `minSilenceMs` inside a sentence therefore never ends the turn.
 */
import type { Clock, TimerHandle } from "../util/clock";

export interface EndpointingSettings {
  /** Silence after the last caller speech before a turn may end, ms. Above a typical mid-sentence pause (700 ms). */
  minSilenceMs: number;
  /** Silence after which the turn ends even without an STT end-of-speech signal, ms. */
  maxSilenceMs: number;
}

export const DEFAULT_ENDPOINTING: EndpointingSettings = { minSilenceMs: 900, maxSilenceMs: 1600 };

export interface TurnEnd {
  text: string;
  /** Clock time (ms) the caller stopped speaking, per the VAD, or when the final arrived without VAD. */
  speechEndAt: number;
  /** Clock time (ms) the last final transcript arrived. */
  finalAt: number;
}

export class TurnDetector {
  private pending: string[] = [];
  private speaking = false;
  private lastSpeechEnd = -Infinity;
  private sttEnded = false;
  private lastFinalAt = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly settings: EndpointingSettings,
    private readonly onTurnEnd: (turn: TurnEnd) => void,
  ) {}

  /** True while the VAD hears the caller. */
  get callerSpeaking(): boolean {
    return this.speaking;
  }

  /** Final text not yet handed out as a turn. */
  get pendingText(): string {
    return this.pending.join(" ");
  }

  speechStarted(): void {
    this.speaking = true;
    this.sttEnded = false;
    this.clock.clearTimer(this.timer);
  }

  /** @param at clock time of the last speech frame, ms. */
  speechEnded(at = this.clock.now()): void {
    this.speaking = false;
    this.lastSpeechEnd = at;
    this.check();
  }

  final(text: string, speechFinal: boolean): void {
    const t = text.trim();
    if (t) this.pending.push(t);
    this.lastFinalAt = this.clock.now();
    if (speechFinal) this.sttEnded = true;
    this.check();
  }

  utteranceEnd(): void {
    this.sttEnded = true;
    this.check();
  }

  /** Puts text back in front of the pending text (a reply was abandoned because the caller went on). */
  restore(text: string): void {
    if (text.trim()) this.pending.unshift(text.trim());
  }

  dispose(): void {
    this.clock.clearTimer(this.timer);
  }

  private check(): void {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    if (this.speaking || this.pending.length === 0) return;
    const now = this.clock.now();
    const silentSince = Number.isFinite(this.lastSpeechEnd) ? this.lastSpeechEnd : this.lastFinalAt;
    const silence = now - silentSince;
    const need = this.sttEnded ? this.settings.minSilenceMs : this.settings.maxSilenceMs;
    if (silence >= need) {
      const text = this.pending.join(" ");
      this.pending = [];
      this.sttEnded = false;
      this.onTurnEnd({ text, speechEndAt: silentSince, finalAt: this.lastFinalAt });
      return;
    }
    this.timer = this.clock.setTimer(need - silence, () => this.check());
  }
}
