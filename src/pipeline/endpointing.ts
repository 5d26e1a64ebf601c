/**
 * Endpointing: decides when the caller's turn is over from three sources —
 *  - the VAD: is the caller silent, and since when (a pause inside speech is reported after
 *    `DEFAULT_PAUSE_MS` (speech-detector.ts) of silence, the end of a speech segment after the
 *    segmenter's 500 ms);
 *  - the STT: final text, and its end-of-speech signals (Deepgram `speech_final` after its
 *    `endpointing` silence, `UtteranceEnd`, and the answer to our `Finalize`, `from_finalize: true`);
 *  - what was said: a finished sentence, a dangling "and"/"to"/"a", or neither
 *    (src/pipeline/turn-completion.ts).
 *
 * Rule: a turn ends when there is final text, the caller is silent, and the silence has lasted
 *  - nothing more than the VAD's pause when the text is a finished sentence and the STT's own
 *    endpointing said the speech ended (Deepgram `speech_final`: it already heard its `endpointing`
 *    silence, 300 ms);
 *  - `completeSilenceMs` when the text is a finished sentence and the STT's end signal is the answer to
 *    our Finalize or an UtteranceEnd;
 *  - `minSilenceMs` when the STT signalled end of speech and the text is neither finished nor dangling;
 *  - `maxSilenceMs` when the text dangles ("I'd like to book a"), or the STT never signalled the end.
 * When the VAD reports a pause and the STT has not yet signalled the end of this speech, the STT is
 * asked to finalize (`onFlush` → SttStream.flush() → Deepgram `{"type":"Finalize"}`; only for streams
 * whose flush adds nothing, SttStream.finalizesOnly), so its answer does not wait for the service's own
 * endpointing. The request is timed so that the answer arrives when the finished-sentence wait
 * (`completeSilenceMs`) is over: it goes out at that much silence minus the Finalize round trip
 * measured on this call (the largest of the last `FINALIZE_RTT_SAMPLES`), or at once while no round
 * trip has been measured yet or when the round trip is longer than the wait. A turn therefore ends as
 * soon as the final text arrives, not one wait after it, and the moment it ends is unchanged: the
 * caller's silence decides it, the Finalize answer only has to be there by then.
 *
 * A pause shorter than the wait for its text never ends the turn; speech resuming within it continues
 * the same turn (the pending text is kept and joined).
 */
import type { Clock, TimerHandle } from "../util/clock";
import { classifyCompletion, type Completion } from "./turn-completion";

export interface EndpointingSettings {
  /**
   * Silence before a turn whose text is neither finished nor dangling may end (with an STT
   * end-of-speech signal), ms. Above a typical mid-sentence pause (700 ms).
   */
  minSilenceMs: number;
  /** Silence after which the turn ends even without an STT end-of-speech signal, or when the text dangles, ms. */
  maxSilenceMs: number;
  /** Silence before a turn whose text is a finished sentence may end (with an STT end-of-speech signal), ms. */
  completeSilenceMs?: number;
}

/**
 * `completeSilenceMs` 300, from `bun run scripts/bench-latency.ts` (instant provider fakes): with 160 ms
 * (as soon as the Finalize answer came), flite's "please" — a 260 ms gap before its final "s" — ended the
 * turn before the "s", which then restarted the reply (2 of 6 turns abandoned a reply after 80–160 ms
 * of audio). 300 ms is Deepgram's own endpointing silence; its speech_final needs no extra wait. A caller
 * who goes on within ~200 ms of the reply's first audio still merges into one turn
 * (CONTINUATION_GRACE_MS, turn-taking.ts); later, it is a barge-in and a new turn. Unfinished and
 * dangling texts keep the longer waits (900 / 1600 ms), so "I would like to book a study room … for
 * tomorrow" with a 700 ms pause stays one turn.
 */
export const DEFAULT_COMPLETE_SILENCE_MS = 300;

