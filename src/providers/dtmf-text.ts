/**
 * How key presses (DTMF) appear in the conversation history: as a caller turn of their own,
 * `[keys pressed: 12#]`, so every LLM sees them as caller input (a recogniser never writes brackets)
 * and the scripted dialogue can branch on them (src/providers/scripted/engine.ts). The pipeline writes
 * it (src/pipeline/digit-collector.ts), providers read it. Digits are PII: log them only under `pii`.
 */

const PREFIX = "[keys pressed: ";
const RE = /^\[keys pressed: ([0-9*#A-D]+)\]$/;

/** The caller turn text for keys pressed, e.g. `dtmfTurnText("12#")` → `[keys pressed: 12#]`. */
export function dtmfTurnText(keys: string): string {
  return `${PREFIX}${keys}]`;
}

/** The keys of a caller turn made of key presses, or null for a spoken turn. */
export function dtmfOfTurn(text: string): string | null {
  return RE.exec(text.trim())?.[1] ?? null;
}

/** Sentence for the system instruction: tells the model how key presses reach it and that it may send them. */
export const DTMF_SYSTEM_NOTE =
  "When the caller presses keys on the phone keypad, you receive a caller turn like [keys pressed: 12#]. " +
  "To press keys yourself (for example to navigate a phone menu), call the send_dtmf tool.";
