/**
 * Cuts streamed LLM text into chunks for streaming TTS: whole sentences, and for the first chunk of a
 * reply a clause (after a comma/semicolon/colon) once it is long enough and the rest of its sentence
 * has not arrived yet, so the first audio starts early without cutting words. Chunks keep their
 * trailing punctuation (it drives prosody).
 *
 * A sentence (or first clause) that ends exactly where a streamed piece of text ends goes out with that
 * piece, not with the next one: an LLM streams pieces tens to hundreds of ms apart, and the whitespace
 * that confirms the end would only come with the next. Only when the end is unambiguous: the word
 * before the mark is letters only (no digit: "costs 3." may go on "50"; no inner dot, "@" or "/":
 * "www.example." may go on "com") and not an abbreviation ("Dr."); otherwise the next piece decides.
 *
 *   const s = new SentenceSplitter();
 *   for (const token of tokens) for (const chunk of s.push(token)) tts.pushText(chunk);
 *   for (const chunk of s.flush()) tts.pushText(chunk);
 */
export class SentenceSplitter {
  private buf = "";
  private emitted = 0;

  /**
   * @param minClauseChars a clause break (`,;:`) ends the first chunk only when it holds at least this
   *   many characters; later chunks break on sentence ends only.
   * @param maxChars a chunk longer than this is cut at the last space (run-on text without punctuation).
   */
  constructor(
    private readonly minClauseChars = 24,
    private readonly maxChars = 220,
  ) {}

  /** Adds streamed text and returns the chunks that are complete. */
  push(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    for (;;) {
      const cut = this.findCut();
      if (cut < 0) break;
      const chunk = this.buf.slice(0, cut).trim();
      this.buf = this.buf.slice(cut);
      if (chunk) {
        out.push(chunk);
        this.emitted++;
      }
    }
    return out;
  }

  /** Returns what is left as a last chunk (end of the reply). */
  flush(): string[] {
    const rest = this.buf.trim();
    this.buf = "";
    if (!rest) return [];
    this.emitted++;
    return [rest];
  }

  /**
   * Index just after a sentence (or first-clause) end that is followed by whitespace, or -1. The first
   * clause is cut off only while its sentence's end has not arrived: a sentence already whole goes out
   * whole (one TTS transcript): the clause would not start its audio any sooner, and a streaming TTS may
   * give every transcript its own time to first audio, which the clause's short audio barely covers
   * (bench:load: 20–30 ms of margin; issue 13's silence frames inside replies at 200 calls).
   */
  private findCut(): number {
    const b = this.buf;
    let clause = -1;
    for (let i = 0; i < b.length - 1; i++) {
      if (!isSpace(b.charCodeAt(i + 1))) continue;
      const c = b[i];
      if (c === "." || c === "!" || c === "?") {
        // "Dr. Smith", "e.g. this": a single capital or lower-case abbreviation before "." is not an end.
        const word = /(\S+)$/.exec(b.slice(0, i))?.[1] ?? "";
        if (c === "." && ABBREVIATION.test(word)) continue;
        if (c === "." && /^\d+$/.test(word) && /\d/.test(b[i + 2] ?? "")) continue;
        return clause >= 0 && i + 1 > this.maxChars ? clause : i + 2;
      }
      if (clause < 0 && this.emitted === 0 && (c === "," || c === ";" || c === ":") && i + 1 >= this.minClauseChars) clause = i + 2;
    }
    if (this.endsSpeakably(b) && (clause < 0 || /[.!?]$/.test(b))) return clause >= 0 && b.length > this.maxChars ? clause : b.length;
    if (clause >= 0) return clause;
    if (b.length > this.maxChars) {
      const sp = b.lastIndexOf(" ", this.maxChars);
      if (sp > 0) return sp + 1;
    }
    return -1;
  }

  /** The buffer ends with a sentence end (or a long enough first clause) that no further text can undo (class comment). */
  private endsSpeakably(b: string): boolean {
    const m = /(\S+)([.!?]+|[,;:])$/.exec(b);
    if (!m) return false;
    const clause = !/[.!?]/.test(m[2]!);
    if (clause && (this.emitted > 0 || b.trim().length < this.minClauseChars)) return false;
    if (!/^\p{L}+$/u.test(m[1]!)) return false; // digits, inner dots, "@", "/", quotes: wait for the next piece
    return !(m[2] === "." && ABBREVIATION.test(m[1]!));
  }
}

/**
 * `/\s/.test(ch)` for one UTF-16 code unit, without a regex run per character (findCut scans every
 * character of the pending text on each streamed piece): ECMAScript WhiteSpace and LineTerminator.
 */
export function isSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 160) return false;
  return c === 160 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Words before a "." that do not end a sentence. */
const ABBREVIATION = /^(mr|mrs|ms|dr|st|vs|etc|e\.g|i\.e|no)$/i;