export const DEFAULT_ENDPOINTING: EndpointingSettings = {
  minSilenceMs: 900,
  maxSilenceMs: 1600,
  completeSilenceMs: DEFAULT_COMPLETE_SILENCE_MS,
};

/** Finalize round trips (request → `from_finalize` answer) remembered per call; the estimate is their maximum. */
export const FINALIZE_RTT_SAMPLES = 8;

export interface TurnEnd {
  text: string;
  /** Clock time (ms) the caller stopped speaking, per the VAD, or when the final arrived without VAD. */
  speechEndAt: number;
  /** Clock time (ms) the last final transcript arrived. */
  finalAt: number;
  /** How the text was judged when the turn ended. */
  completion?: Completion;
}

export class TurnDetector {
  private pending: string[] = [];
  private speaking = false;
  private lastSpeechEnd = -Infinity;
  private sttEnded = false;
  /** The STT's end signal came from its own endpointing (speech_final), which already waited for silence. */
  private sttHeardSilence = false;
  /** A Finalize was requested for the current silence. */
  private flushed = false;
  /** Speech (a start, or sound in a pause) was heard since the last Finalize: finalizeNow asks again. */
  private heardSinceFlush = false;
  private lastFinalAt = 0;
  private timer: TimerHandle | undefined;
  /** A Finalize due later in the current silence (see the file comment). */
  private flushTimer: TimerHandle | undefined;
  /** Clock time the last Finalize went out, until its answer arrives. */
  private flushSentAt: number | undefined;
  /** Finalize round trips measured on this call, ms (newest last). */
  private readonly flushRtts: number[] = [];

  /**
   * @param onFlush asks the STT to finalize what it heard (SttStream.flush()); called at most once per
   *   silence, when the VAD reports a pause and the STT has not signalled the end of the speech yet.
   */
  constructor(
    private readonly clock: Clock,
    private readonly settings: EndpointingSettings,
    private readonly onTurnEnd: (turn: TurnEnd) => void,
    private readonly onFlush?: () => void,
  ) {}

  /** True while the VAD hears the caller. */
  get callerSpeaking(): boolean {
    return this.speaking;
  }

  /** Clock time (ms) the last final transcript arrived, empty ones included; 0 before any. */
  get lastFinalTime(): number {
    return this.lastFinalAt;
  }

  /** Final text not yet handed out as a turn. */
  get pendingText(): string {
    return this.pending.join(" ");
  }

  speechStarted(): void {
    this.speaking = true;
    this.heardSinceFlush = true;
    this.sttEnded = this.sttHeardSilence = false;
    this.flushed = false;
    this.clock.clearTimer(this.timer);
    this.cancelFlush();
  }

  /**
   * The VAD hears speech-like sound again during a pause, not (yet) confirmed as speech: hold any
   * decision until it is (speechStarted) or the pause is reported again (speechPaused).
   */
  speechActivity(): void {
    this.speaking = true;
    this.heardSinceFlush = true;
    this.clock.clearTimer(this.timer);
    this.cancelFlush();
  }

  /**
   * The VAD hears a pause inside the caller's speech (it may still go on).
   * @param at clock time of the last speech frame, ms.
   */
  speechPaused(at = this.clock.now()): void {
    this.silence(at);
  }

  /** @param at clock time of the last speech frame, ms. */
  speechEnded(at = this.clock.now()): void {
    this.silence(at);
  }

