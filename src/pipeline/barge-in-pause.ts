/**
 * A barge-in that is not yet known to be one: the reply's audio pauses at the onset (as fast as a cut,
 * src/media/audio-output.ts `pause()`), and this decides, from the caller's speech and the recogniser's
 * words, whether it was an interruption (cut it, keeping what was heard, as before) or a backchannel, a
 * cough or a noise (go on from the same sample). As livekit agents `resume_false_interruption` (the
 * output paused, not the speech interrupted; no new words within `false_interruption_timeout` → resume
 * the same speech), but deciding at the end of the caller's sound instead of after a fixed 2 s.
 *
 * Why: at the onset (the first ~100 ms the barge-in rule needs) "uh-huh", "yeah" or "okay" cannot be
 * told from "Sorry, …" or "Wait" by sound, and a real interruption must stop the agent within 150 ms.
 * Cutting at the onset and resuming with a re-synthesised rest left 1.6–4.2 s of agent silence per
 * backchannel (session 9 probe) and the stop itself is counted as a false interruption by issue 9.
 *
 * The decision (`duringPause`, pure; `BargeInPause` runs it on the call's clock):
 *  - cut: words that are not a backchannel (interim or final), speech longer than a backchannel
 *    (BACKCHANNEL_MAX_SPEECH_MS from its onset), or the pause lasting PAUSE_MAX_MS;
 *  - unpause: the caller went quiet (the VAD's pause, DEFAULT_PAUSE_MS of silence) after short speech
 *    and the words so far are a backchannel; or no words came, the VAD ended the speech (its segment
 *    end, 500 ms of silence, or at once for a sound it never confirmed) and `wordsWaitMs` passed since
 *    its onset (the recogniser's time to report words). Not at a mere pause without words: live,
 *    espeak en-gb "Sorry, can I ask something?" went on over the comma pause after "Sorry," and was
 *    paused again 561 ms after the onset (48–88 ms when it stayed paused until its words);
 *  - wait: otherwise.
 * After an unpause for want of words, words that are not a backchannel arriving within LATE_WORDS_MS
 * still cut the reply at once (a slow recogniser; the caller hears the agent stop then).
 * Units: ms on the call's clock.
 */
import type { Clock, TimerHandle } from "../util/clock";
import { isBackchannel } from "./backchannel";

/**
 * Caller speech longer than this (ms, onset → now or → its end, as the VAD saw it) is an interruption
 * whatever its words: a backchannel is ~250–700 ms, a drawn-out "mm-hmm" up to ~1 s (flite: "Uh huh."
 * slt 220 ms, "Okay." awb 480, "Mhm." rms 740, "Mm hmm." rms 1,060). At 800 ms (turn-taking.ts
 * LIKELY_WORDS_SPEECH_MS) the rms "Mhm." of bench-bargein was cut live. While paused nothing goes out
 * either way: this only decides whether speech that brought no words yet may let the reply go on.
 */
export const BACKCHANNEL_MAX_SPEECH_MS = 1200;

/** A pause is never longer than this (ms): then it is a cut (so BARGE_IN_PAUSE_WAIT_MS is at most this). */
export const PAUSE_MAX_MS = 2000;

/**
 * A sound the VAD ended without words lets the reply go on only this long (ms) after its onset
 * (BARGE_IN_PAUSE_WAIT_MS): the recogniser's time to report the words of a short interruption. Deepgram's
 * final comes `endpointing` (300 ms in the bench rig, counted there from the end of the caller's audio
 * file, 65–220 ms after the flite voice's last sound) after the speech; for a quiet caller the VAD "ends"
 * a start it never confirmed within ~100 ms of it, while the words go on. Live (tests/e2e/turn-scenarios,
 * awb "Sorry." at −22 dBFS, its final 785 ms after the onset), waiting 500 ms from the VAD's end let
 * the reply go on, and the words cut it again ~300 ms later.
 */
export const DEFAULT_PAUSE_WORDS_WAIT_MS = 900;

/** Words that are not a backchannel up to this long (ms) after an unpause for want of words still cut the reply. */
export const LATE_WORDS_MS = 2000;

export type PauseDecision = "cut" | "unpause" | "wait";

