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
 *  - barge_in: barge-in is on and our audio is going out: stop the reply, keep what was heard;
 *  - none: nothing to interrupt.
 */
export function onCallerSpeechStart(x: {
  reply: ReplyView | null;
  onsetAgoMs: number;
  bargeIn: boolean;
  agentAudible: boolean;
}): SpeechStartDecision {
  const r = x.reply;
  if (!r || r.interrupted) return "none";
  if (r.userText !== null && r.heardMs - x.onsetAgoMs <= CONTINUATION_GRACE_MS) return "continue_turn";
  if (x.bargeIn && x.agentAudible) return "barge_in";
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

/** After a barge-in, the caller's speech ended and no words came: resume when nothing else is going on. */
export function resumeAfterNoWords(x: { resumable: boolean; replying: boolean; callerSpeaking: boolean; pendingText: string }): boolean {
  return x.resumable && !x.replying && !x.callerSpeaking && !x.pendingText;
}
