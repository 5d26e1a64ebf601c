/**
 * A JSGF grammar (pocketsphinx `-jsgf`, JSpeech Grammar Format 1.0) for one dialogue step: the words the
 * step expects (category synonyms, yes/no words, digit words) plus a loop of common conversational
 * words that absorbs whatever else the caller says, so the recogniser is told what to listen for
 * without being forced to hear a keyword in every utterance:
 *
 *     #JSGF V1.0;
 *     grammar step;
 *     <expected> = appointment | appointments | book | schedule | bill | bills | invoice | …;
 *     <filler> = i | i'm | a | the | calling | about | my | …;
 *     public <utterance> = ( <expected> | <filler> )+;
 *
 * Words missing from the pronunciation dictionary are left out (pocketsphinx rejects a grammar with an
 * unknown word); a plural "s"/"es" form is added where the dictionary has it, as the scripted engine
 * tolerates plurals (src/providers/scripted/extract.ts hasAnyKeyword). Measured gain and its limits:
 * `bun tests/providers/offline/bench/stt-grammar.ts` (README, "Offline recognition per step").
 */
import { readFileSync } from "node:fs";

/**
 * Common words of phone answers, the grammar's "anything else" loop. Fixed (not learned), lower case,
 * each in Debian's cmudict-en-us; digit, yes and no words are not here (a step that expects them adds them).
 */
export const FILLER_WORDS: readonly string[] = [
  "a", "about", "actually", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but",
  "by", "call", "calling", "can", "could", "day", "did", "do", "does", "don't", "for", "from", "get", "go", "going",
  "good", "got", "had", "has", "have", "hello", "help", "here", "hi", "how", "i", "i'd", "i'm", "if", "in", "is", "it",
  "it's", "just", "know", "like", "look", "looking", "make", "maybe", "me", "mean", "more", "morning", "much", "my",
  "need", "next", "not", "now", "of", "oh", "okay", "on", "or", "other", "out", "please", "question", "really", "right",
  "say", "see", "so", "some", "someone", "something", "sorry", "speak", "still", "sure", "talk", "tell", "thank",
  "thanks", "that", "that's", "the", "them", "then", "there", "they", "think", "this", "time", "to", "today",
  "tomorrow", "uh", "um", "up", "very", "want", "was", "we", "week", "well", "what", "when", "where", "which", "who",
  "why", "will", "with", "would", "you", "your",
];

/** Word → true, from a pocketsphinx dictionary ("word PH ON ES", alternates as "word(2)"). */
export function dictionaryWords(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const w = line.slice(0, line.indexOf(" ")).replace(/\(\d+\)$/, "");
    if (w) out.add(w);
  }
  return out;
}

const dictCache = new Map<string, Set<string>>();

/**
 * The words of the dictionary file at `path`, read once per process.
 * @throws Error when the file cannot be read.
 */
export function loadDictionaryWords(path: string): Set<string> {
  let d = dictCache.get(path);
  if (!d) {
    d = dictionaryWords(readFileSync(path, "utf8"));
    dictCache.set(path, d);
  }
  return d;
}


/**
 * The grammar text for a step expecting `expected` words (any case; multi-word entries are split into
 * words). Returns null when none of them is in `dict` (then the open language model should be used).
 */
export function stepGrammar(expected: readonly string[], dict: ReadonlySet<string>): string | null {
  const want = new Set<string>();
  for (const phrase of expected) {
    for (const w of phrase.toLowerCase().split(/[^a-z']+/).filter(Boolean)) {
      // Tokens are bare (sphinxbase keeps quotes as part of a quoted token): letters and apostrophes only.
      if (!/^[a-z']+$/.test(w)) continue;
      for (const form of [w, `${w}s`, `${w}es`]) if (dict.has(form)) want.add(form);
    }
  }
  if (want.size === 0) return null;
  const filler = FILLER_WORDS.filter((w) => dict.has(w) && !want.has(w));
  return [
    "#JSGF V1.0;",
    "grammar step;",
    `<expected> = ${[...want].join(" | ")};`,
    `<filler> = ${filler.join(" | ")};`,
    "public <utterance> = ( <expected> | <filler> )+;",
    "",
  ].join("\n");
}
