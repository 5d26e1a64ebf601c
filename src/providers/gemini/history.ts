/**
 * Turning the pipeline's conversation (`ChatMessage[]`) into turns a chat model accepts. Shared by the
 * Gemini and OpenAI-compatible providers.
 *
 * Rules (each one avoids a request some servers reject or a reply that makes no sense on the phone):
 * - Empty messages are dropped; consecutive messages of one role are merged (joined with a space):
 *   Gemini and many local chat templates expect user/model turns to alternate.
 * - Speak first: an empty history becomes one user turn `SPEAK_FIRST_PROMPT` ("(call connected)"), so the
 *   model produces its greeting; a history starting with the assistant (greeting already spoken) gets the
 *   same user turn in front, because conversations must start with a user turn.
 * - A history ending with the assistant (the caller said nothing since; e.g. a re-prompt after silence)
 *   gets a user turn `SILENCE_PROMPT` ("(the caller is silent)") appended, so the model continues the
 *   conversation instead of being asked to extend its own last turn.
 */

import type { ChatMessage } from "../types";

/** User turn standing for "the call was just answered" (the model should greet). */
export const SPEAK_FIRST_PROMPT = "(call connected)";
/** User turn standing for "the caller did not answer your last turn". */
export const SILENCE_PROMPT = "(the caller is silent)";

export interface TurnPrompts {
  speakFirst?: string;
  silence?: string;
}

/** Normalised history: non-empty, alternating, starting and ending with a user turn. Pure. */
export function normalizeTurns(history: readonly ChatMessage[], prompts: TurnPrompts = {}): ChatMessage[] {
  const speakFirst = prompts.speakFirst ?? SPEAK_FIRST_PROMPT;
  const silence = prompts.silence ?? SILENCE_PROMPT;
  const out: ChatMessage[] = [];
  for (const m of history) {
    const text = m.text.trim();
    if (!text) continue;
    const last = out[out.length - 1];
    if (last && last.role === m.role) last.text = `${last.text} ${text}`;
    else out.push({ role: m.role, text });
  }
  if (out.length === 0 || out[0].role === "assistant") out.unshift({ role: "user", text: speakFirst });
  if (out[out.length - 1].role === "assistant") out.push({ role: "user", text: silence });
  return out;
}
