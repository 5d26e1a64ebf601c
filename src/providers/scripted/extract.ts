/**
 * Slot extraction from imperfect speech-recogniser text (lower case, no punctuation, misheard words):
 * a person's name, a free-text reason, and a yes/no answer. Pure functions, no state.
 *
 * These are heuristics, not language understanding: they look for the phrasings people use on the
 * phone ("my name is …", "it's …", "i'm calling about …", "yeah that's right", "no") and fall back to
 * the whole utterance when it is short. They are deterministic, so a dialogue replays identically.
 */

/** Lower-case words, with punctuation other than apostrophes removed. */
export function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[’‘]/g, "'")
    .replace(/[^a-z0-9' -]+/g, " ")
    .split(/[\s-]+/)
    .map((w) => w.replace(/^'+|'+$/g, ""))
    .filter(Boolean);
}

/** Words that open an utterance without carrying content. */
const FILLERS = new Set([
  "uh", "um", "uhm", "er", "erm", "ah", "oh", "hm", "hmm", "mm", "well", "so", "okay", "ok", "yes", "yeah", "yep", "hi", "hello",
  "hey", "sure", "right", "alright", "please", "sorry", "and",
]);

/** Words that are not part of a name (they end a name phrase, or show the phrase is not a name). */
const NOT_NAME = new Set([
  "a", "an", "the", "and", "or", "but", "i", "i'm", "im", "me", "my", "you", "your", "it", "it's", "its", "is", "am", "are", "was",
  "this", "that", "calling", "call", "about", "from", "with", "here", "speaking", "please", "thanks", "thank", "not", "no", "yes",
  "yeah", "sure", "fine", "good", "great", "ok", "okay", "sorry", "just", "looking", "trying", "wondering", "going", "gonna",
  "want", "wanted", "need", "needed", "would", "like", "have", "had", "has", "to", "for", "of", "in", "on", "at", "because",
  "regarding", "what", "who", "why", "how", "when", "where", "can", "could", "do", "did", "does", "hello", "hi", "hey", "um", "uh",
  "er", "ah", "oh", "hm", "hmm", "well", "so", "name", "name's", "names", "called", "again", "said", "there", "they", "we",
  "he", "she", "them", "be", "been", "will", "shall", "may", "might", "must", "should", "an", "as", "if", "then", "than",
  "appointment", "bill", "invoice", "question", "problem", "help", "speak", "talk", "someone", "somebody", "nobody",
]);

/** Introductions that are followed by the name. Longest first; matched on word boundaries. */
const NAME_INTROS = [
  ["my", "name", "is"], ["my", "name's"], ["my", "names"], ["name", "is"], ["name's"], ["the", "name", "is"],
  ["this", "is"], ["it", "is"], ["it's"], ["its"], ["i", "am"], ["i'm"], ["im"], ["call", "me"], ["they", "call", "me"],
  ["you", "can", "call", "me"], ["i", "go", "by"],
];

/** Title-cases one word ("o'brien" → "O'Brien", "mcdonald" stays "Mcdonald"). */
function titleCase(w: string): string {
  return w.replace(/(^|')([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase());
}

/** Collects up to 3 name words starting at `i`; stops at a non-name word. */
function nameAt(ws: string[], i: number): string[] {
  const out: string[] = [];
  for (let k = i; k < ws.length && out.length < 3; k++) {
    const w = ws[k]!;
    if (NOT_NAME.has(w) || /\d/.test(w)) break;
    out.push(w);
  }
  return out;
}

/**
 * A person's name from an answer to "may I have your name?", Title Case, or null.
 * "my name is john smith" → "John Smith"; "it's john" → "John"; "john" → "John";
 * "yes this is mary o'brien speaking" → "Mary O'Brien"; "i'm calling about my bill" → null.
 */
export function extractName(text: string): string | null {
  const ws = words(text);
  // 1. After an introduction phrase (the first one found, scanning left to right).
  for (let i = 0; i < ws.length; i++) {
    for (const intro of NAME_INTROS) {
      if (intro.every((w, k) => ws[i + k] === w)) {
        const n = nameAt(ws, i + intro.length);
        if (n.length) return n.map(titleCase).join(" ");
      }
    }
  }
  // 2. "john smith here" / "john speaking".
  const at = ws.findIndex((w) => w === "here" || w === "speaking");
  if (at > 0) {
    let s = at - 1;
    while (s > 0 && at - s < 3 && !NOT_NAME.has(ws[s - 1]!)) s--;
    const n = nameAt(ws, s);
    if (n.length) return n.map(titleCase).join(" ");
  }
  // 3. A short answer that is only a name, after fillers: "john", "uh john smith", "yes john".
  let s = 0;
  while (s < ws.length && FILLERS.has(ws[s]!)) s++;
  const rest = ws.slice(s);
  if (rest.length >= 1 && rest.length <= 3) {
    const n = nameAt(rest, 0);
    if (n.length === rest.length) return n.map(titleCase).join(" ");
  }
  return null;
}

/**
 * Openings before the reason itself, and what replaces them so the rest reads after "calling about":
 * "i'm calling about X" → "X"; "i have a question about X" → "X"; "i need to X" → "needing to X".
 * Tried in order; the first match wins.
 */
const REASON_INTROS: [string[], string[]][] = [
  ...[["calling"], ["i'm", "calling"], ["i", "am", "calling"], ["im", "calling"], ["i", "was", "calling"], ["it's"], ["it", "is"],
    ["its"], ["this", "is"], ["i", "have", "a", "question"], ["i've", "got", "a", "question"], ["i", "got", "a", "question"],
    ["a", "question"], ["question"], ["i", "have", "questions"], ["i", "wanted", "to", "ask"], ["i'd", "like", "to", "ask"],
    ["i", "want", "to", "ask"], ["i", "would", "like", "to", "ask"]]
    .flatMap((lead) => [[...lead, "about"], [...lead, "regarding"], [...lead, "concerning"]].map((w) => [w, []] as [string[], string[]])),
  ...[["can", "you", "tell", "me"], ["could", "you", "tell", "me"], ["can", "you", "give", "me"], ["could", "you", "give", "me"],
    ["i'd", "like", "to", "know"], ["i", "would", "like", "to", "know"], ["i", "want", "to", "know"], ["i", "wanted", "to", "know"]]
    .map((w) => [w, []] as [string[], string[]]),
  [["regarding"], []],
  [["about"], []],
  [["i'm", "calling", "because"], ["the", "fact", "that"]],
  [["i", "am", "calling", "because"], ["the", "fact", "that"]],
  [["calling", "because"], ["the", "fact", "that"]],
  [["because"], ["the", "fact", "that"]],
  [["i'm", "calling", "to"], ["wanting", "to"]],
  [["i", "am", "calling", "to"], ["wanting", "to"]],
  [["calling", "to"], ["wanting", "to"]],
  [["i", "want", "to"], ["wanting", "to"]],
  [["i", "wanted", "to"], ["wanting", "to"]],
  [["i", "would", "like", "to"], ["wanting", "to"]],
  [["i'd", "like", "to"], ["wanting", "to"]],
  [["i", "need", "to"], ["needing", "to"]],
  [["i", "have", "to"], ["needing", "to"]],
  [["i", "have", "a", "problem"], ["a", "problem"]],
  [["i've", "got", "a", "problem"], ["a", "problem"]],
  [["i", "need"], ["needing"]],
  [["i", "want"], ["wanting"]],
  [["i'd", "like"], ["wanting"]],
  [["i", "would", "like"], ["wanting"]],
];

/**
 * Person swap for echoing the caller's words back: first person → second ("my bill" → "your bill"),
 * and the caller's "your" (the business's) → "our" ("your opening hours" → "our opening hours").
 */
const FLIP: Record<string, string> = {
  your: "our", yours: "ours",
  i: "you", "i'm": "you're", im: "you're", "i've": "you've", "i'll": "you'll", "i'd": "you'd", me: "you", my: "your",
  mine: "yours", myself: "yourself", we: "you", "we're": "you're", "we've": "you've", us: "you", our: "your", ours: "yours",
  am: "are", was: "were",
};

/** Swaps persons word by word, all at once ("my appointment" → "your appointment", "your hours" → "our hours"). */
export function toSecondPerson(ws: string[]): string[] {
  return ws.map((w) => FLIP[w] ?? w);
}

/**
 * The reason for calling, from an answer to "what are you calling about?", in the second person and
 * shaped to follow "you are calling about …", or null when nothing is left after fillers.
 * "i'm calling about my appointment next week" → "your appointment next week";
 * "i have a question about my bill" → "your bill"; "i need to cancel my reservation" → "needing to
 * cancel your reservation"; "the opening hours" → "the opening hours".
 */
export function extractReason(text: string): string | null {
  let ws = words(text);
  let s = 0;
  while (s < ws.length && FILLERS.has(ws[s]!)) s++;
  ws = ws.slice(s);
  for (const [intro, replacement] of REASON_INTROS) {
    if (intro.every((w, k) => ws[k] === w) && ws.length > intro.length) {
      ws = [...replacement, ...ws.slice(intro.length)];
      break;
    }
  }
  while (ws.length && (ws[ws.length - 1] === "please" || ws[ws.length - 1] === "thanks")) ws.pop();
  if (ws.length === 0) return null;
  return toSecondPerson(ws).join(" ");
}

/**
 * A reason for calling said in passing, e.g. after the name ("my name is john i'm calling about my
 * appointment" → "your appointment"): the words after the first reason opening (REASON_INTROS: "calling
 * about", "about", "regarding", "because", "i need to", …) found anywhere in the utterance, shaped as by
 * extractReason; null when no opening is followed by words. Unlike extractReason it never takes the
 * whole utterance, so a bare name ("john smith") gives null.
 */
export function extractStatedReason(text: string): string | null {
  const ws = words(text);
  for (let i = 0; i < ws.length; i++) {
    for (const [intro, replacement] of REASON_INTROS) {
      if (!intro.every((w, k) => ws[i + k] === w) || ws.length <= i + intro.length) continue;
      const rest = [...replacement, ...ws.slice(i + intro.length)];
      while (rest.length && (rest[rest.length - 1] === "please" || rest[rest.length - 1] === "thanks")) rest.pop();
      if (rest.length > replacement.length) return toSecondPerson(rest).join(" ");
    }
  }
  return null;
}

/** The whole utterance, normalised (fillers at the start removed); null when empty. */
export function extractText(text: string): string | null {
  const ws = words(text);
  let s = 0;
  while (s < ws.length && FILLERS.has(ws[s]!)) s++;
  return s < ws.length ? ws.slice(s).join(" ") : ws.length ? ws.join(" ") : null;
}

const YES = new Set(["yes", "yeah", "yep", "yup", "yea", "ya", "correct", "right", "exactly", "absolutely", "sure", "affirmative", "definitely", "indeed", "ok", "okay", "true"]);
const NO = new Set(["no", "nope", "nah", "not", "wrong", "incorrect", "isn't", "isnt", "negative"]);
/** The words classifyYesNo answers on (for a recogniser told what to expect). */
export const YES_NO_WORDS: readonly string[] = [...YES, ...NO];

/**
 * Yes/no from an answer to a confirmation question: "yes" | "no" | null (unclear).
 * A negation anywhere wins ("that's not right" → no; "no that is wrong" → no); otherwise any yes-word
 * ("yeah that is right" → yes).
 */
export function classifyYesNo(text: string): "yes" | "no" | null {
  const ws = words(text);
  if (ws.some((w) => NO.has(w) || w.endsWith("n't"))) return "no";
  if (ws.some((w) => YES.has(w))) return "yes";
  if (/\b(that's it|that is it|you got it)\b/.test(ws.join(" "))) return "yes";
  return null;
}

/** True when any keyword occurs in `text` as a word (a plural "s" or "es" is tolerated). */
export function hasAnyKeyword(text: string, keywords: readonly string[]): boolean {
  const ws = new Set(words(text));
  return keywords.some((k) => {
    const kw = k.toLowerCase();
    return ws.has(kw) || ws.has(`${kw}s`) || ws.has(`${kw}es`);
  });
}
