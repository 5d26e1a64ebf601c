/**
 * The caller's side of one call's conversation (agent-call.ts owns the call's lifecycle and wiring): what
 * the caller's speech, turns and keys do to the agent's side (agent-speech.ts). Speech start: barge-in
 * or a continued turn (turn-taking.ts `onCallerSpeechStart`); speech end without words: resume the cut
 * reply (`NoWordsWatch`); a turn: answer, resume, or ignore a backchannel or background words
 * (`onCallerTurn`); DTMF keys: cut the agent short, then one caller turn per group. Events reach it only
 * while the conversation is live (AgentCall checks).
 */
import type { StateMachine } from "../util/state-machine";
import type { AgentSpeech } from "./agent-speech";
import type { CallTimers } from "./call-timers";
import type { ConversationLog } from "./conversation-log";
import type { ConversationState } from "./conversation-state";
import type { AgentCallDeps, ConversationSettings } from "./conversation-settings";
import type { DigitCollector } from "./digit-collector";
import type { TurnDetector, TurnEnd } from "./endpointing";
import type { OutboundAnswer } from "./outbound-answer";
import { dtmfTurnText } from "../providers/dtmf-text";
import { backgroundWords, NoWordsWatch, onCallerSpeechStart, onCallerTurn } from "./turn-taking";
import { BargeInPause } from "./barge-in-pause";
import type { SpeechHandle } from "./speech-handle";

/**
 * An empty Finalize answer while a reply is paused: the Finalize is asked again this much later, ms
 * (onWords). 150 ms after the answer brought the espeak "Mm-hmm." back 851 ms after its onset live; at
 * once the second asking still comes a round trip after the first, past the tail.
 */
export const PAUSED_REASK_MS = 0;

export interface CallerSideDeps {
  d: AgentCallDeps;
  settings: ConversationSettings;
  state: StateMachine<ConversationState>;
  log: ConversationLog;
  detector: TurnDetector;
  timers: CallTimers;
  speech: AgentSpeech;
  digits: DigitCollector;
  answer: OutboundAnswer | undefined;
}

export class CallerSide {
  /** The caller's speech since a barge-in, for resuming after no words. */
  readonly noWords = new NoWordsWatch();
  private readonly d: AgentCallDeps;
  private readonly settings: ConversationSettings;
  private readonly state: StateMachine<ConversationState>;
  private readonly log: ConversationLog;
  private readonly detector: TurnDetector;
  private readonly timers: CallTimers;
  private readonly speech: AgentSpeech;
  private readonly digits: DigitCollector;
  private readonly answer: OutboundAnswer | undefined;
  /** A barge-in pauses the reply until its sound is known (barge-in-pause.ts); null: it cuts at once. */
  private readonly pause: BargeInPause | null;
  /** The reply the pause holds (or held, for words arriving late). */
  private pausedReply: SpeechHandle | null = null;
  private pausedAt = 0;
  /**
   * A paused barge-in was confirmed as an interruption (words, or speech longer than a backchannel): the
   * words that follow are this caller's, not background (`backgroundWords`), until a turn that is not a
   * backchannel is answered. Without it, "okay" and a question 100 ms after it (one sound to the VAD,
   * confirmed at 1.2 s) resumed the reply on the "okay" final and then took the question, heard while the
   * resumed rest played, for background: never answered (session 10 probe, compiled binary, 3 of 4 calls).
   */
  private confirmedCaller = false;
  /** The last Finalize asked while paused was a second asking (onWords): its empty answer is final. */
  private reasked = false;
  /** A second asking is due. */
  private reaskDue = false;

  constructor(o: CallerSideDeps) {
    this.d = o.d;
    this.settings = o.settings;
    this.state = o.state;
    this.log = o.log;
    this.detector = o.detector;
    this.timers = o.timers;
    this.speech = o.speech;
    this.digits = o.digits;
    this.answer = o.answer;
    const wait = o.settings.bargeInPauseWaitMs;
    this.pause =
      wait === null || wait === undefined
        ? null
        : new BargeInPause(o.d.clock, wait, {
            unpause: (why) => {
              const r = this.pausedReply;
              if (!r || r !== this.speech.reply || r.interrupted) return;
              const ms = this.d.clock.now() - this.pausedAt;
              this.speech.unpause(why, ms);
              this.notePause("resumed", ms);
            },
            cut: (why) => {
              const r = this.pausedReply;
              this.pausedReply = null;
              if (!r || r !== this.speech.reply || r.interrupted) return;
              this.d.log.info({ callId: this.d.record.id, why }, "barge-in confirmed");
              // Late words cut a reply that already went on: that pause was counted as resumed, its length with it.
              this.notePause("cut", why === "late_words" ? null : this.d.clock.now() - this.pausedAt);
              this.confirmedCaller = true;
              this.speech.cut(r, "barge-in");
              this.noWords.bargedIn();
            },
          });
  }