  /**
   * A final transcript. `speechFinal`: the STT's own endpointing saw the end of the speech (Deepgram
   * speech_final). `fromFinalize`: the answer to our Finalize (Deepgram from_finalize): the STT has
   * reported all it heard, but has not judged the silence itself.
   */
  final(text: string, speechFinal: boolean, fromFinalize = false): void {
    const t = text.trim();
    if (t) this.pending.push(t);
    this.lastFinalAt = this.clock.now();
    if (speechFinal) {
      this.sttEnded = this.sttHeardSilence = true;
      this.heardSinceFlush = false; // it heard the silence after all of it
    }
    if (fromFinalize) {
      this.sttEnded = true;
      if (this.flushSentAt !== undefined) {
        this.flushRtts.push(this.lastFinalAt - this.flushSentAt);
        if (this.flushRtts.length > FINALIZE_RTT_SAMPLES) this.flushRtts.shift();
        this.flushSentAt = undefined;
      }
    }
    if (this.sttEnded) this.cancelFlush();
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

  /**
   * Asks the STT to finalize now, whatever the timing above (a paused reply waits for these words,
   * barge-in-pause.ts), unless it was asked or signalled the end since the caller last made a sound: a
   * sound in a pause that did not become a new start (speechActivity) asks again, or the second half of
   * a backchannel (a Finalize at the gap inside "I see" answered nothing) waited for the STT's own
   * endpointing (live: 899 ms paused instead of ~500). `again`: ask even so (its answer was empty and
   * the sound's tail may have come after it).
   */
  finalizeNow(again = false): void {
    if (!this.onFlush || (!again && !this.heardSinceFlush && (this.sttEnded || this.flushed))) return;
    this.cancelFlush();
    this.flushNow();
  }

  /** The Finalize round trip this call's timing uses, ms; undefined until one was measured. */
  get finalizeRttMs(): number | undefined {
    return this.flushRtts.length ? Math.max(...this.flushRtts) : undefined;
  }

  dispose(): void {
    this.clock.clearTimer(this.timer);
    this.cancelFlush();
  }

  private silence(at: number): void {
    const wasSpeaking = this.speaking;
    this.speaking = false;
    if (wasSpeaking || !Number.isFinite(this.lastSpeechEnd)) this.lastSpeechEnd = Math.max(at, Number.isFinite(this.lastSpeechEnd) ? this.lastSpeechEnd : at);
    if (!this.sttEnded && !this.flushed && this.onFlush) this.scheduleFlush();
    this.check();
  }

  /** Asks for the Finalize so that its answer lands when the finished-sentence wait is over (file comment). */
  private scheduleFlush(): void {
    this.cancelFlush();
    const rtt = this.finalizeRttMs;
    const wait = rtt === undefined ? 0 : this.lastSpeechEnd + this.completeWait() - rtt - this.clock.now();
    if (wait <= 0) return this.flushNow();
    this.flushTimer = this.clock.setTimer(wait, () => {
      this.flushTimer = undefined;
      if (!this.speaking && !this.sttEnded && !this.flushed) this.flushNow();
    });
  }

  private flushNow(): void {
    this.flushed = true;
    this.heardSinceFlush = false;
    this.flushSentAt = this.clock.now();
    this.onFlush?.();
  }

  private cancelFlush(): void {
    this.clock.clearTimer(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** Silence a finished sentence needs once the Finalize answered, ms. */
  private completeWait(): number {
    return Math.min(this.settings.completeSilenceMs ?? DEFAULT_COMPLETE_SILENCE_MS, this.settings.minSilenceMs);
  }

  /** Silence (ms) the current text needs before the turn may end. */
  private need(completion: Completion): number {
    const s = this.settings;
    if (!this.sttEnded || completion === "incomplete") return s.maxSilenceMs;
    if (completion === "complete") return this.sttHeardSilence ? 0 : this.completeWait();
    return s.minSilenceMs;
  }

  private check(): void {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    if (this.speaking || this.pending.length === 0) return;
    const now = this.clock.now();
    const silentSince = Number.isFinite(this.lastSpeechEnd) ? this.lastSpeechEnd : this.lastFinalAt;
    const silence = now - silentSince;
    const text = this.pending.join(" ");
    const completion = classifyCompletion(text);
    const need = this.need(completion);
    if (silence >= need) {
      this.pending = [];
      this.sttEnded = this.sttHeardSilence = false;
      this.onTurnEnd({ text, speechEndAt: silentSince, finalAt: this.lastFinalAt, completion });
      return;
    }
    this.timer = this.clock.setTimer(need - silence, () => this.check());
  }
}
