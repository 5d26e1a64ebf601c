/**
 * Turn-taking decisions of the conversation, as pure functions of what is known at the moment: the
 * caller started speaking (continuation of the turn, barge-in, or nothing), a caller turn ended (resume
 * an interrupted reply, ignore a backchannel, or reply), and the silence after a barge-in without words
 * (resume). AgentCall carries them out.
 */
import { isBackchannel } from "./backchannel";

/**
 * Caller speech that began at most this long (ms) after a reply's first audio cannot be a reaction to
 * the reply (reacting to a heard sound takes ≥ ~200 ms), so it continues the caller's turn: the reply is
 * abandoned and the turns merge instead of a barge-in. Measured (tests/e2e/turn-scenarios.test.ts, a
 * two-part sentence through the compiled agent): with a 900 ms pause the turn ended, 31 ms of reply
 * played, and the second part then counted as a barge-in with a separate caller turn and LLM request.
 */
export const CONTINUATION_GRACE_MS = 200;

/** What the reply in progress looks like to the decisions. */
export interface ReplyView {
  /** The caller turn it answers; null for the greeting, a prompt or a resumed rest. */
  userText: string | null;
  interrupted: boolean;
  /** Its audio heard so far, ms. */
  heardMs: number;
  /** Its first frame has gone out. */
  started: boolean;
}

export type SpeechStartDecision = "continue_turn" | "barge_in" | "none";

/**
 * The caller started speaking (`onsetAgoMs` ago: the VAD's confirmation delay).
 *  - continue_turn: the reply answers a caller turn and played at most CONTINUATION_GRACE_MS before the
 *    speech began: abandon it, the caller's turns merge;
 *  - barge_in: barge-in is on and our audio is going out, or the reply has started and waits for its
 *    next sentence (the output ran dry between two sentences: the caller who speaks into that gap is
 *    interrupting too, and the rest must not start over them): stop the reply, keep what was heard;
 *  - none: nothing to interrupt (no reply, or one not yet started and not answering a caller turn).
 */
export function onCallerSpeechStart(x: {
  reply: ReplyView | null;
  onsetAgoMs: number;
  bargeIn: boolean;
  agentAudible: boolean;
  /** The grace, ms (CONTINUATION_GRACE_MS env variable); default CONTINUATION_GRACE_MS. */
  graceMs?: number;
}): SpeechStartDecision {
  const r = x.reply;
  if (!r || r.interrupted) return "none";
  if (r.userText !== null && r.heardMs - x.onsetAgoMs <= (x.graceMs ?? CONTINUATION_GRACE_MS)) return "continue_turn";
  if (x.bargeIn && (x.agentAudible || r.started)) return "barge_in";
  return "none";
}

export type TurnDecision = "resume" | "ignore_backchannel" | "reply";

/**
 * A caller turn ended with `text`.
 *  - resume: a barge-in cut a reply and its words are only a backchannel ("uh-huh"): go on with the rest;
 *  - ignore_backchannel: a backchannel over a reply still playing, too short to interrupt it;
 *  - reply: a new turn.
 * With `backchannel: "reply"` every turn is a new turn.
 */
export function onCallerTurn(x: {
  text: string;
  backchannel: "resume" | "reply";
  /** A cut reply may be resumed. */
  resumable: boolean;
  reply: ReplyView | null;
}): TurnDecision {
  if (x.backchannel !== "resume" || !isBackchannel(x.text)) return "reply";
  if (x.resumable) return "resume";
  if (x.reply && !x.reply.interrupted && x.reply.started) return "ignore_backchannel";
  return "reply";
}

/**
 * Caller speech after a barge-in at least this long (ms, VAD onset of the interrupting speech → end of
 * the caller's speech) is taken to carry words even while the recogniser has not reported any: a
 * cough, a bump or an "mm" is shorter (the noise bursts of tests/e2e/turn-scenarios.test.ts are
 * 90–200 ms; a "Hmm." ~400 ms), a sentence is longer.
 */
export const LIKELY_WORDS_SPEECH_MS = 800;

/** Re-check interval (ms) while the no-words resume waits for a recogniser that still owes an answer. */
export const NO_WORDS_RECHECK_MS = 250;

/**
 * The no-words wait also covers 1.5 × the slowest recogniser answer seen on the call (speech end → its
 * final, ms), up to this many ms: on this machine under load pocketsphinx answered a 4.5–5 s sentence
 * 4.8 s after it ended (tests/e2e repro in the talkover report), near the 6 s default.
 */
export const NO_WORDS_MAX_ADAPTIVE_MS = 15_000;

export type NoWordsDecision = "resume" | "wait" | "none";