  /** A paused barge-in was decided: on the record (CallRecord.bargeInPauses) and to the owner (metrics). */
  private notePause(result: "resumed" | "cut", pausedMs: number | null): void {
    const ms = pausedMs === null ? null : Math.max(0, Math.round(pausedMs));
    const p = (this.d.record.bargeInPauses ??= { resumed: 0, cut: 0, resumedMs: 0, maxResumedMs: 0 });
    if (result === "cut") p.cut++;
    else {
      p.resumed++;
      p.resumedMs += ms ?? 0;
      p.maxResumedMs = Math.max(p.maxResumedMs, ms ?? 0);
    }
    this.d.onBargeInPause?.(result, ms);
  }

  /** A reply is paused by a barge-in not yet decided (and still the reply in progress, still paused). */
  private get paused(): boolean {
    if (!this.pause?.active) return false;
    const r = this.pausedReply;
    if (r && r === this.speech.reply && !r.interrupted && this.d.output.isPaused) return true;
    this.pause.clear(); // cut, abandoned or replaced some other way (hold, keys, the next turn, a prompt)
    return false;
  }

  /** The VAD heard the caller start speaking `onsetAgoMs` ago: barge-in, a continued turn, or nothing (turn-taking.ts). */
  onSpeechStart(onsetAgoMs: number): void {
    if (this.state.is("on-hold")) return;
    this.noWords.speechStarted(this.d.clock.now() - onsetAgoMs);
    this.detector.speechStarted();
    this.timers.callerSpoke();
    this.speech.dropPrepared();
    const r = this.speech.reply;
    if (!r || this.state.is("ending")) return;
    if (this.paused) return this.pause!.speechStarted(); // the same sound goes on, or more of it
    const decision = onCallerSpeechStart({
      reply: r.view(),
      onsetAgoMs,
      bargeIn: this.settings.bargeIn,
      agentAudible: this.d.output.isPlaying,
      graceMs: this.settings.continuationGraceMs,
    });
    if (decision === "continue_turn") this.speech.abandonReply(r);
    else if (decision === "barge_in" && this.pause) {
      this.pausedReply = r;
      this.pausedAt = this.d.clock.now();
      this.reasked = this.reaskDue = false;
      this.speech.pause(r);
      this.pause.start(this.pausedAt - onsetAgoMs);
    } else if (decision === "barge_in") {
      this.speech.cut(r, "barge-in");
      this.noWords.bargedIn();
    }
  }

  /** The VAD heard `silenceMs` of silence inside the caller's speech (a pause, not yet its end). */
  onSpeechPause(silenceMs: number): void {
    if (!this.paused) return;
    this.pause!.speechStopped(this.d.clock.now() - silenceMs, false);
    // Still paused: the words decide it, so ask for them now (Deepgram Finalize), not when endpointing would.
    if (!this.paused) return;
    this.reasked = false;
    this.detector.finalizeNow();
  }

  /**
   * The recogniser's words (an interim hypothesis or a final; `fromFinalize`: the answer to our Finalize),
   * before the turn logic sees them: they decide a paused barge-in. An empty answer while still paused
   * and the caller quiet: asked once more (PAUSED_REASK_MS), for the sound's soft tail that came
   * after the VAD's pause (espeak en+m3 "Mm-hmm." live: the Finalize 80 ms into the VAD's silence came
   * before the end of its "m", the words waited for the STT's endpointing and the reply 900 ms).
   */
  onWords(text: string, final: boolean, fromFinalize = false): void {
    if (this.paused || this.pause?.active === false) this.pause?.words(text, final);
    if (!fromFinalize || text.trim() || this.reasked || this.reaskDue || !this.paused) return;
    this.reaskDue = true;
    this.d.clock.setTimer(PAUSED_REASK_MS, () => {
      this.reaskDue = false;
      if (!this.paused || this.detector.callerSpeaking) return; // more sound: its own pause asks
      this.reasked = true;
      this.detector.finalizeNow(true);
    });
  }

  /** The VAD heard the caller stop `silenceMs` ago. */
  onSpeechEnd(silenceMs: number): void {
    if (this.state.is("on-hold")) return;
    if (this.paused) this.pause!.speechStopped(this.d.clock.now() - silenceMs, true);
    if (this.paused) {
      this.reasked = false;
      this.detector.finalizeNow(); // as at a pause (onSpeechPause)
    }
    this.detector.speechEnded(this.d.clock.now() - silenceMs);
    if (!this.speech.resumable) {
      // Speech start stopped the idle timer; a sound that brings no turn (a "hmm" without words, the
      // tail of our own echo) must not leave the call without one: without this, a caller who only
      // said "Hmm." after the greeting was never prompted and the call never ended
      // (tests/e2e/turn-scenarios.test.ts "hesitation").
      // (While a prompt plays, its own end arms the timer.)
      if (!this.speech.reply && !this.state.is("ending") && !this.d.output.isPlaying) this.timers.armIdle();
      return;
    }
    // A barge-in that carries no words (a cough the VAD took for speech, a noise): go on talking.
    this.noWords.speechEnded(this.d.clock.now() - silenceMs);
    this.timers.armNoWords(this.settings.noWordsResumeMs - silenceMs);
  }

