/**
 * The conversation's state (STYLE habit 3): one string union, one table of legal moves, and every move
 * through `StateMachine.to()` (src/util/state-machine.ts), which rejects the rest.
 *
 *   greeting  — the agent's first words are being generated or played;
 *   listening — no agent speech in progress: waiting for the caller (the idle timer runs here);
 *   replying  — a reply, prompt, apology or resumed rest is being generated or played;
 *   on-hold   — the far end put the call on hold: nothing is said, heard or timed (no idle prompts);
 *   ending    — the goodbye is being played; the hang-up follows its last packet;
 *   stopped   — the call is over; nothing happens any more.
 *
 * Self-moves that happen legitimately are listed: greeting → greeting (the greeting restarted on the
 * offline provider after a failure at call start), replying → replying (a new reply replaces one still
 * playing, e.g. barge-in off, or the apology after a failed reply).
 */
import { StateMachine, type TransitionTable } from "../util/state-machine";

export type ConversationState = "greeting" | "listening" | "replying" | "on-hold" | "ending" | "stopped";

export const CONVERSATION_TRANSITIONS: TransitionTable<ConversationState> = {
  greeting: ["greeting", "listening", "replying", "on-hold", "ending", "stopped"],
  listening: ["replying", "on-hold", "ending", "stopped"],
  replying: ["replying", "listening", "on-hold", "ending", "stopped"],
  "on-hold": ["listening", "replying", "ending", "stopped"],
  ending: ["stopped"],
  stopped: [],
};

/** A conversation state machine starting in `greeting`. */
export function conversationMachine(
  onChange?: (from: ConversationState, to: ConversationState) => void,
): StateMachine<ConversationState> {
  return new StateMachine<ConversationState>("conversation", "greeting", CONVERSATION_TRANSITIONS, onChange);
}