/**
 * After a barge-in, the caller's speech ended `silentMs` ago (`noWordsResumeMs` or more) and no words came.
 *  - none: nothing to resume, or something else is going on (the caller speaks again, words are
 *    pending as a turn, a reply already plays);
 *  - wait: the speech was long enough to be words (`speechMs` ≥ LIKELY_WORDS_SPEECH_MS) and the
 *    recogniser has not answered anything since it ended (`sttAnswered`: a final, even an empty one such
 *    as Deepgram's answer to Finalize) — it is slow, not empty-handed; check again, up to `maxWaitMs`
 *    of silence (NoWordsWatch raises it to 1.5 × the slowest answer seen on the call). Resuming here talked over the caller: pocketsphinx on a loaded machine reported a 5 s
 *    sentence 2–6 s after it ended, so the rest of the greeting went out first and the words came
 *    in over it (talkover brief, session 3);
 *  - resume: go on with the cut reply's unheard rest.
 */
export function afterNoWords(x: {
  resumable: boolean;
  replying: boolean;
  callerSpeaking: boolean;
  pendingText: string;
  speechMs: number;
  silentMs: number;
  sttAnswered: boolean;
  maxWaitMs: number;
}): NoWordsDecision {
  if (!x.resumable || x.replying || x.callerSpeaking || x.pendingText) return "none";
  if (!x.sttAnswered && x.speechMs >= LIKELY_WORDS_SPEECH_MS && x.silentMs < x.maxWaitMs) return "wait";
  return "resume";
}

/**
 * The caller's speech since the barge-in that cut the reply now resumable (AgentCall keeps one per
 * call): how long it was and when it ended, for `afterNoWords`.
 */
export class NoWordsWatch {
  private onsetAt = 0;
  private span: { onsetAt: number; endAt: number } | null = null;
  /** The slowest recogniser answer on this call: caller speech end → final, ms. */
  private lagMs = 0;

  /** Caller speech began at clock time `at` (ms, the VAD's onset). */
  speechStarted(at: number): void {
    this.onsetAt = at;
  }

  /** The speech that began last cut the reply (a barge-in). */
  bargedIn(): void {
    this.span = { onsetAt: this.onsetAt, endAt: this.onsetAt };
  }

  /** The caller's speech ended at clock time `at` (ms) while a cut reply may resume. */
  speechEnded(at: number): void {
    this.span = { onsetAt: this.span?.onsetAt ?? this.onsetAt, endAt: at };
  }

  /** A caller turn's final came `ms` after its speech ended. */
  recogniserLag(ms: number): void {
    if (Number.isFinite(ms)) this.lagMs = Math.max(this.lagMs, ms);
  }

  /** Words came (a turn), or the reply resumed. */
  clear(): void {
    this.span = null;
  }

  /**
   * The decision at clock time `now` (afterNoWords); `recheckMs` when it is "wait", `firstWait` on the
   * first wait after `resumeMs` (for a log line). `lastFinalAt`: when the recogniser last answered.
   */
  decide(
    now: number,
    x: { resumable: boolean; replying: boolean; callerSpeaking: boolean; pendingText: string; lastFinalAt: number; resumeMs: number; maxWaitMs: number },
  ): { decision: NoWordsDecision; recheckMs: number; speechMs: number; firstWait: boolean } {
    const sp = this.span;
    const maxWaitMs = Math.min(NO_WORDS_MAX_ADAPTIVE_MS, Math.max(x.maxWaitMs, 1.5 * this.lagMs));
    const silentMs = sp ? now - sp.endAt : Infinity;
    const speechMs = sp ? sp.endAt - sp.onsetAt : 0;
    const decision = afterNoWords({ ...x, maxWaitMs, speechMs, silentMs, sttAnswered: !!sp && x.lastFinalAt >= sp.endAt });
    if (decision === "resume") this.span = null;
    const recheckMs = Math.min(NO_WORDS_RECHECK_MS, maxWaitMs - silentMs);
    return { decision, recheckMs, speechMs, firstWait: silentMs - x.resumeMs < NO_WORDS_RECHECK_MS };
  }
}

/**
 * Words the recogniser heard while the agent talks, from speech the VAD held as background
 * (SpeechDetector.heldBackground: under the caller's own level, or the first-turn floor) with no caller
 * speech since: not a caller turn, so they neither cut the agent nor get a reply (logged; the text only
 * under `pii`). Empty finals pass (they carry the end of speech). Returns true when the words were taken
 * for background.
 *
 * Why: a real STT transcribes background voices too (bench-bargein's carry no words). Live, on the
 * compiled agent with the first-turn floor on, a voice 12–18 dB under the agent over the greeting did not
 * stop it, but its final cut the greeting 1.4–1.6 s after the voice ended and the agent answered it.
 * Scope, measured offline (tune set): this covers speech the detector confirmed as a segment and held —
 * 4 of the 12 background voices after the caller spoke; none of the 12 over the greeting, whose frames the
 * echo decision's quiet floor takes (no segment starts), so their words still cut the agent.
 */
export function backgroundWords(
  d: {
    vad?: { readonly heldBackground?: boolean } | null;
    output: { readonly isPlaying: boolean };
    log: { info(fields: Record<string, unknown>, msg: string): void };
    record: { id: string };
  },
  text: string,
): boolean {
  if (!d.vad?.heldBackground || !d.output.isPlaying || !text.trim()) return false;
  d.log.info({ callId: d.record.id, pii: { text } }, "words of speech held as background while the agent talks: not a turn");
  return true;
}