  /** The no-words wait after a barge-in is over: resume, wait longer for a slow recogniser, or nothing (turn-taking.ts). */
  onNoWords(): void {
    const { decision, recheckMs, speechMs, firstWait } = this.noWords.decide(this.d.clock.now(), {
      resumable: !!this.speech.resumable,
      replying: !!this.speech.reply,
      callerSpeaking: this.detector.callerSpeaking,
      pendingText: this.detector.pendingText,
      lastFinalAt: this.detector.lastFinalTime,
      resumeMs: this.settings.noWordsResumeMs,
      maxWaitMs: this.settings.noWordsMaxWaitMs,
    });
    if (decision === "wait") {
      if (firstWait) this.d.log.info({ callId: this.d.record.id, speechMs: Math.round(speechMs) }, "no words yet: waiting for the recogniser before resuming");
      return this.timers.armNoWords(recheckMs);
    }
    if (decision === "resume" && !this.state.is("on-hold")) this.speech.resumeReply("no_words");
  }

  /** One DTMF key (AgentCall.onDtmf). */
  onDtmf(key: string): void {
    if (this.state.is("stopped", "on-hold", "ending") || this.answer?.pending) return;
    this.d.log.info({ callId: this.d.record.id, pii: { key } }, "dtmf key");
    this.timers.callerSpoke();
    if (!this.digits.pending && this.speech.reply && !this.speech.reply.interrupted) this.speech.cut(this.speech.reply, "next-turn");
    this.digits.press(key);
  }

  /** A group of keys is complete (digit-collector.ts): a caller turn; `dropped` older keys the group bound let go (logged). */
  onDigits(keys: string, dropped = 0): void {
    if (this.state.is("ending", "stopped", "on-hold")) return;
    const text = dtmfTurnText(keys);
    this.log.callerTurn(text);
    this.d.log.info({ callId: this.d.record.id, ...(dropped > 0 ? { droppedKeys: dropped } : {}), pii: { keys } }, "caller keys");
    this.speech.resumable = null;
    this.speech.startReply(text, null);
  }

  /** The caller's turn ended (endpointing.ts): recorded, and answered unless turn-taking.ts says otherwise. */
  onTurnEnd(turn: TurnEnd): void {
    if (this.state.is("ending", "stopped", "on-hold")) return;
    const now = this.d.clock.now();
    this.noWords.clear(); // the words came
    this.noWords.recogniserLag(turn.finalAt - turn.speechEndAt);
    // Observers and the log line hear of it once the reply's first audio went out (ConversationLog.flush),
    // unless a reply plays: its cut turn is recorded first, in order.
    const logged = () => this.d.log.info({ callId: this.d.record.id, pii: { text: turn.text } }, "caller turn");
    this.log.callerTurn(turn.text, { defer: !this.speech.reply, then: logged });
    try {
      this.decideTurn(turn, now);
    } finally {
      if (!this.speech.reply) this.log.flush(); // no reply started (e.g. before the outbound opening)
    }
  }

  private decideTurn(turn: TurnEnd, now: number): void {
    // Before the outbound opening ("Hello?", a machine's greeting): on the record, but no reply to it.
    if (this.answer?.pending) return;
    const decision = onCallerTurn({
      text: turn.text,
      backchannel: this.settings.backchannel,
      resumable: !!this.speech.resumable,
      reply: this.speech.reply && this.speech.reply.view(),
    });
    if (decision === "resume") return this.speech.resumeReply("backchannel");
    if (decision === "ignore_backchannel") {
      // "uh-huh" over the agent, too short to interrupt it: the caller is listening, the reply goes on.
      this.d.log.info({ callId: this.d.record.id }, "backchannel while the agent speaks");
      return;
    }
    // On the record, not answered, the agent goes on — unless the caller's interruption was confirmed.
    if (!this.confirmedCaller && backgroundWords(this.d, turn.text)) return;
    this.confirmedCaller = false;
    this.speech.resumable = null;
    this.speech.startReply(turn.text, {
      speechEndAt: turn.speechEndAt,
      finalTranscriptMs: Math.max(0, Math.round(turn.finalAt - turn.speechEndAt)),
      now,
    });
  }
}
