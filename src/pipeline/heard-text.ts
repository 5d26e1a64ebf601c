/**
 * What the caller actually heard of a reply cut short: the text is mapped to the audio played, so the
 * conversation history keeps only the part that went out.
 */

/** Nominal speaking rate until a whole reply has been measured on the call: 15 characters per second. */
export const NOMINAL_SAMPLES_PER_CHAR = 8000 / 15;

/**
 * Audio length (samples) a reply's text will take: exact once the TTS delivered it all; before that,
 * what arrived so far or the text at the voice's rate, whichever is longer (TTS audio may lag the text
 * by many sentences, and only the text whose audio was played can have been heard).
 */
export function expectedSamples(
  reply: { audioComplete?: boolean; queuedSamples: number },
  spoken: string,
  samplesPerChar: number,
): number {
  if (reply.audioComplete) return reply.queuedSamples;
  return Math.max(reply.queuedSamples, spoken.length * samplesPerChar);
}

/**
 * The part of `text` the caller heard when `played` of `total` samples went out: proportional to
 * characters, cut back to a word boundary. Speech rate is close enough to uniform for this purpose.
 */
export function heardPart(text: string, played: number, total: number): string {
  if (total <= 0 || played <= 0) return "";
  if (played >= total) return text;
  const chars = Math.floor((text.length * played) / total);
  const cut = text.lastIndexOf(" ", chars);
  return (cut > 0 ? text.slice(0, cut) : "").trim();
}

/** Whitespace collapsed: chunks sent to TTS and the generated text compare equal this way. */
export function collapse(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * `heard` cut back to its last whole sentence ("" when none ended): where a reply interrupted by hold
 * starts again after the unhold. The caller was away for seconds or minutes; going on mid-sentence
 * ("receptionist. May I have your name?", probe, session 11) reads as a fragment, a person starts the
 * sentence again. `heard` is a prefix of the generated text, and so is what this returns.
 */
export function wholeSentences(heard: string): string {
  const m = /^.*[.!?](?=\s|$)/.exec(heard);
  return m ? m[0].trim() : "";
}