/** The decision while paused (file comment). */
export function duringPause(x: {
  /** Caller speech so far (speaking) or onset → its end, ms. */
  speechMs: number;
  callerSpeaking: boolean;
  /** Since the onset of the caller's sound, ms. */
  sinceOnsetMs: number;
  /** The VAD ended the caller's speech (not only a pause in it). */
  ended: boolean;
  /** The recogniser's words since the onset (finals and the latest interim). */
  words: string;
  pausedMs: number;
  wordsWaitMs: number;
}): PauseDecision {
  const words = x.words.trim();
  if (words && !isBackchannel(words)) return "cut";
  if (x.speechMs > BACKCHANNEL_MAX_SPEECH_MS || x.pausedMs >= PAUSE_MAX_MS) return "cut";
  if (x.callerSpeaking) return "wait";
  if (words || (x.ended && x.sinceOnsetMs >= x.wordsWaitMs)) return "unpause";
  return "wait";
}

export interface PauseActions {
  /** Go on with the paused reply from the same sample. */
  unpause(why: "backchannel" | "no_words"): void;
  /** It was an interruption: cut the reply (what went out before the pause is what was heard). */
  cut(why: "words" | "long_speech" | "late_words"): void;
}

/** One call's paused barge-in (file comment). Events come from the VAD and the STT; one timer. */
export class BargeInPause {
  private pausedAt = -1;
  private onsetAt = 0;
  /** When the caller went quiet; -1 while speaking. */
  private quietAt = -1;
  /** The VAD ended the speech since it went quiet. */
  private ended = false;
  private finals = "";
  private interim = "";
  /** Until when words may still cut a reply unpaused for want of words. */
  private lateUntil = -Infinity;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly wordsWaitMs: number,
    private readonly act: PauseActions,
  ) {}

  /** A reply is paused now. */
  get active(): boolean {
    return this.pausedAt >= 0;
  }

  /** The reply was paused for caller speech that began at `onsetAt` (clock ms). */
  start(onsetAt: number): void {
    this.pausedAt = this.clock.now();
    this.onsetAt = onsetAt;
    this.quietAt = -1;
    this.ended = false;
    this.finals = this.interim = "";
    this.lateUntil = -Infinity;
    this.decide();
  }

  /** The caller speaks (again) while paused. */
  speechStarted(): void {
    if (!this.active) return;
    this.quietAt = -1;
    this.ended = false;
    this.decide();
  }

  /** The caller went quiet at clock time `at`: a pause in the speech, or (`ended`) the VAD ended it. */
  speechStopped(at: number, ended: boolean): void {
    if (!this.active) return;
    if (this.quietAt < 0) this.quietAt = at;
    this.ended ||= ended;
    this.decide();
  }

  /** The recogniser's words: an interim hypothesis, or a final. */
  words(text: string, final: boolean): void {
    if (!this.active) {
      // Unpaused for want of words, and now they come: an interruption after all.
      if (this.clock.now() <= this.lateUntil && text.trim() && !isBackchannel(text)) {
        this.lateUntil = -Infinity;
        this.act.cut("late_words");
      }
      return;
    }
    if (final) {
      this.finals = `${this.finals} ${text}`.trim();
      this.interim = "";
    } else this.interim = text;
    this.decide();
  }

  /** The reply was cut or ended some other way (hold, next turn, end of call): forget the pause. */
  clear(): void {
    this.pausedAt = -1;
    this.lateUntil = -Infinity;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private decide(): void {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    if (!this.active) return;
    const now = this.clock.now();
    const speaking = this.quietAt < 0;
    const words = `${this.finals} ${this.interim}`;
    const x = {
      speechMs: (speaking ? now : this.quietAt) - this.onsetAt,
      callerSpeaking: speaking,
      sinceOnsetMs: now - this.onsetAt,
      ended: this.ended,
      words,
      pausedMs: now - this.pausedAt,
      wordsWaitMs: this.wordsWaitMs,
    };
    const d = duringPause(x);
    if (d === "wait") {
      // The next moment the answer can change without an event: speech too long, the words wait over, the pause too long.
      const due = Math.min(
        this.pausedAt + PAUSE_MAX_MS,
        speaking ? this.onsetAt + BACKCHANNEL_MAX_SPEECH_MS + 1 : this.ended ? this.onsetAt + this.wordsWaitMs : Infinity,
      );
      this.timer = this.clock.setTimer(Math.max(1, due - now), () => this.decide());
      return;
    }
    const noWords = !words.trim();
    this.clear();
    if (d === "cut") return this.act.cut(words.trim() && !isBackchannel(words) ? "words" : "long_speech");
    if (noWords) this.lateUntil = now + LATE_WORDS_MS;
    this.act.unpause(noWords ? "no_words" : "backchannel");
  }
}
