/**
 * The bound on the history an LLM request carries (LLM_HISTORY_MAX_CHARS). Every caller turn is a request
 * with the conversation so far, so without a bound a long call (or a caller who keeps talking or pressing
 * keys) makes each request larger than the last: more cost, a later first token, and at last the
 * provider's context limit ends the conversation. Applied in one place for every provider (AgentSpeech,
 * before `LlmProvider.generate`); the call record keeps every turn, only the request is bounded.
 *
 * Rules, in characters of message text (a system prompt is sent apart and never counted or cut):
 * - The newest caller turn and what follows it (a re-prompt after silence) are always sent; the caller
 *   turn alone over the bound is cut to its END (the words just said), marked with a leading "…".
 * - Older messages are kept newest first while the total stays within the bound; the rest are dropped
 *   whole, never cut.
 * - The kept history starts with a caller ("user") turn: an assistant message left first is dropped too,
 *   so the shaping of every provider (gemini/history.ts `normalizeTurns`: alternating, starting with a
 *   user turn) sees an ordinary conversation, not a greeting in front of "(call connected)".
 */
import type { ChatMessage } from "../providers/types";

/** Default bound, characters: ~10 minutes of both sides talking (≈150 words/min × ~6 chars/word ≈ 900/min) with room. */
export const DEFAULT_LLM_HISTORY_MAX_CHARS = 12_000;
/** The cut caller turn's mark: what was said before it is not sent. */
export const CUT_MARK = "…";

export interface BoundedHistory {
  /** What the request carries (new objects where cut; the input is never changed). */
  history: ChatMessage[];
  /** How many of the oldest messages were left out (0: the whole history is sent). */
  dropped: number;
  /** True when the newest caller turn itself was cut to fit. */
  cutNewest: boolean;
}

/**
 * `history` bounded to `maxChars` characters of text (rules above). Pure, O(n).
 * @param maxChars characters, ≥ 1 (config validates LLM_HISTORY_MAX_CHARS); Infinity = no bound.
 */
export function boundHistory(history: readonly ChatMessage[], maxChars: number): BoundedHistory {
  let total = 0;
  for (const m of history) total += m.text.length;
  if (total <= maxChars) return { history: [...history], dropped: 0, cutNewest: false };
  // The protected tail: the newest caller turn and everything after it (the whole history when none).
  let start = history.length - 1;
  while (start > 0 && history[start]!.role !== "user") start--;
  let after = 0;
  for (let i = start + 1; i < history.length; i++) after += history[i]!.text.length;
  const newest = history[start];
  const tail = history.slice(start + 1);
  let kept: ChatMessage[];
  let used: number;
  let cutNewest = false;
  if (newest && newest.role === "user" && newest.text.length + after > maxChars) {
    // The caller's words are what the reply answers: keep their end, at least half the bound.
    const room = Math.max(maxChars - after - CUT_MARK.length, Math.ceil(maxChars / 2));
    const text = newest.text.length > room ? CUT_MARK + newest.text.slice(newest.text.length - room) : newest.text;
    cutNewest = text !== newest.text;
    kept = [{ role: "user", text }, ...tail];
    used = maxChars; // nothing older fits
  } else {
    kept = newest ? [newest, ...tail] : [...tail];
    used = (newest?.text.length ?? 0) + after;
  }
  let first = start;
  while (first > 0 && used + history[first - 1]!.text.length <= maxChars) {
    first--;
    used += history[first]!.text.length;
  }
  const older = history.slice(first, start);
  while (older.length > 0 && older[0]!.role !== "user") {
    older.shift();
    first++;
  }
  return { history: [...older, ...kept], dropped: first, cutNewest };
}
