/**
 * Answering-machine detection (AMD) for an answered outbound call: human, machine or unknown, decided
 * within `decisionMs` of the answer from the shape of the callee's first speech, the words recognised,
 * and the beep detector (src/media/beep-detector.ts). Pure: times are ms on one clock, given by the caller.
 *
 * The rules follow what Asterisk's app_amd and jambonz do (no RFC covers this):
 *   beep heard                                          → machine  ("beep")
 *   one speech run lasting ≥ greetingMs                 → machine  ("long_greeting": a recorded greeting)
 *   ≥ machineWords words recognised in the first run    → machine  ("many_words")
 *   speech, then silenceAfterSpeechMs of silence        → human    ("short_greeting": "Hello?" and a wait)
 *   no speech at all within noSpeechMs                  → unknown  ("no_speech")
 *   nothing decided by decisionMs                       → unknown  ("timeout")
 * A run is speech with no silence of `silenceAfterSpeechMs` inside it (pauses between words and
 * sentences of one greeting do not end it).
 *
 * Defaults: greetingMs 2400 ("Hello, this is Ann speaking" is ~1.5 s; recorded greetings run 5–15 s),
 * machineWords 8 (jambonz uses 9 over a longer window), silenceAfterSpeechMs 700 (Asterisk's
 * afterGreetingSilence is 800), noSpeechMs 2000 (Asterisk's initialSilence is 2500; a person who picks
 * up says something within about a second), decisionMs 3500.
 */

export type AmdResult = "human" | "machine" | "unknown";
export type AmdReason = "beep" | "long_greeting" | "many_words" | "short_greeting" | "no_speech" | "timeout";

export interface AmdDecision {
  result: AmdResult;
  reason: AmdReason;
  /** When it was decided, ms on the caller's clock. */
  atMs: number;
  /** Since the answer, ms. */
  afterMs: number;
}

export interface AmdClassifierSettings {
  /** Nothing decided by then (ms after the answer) → unknown. */
  decisionMs: number;
  /** A speech run this long (ms) is a recorded greeting. */
  greetingMs: number;
  /** This many recognised words in the first run is a recorded greeting. */
  machineWords: number;
  /** Silence (ms) that ends a run: after a short run, the callee said "Hello?" and waits → human. */
  silenceAfterSpeechMs: number;
  /** No speech at all for this long (ms) after the answer → unknown. */
  noSpeechMs: number;
}

export const DEFAULT_AMD_CLASSIFIER: AmdClassifierSettings = {
  decisionMs: 3500,
  greetingMs: 2400,
  machineWords: 8,
  silenceAfterSpeechMs: 700,
  noSpeechMs: 2000,
};

export class AmdClassifier {
  private readonly s: AmdClassifierSettings;
  /** Start of the current run, ms; undefined before any speech. */
  private runStart: number | undefined;
  /** The callee is speaking (between a start and an end). */
  private speaking = false;
  /** End of the last speech, ms (while not speaking). */
  private lastEnd = 0;
  private finalWords = 0;
  private interimWords = 0;
  private decided: AmdDecision | undefined;

  /**
   * @param answeredAtMs when the callee answered (ms, same clock as every other argument)
   * @throws RangeError when a setting is not a positive number.
   */
  constructor(
    private readonly answeredAtMs: number,
    settings: Partial<AmdClassifierSettings> = {},
  ) {
    this.s = { ...DEFAULT_AMD_CLASSIFIER };
    for (const [k, v] of Object.entries(settings)) if (v !== undefined) this.s[k as keyof AmdClassifierSettings] = v;
    for (const [k, v] of Object.entries(this.s)) if (!(v > 0)) throw new RangeError(`AMD setting ${k} must be > 0, got ${v}`);
  }

  get decision(): AmdDecision | undefined {
    return this.decided;
  }

  /** The callee is speaking now (a speech start not yet ended). */
  get calleeSpeaking(): boolean {
    return this.speaking;
  }

  /** Callee speech began at `atMs`. */
  speechStarted(atMs: number): void {
    if (this.runStart === undefined || (!this.speaking && atMs - this.lastEnd >= this.s.silenceAfterSpeechMs)) {
      // A new run (the first, or after a silence that already ended the previous one).
      if (this.runStart !== undefined) this.finalWords = this.interimWords = 0;
      this.runStart = atMs;
    }
    this.speaking = true;
  }

  /** Callee speech ended at `atMs` (the last speech frame). */
  speechEnded(atMs: number): void {
    if (!this.speaking) return;
    this.speaking = false;
    this.lastEnd = atMs;
  }

  /** Words recognised: `final` text adds to the run's words; interim text is the utterance so far. */
  heard(text: string, final: boolean, nowMs: number): AmdDecision | undefined {
    const n = countWords(text);
    if (final) {
      this.finalWords += n;
      this.interimWords = 0;
    } else this.interimWords = n;
    return this.tick(nowMs);
  }

  /** A beep ended at `nowMs`. */
  beep(nowMs: number): AmdDecision {
    return this.decide("machine", "beep", nowMs);
  }

  /** Applies the time rules at `nowMs` (call it every frame). Returns the decision once made. */
  tick(nowMs: number): AmdDecision | undefined {
    if (this.decided) return this.decided;
    const s = this.s;
    if (this.runStart !== undefined) {
      const runEnd = this.speaking ? nowMs : this.lastEnd;
      if (runEnd - this.runStart >= s.greetingMs) return this.decide("machine", "long_greeting", nowMs);
      if (this.finalWords + this.interimWords >= s.machineWords) return this.decide("machine", "many_words", nowMs);
      if (!this.speaking && nowMs - this.lastEnd >= s.silenceAfterSpeechMs) return this.decide("human", "short_greeting", nowMs);
    } else if (nowMs - this.answeredAtMs >= s.noSpeechMs) return this.decide("unknown", "no_speech", nowMs);
    if (nowMs - this.answeredAtMs >= s.decisionMs) return this.decide("unknown", "timeout", nowMs);
    return undefined;
  }

  private decide(result: AmdResult, reason: AmdReason, atMs: number): AmdDecision {
    this.decided ??= { result, reason, atMs, afterMs: Math.max(0, Math.round(atMs - this.answeredAtMs)) };
    return this.decided;
  }
}

/** Words in recognised text (letters or digits runs; "[keys pressed: 1]" and punctuation do not count twice). */
export function countWords(text: string): number {
  return text.match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu)?.length ?? 0;
}
