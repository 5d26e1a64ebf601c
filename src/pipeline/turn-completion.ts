/**
 * Is what the caller said so far a finished turn? A text-only judgement used by endpointing
 * (src/pipeline/endpointing.ts) to choose how much silence to wait for before answering:
 *
 *  - "incomplete": the text ends with a word that needs a continuation — an article, a preposition,
 *    a conjunction, a possessive, a filler ("I'd like to book a", "and um", "my number is") — or with a
 *    comma, dash or ellipsis. The caller is most likely searching for the next word.
 *  - "complete": the text ends with sentence-final punctuation (. ? !), as Deepgram's smart_format
 *    writes it when the speaker finished a sentence, and the last word is not one of the above; or it
 *    is a short stand-alone answer ("yes", "no thanks", "okay").
 *  - "unknown": anything else (an unpunctuated recogniser such as pocketsphinx, a fragment like
 *    "I would like to book a study room" that may go on "for tomorrow").
 *
 * What turn-detection models learn from transcripts (LiveKit's turn detector, Pipecat's smart-turn)
 * is largely this: a dangling function word means "not done"; a finished sentence means "probably
 * done". The audio side (VAD silence, STT end-of-speech) stays the other half of the decision.
 */

export type Completion = "complete" | "incomplete" | "unknown";

/**
 * Words after which an English sentence (almost) never ends: articles, possessive determiners,
 * prepositions that are not also particles ("hold on", "come in" end sentences, so "on", "in", "up",
 * "about" are not here), conjunctions, subject pronouns and their contractions, fillers. Auxiliaries
 * ("yes I do", "I think you can") and object pronouns ("thank you") end sentences and are not here.
 */
const DANGLING = new Set(
  (
    "a an the my your our their its every " +
    "to of for at into onto than as between per via " +
    "and or but nor because if when while although though unless whether plus " +
    "i i'm i'd i'll i've we we're we'd you're he she they they're it's there's " +
    "um uh erm er"
  ).split(/\s+/),
);

/** Stand-alone answers that finish a turn even without punctuation. */
const SHORT_ANSWERS = new Set(
  [
    "yes",
    "no",
    "yeah",
    "yep",
    "nope",
    "okay",
    "ok",
    "sure",
    "right",
    "correct",
    "exactly",
    "thanks",
    "thank you",
    "no thanks",
    "no thank you",
    "yes please",
    "that's all",
    "that is all",
    "goodbye",
    "bye",
  ],
);

/** Classifies the caller's text so far (see the file comment). Empty text is "unknown". */
export function classifyCompletion(text: string): Completion {
  const t = text.trim().toLowerCase();
  if (!t) return "unknown";
  if (/(,|;|:|-|–|—|…|\.\.\.)$/.test(t)) return "incomplete";
  const words = t.replace(/[.?!"”')\]]+$/, "").split(/\s+/);
  const last = (words[words.length - 1] ?? "").replace(/^["“'(\[]+/, "").replace(/’/g, "'");
  if (DANGLING.has(last)) return "incomplete";
  if (/[.?!]["”')\]]*$/.test(t)) return "complete";
  const bare = words.join(" ").replace(/[^a-z' ]/g, "").trim();
  return SHORT_ANSWERS.has(bare) ? "complete" : "unknown";
}
