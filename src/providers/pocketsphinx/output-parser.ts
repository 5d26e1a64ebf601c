/**
 * Parses what `pocketsphinx_continuous -time yes` prints on stdout (pocketsphinx 5prealpha,
 * programs/continuous.c `recognize_from_file`): at each end of utterance found by its VAD, one line with
 * the hypothesis (possibly empty), then one line per segment `WORD START END POSTERIOR` (seconds,
 * posterior 0..1) from `<s>` to `</s>`.
 *
 *     i am calling about my appointment
 *     <s> 3.250 3.350 1.000200
 *     i 3.360 3.520 0.805796
 *     am(2) 3.530 3.730 0.510595
 *     ...
 *     </s> 5.890 6.350 1.000000
 */

export interface Utterance {
  /** Hypothesis text, words separated by single spaces (alternate-pronunciation marks removed). */
  text: string;
  /** Mean posterior of the real words (fillers excluded), 0..1; undefined when no segment lines came. */
  confidence?: number;
  /** Start and end of the utterance in seconds of audio fed, from the segment lines. */
  startS?: number;
  endS?: number;
}

const SEGMENT = /^(\S+) (\d+\.\d+) (\d+\.\d+) (-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)$/;
/** Filler "words" in the en-us model's noisedict plus sentence markers. */
const isFiller = (w: string) => w.startsWith("<") || w.startsWith("[") || w.startsWith("++") || w === "<sil>";

/**
 * Incremental parser: feed stdout text in arbitrary pieces; it calls `onUtterance` once an utterance is
 * complete (its `</s>` line seen, or the next hypothesis line begins, or `end()` is called; for a JSGF
 * search, which prints no <s>/</s>, when a piece of input ends after its segment lines).
 */
export class PocketsphinxOutputParser {
  private buf = "";
  private cur: { text: string; confs: number[]; start?: number; end?: number; bracketed?: boolean } | null = null;

  constructor(private readonly onUtterance: (u: Utterance) => void) {}

  push(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const nl = this.buf.indexOf("\n");
      if (nl < 0) break;
      const line = this.buf.slice(0, nl).replace(/\r$/, "");
      this.buf = this.buf.slice(nl + 1);
      this.line(line);
    }
    // A grammar search's block has no </s>: pocketsphinx writes a whole block and flushes, so an
    // utterance whose segment lines have come is complete when the input stops at a line end.
    if (this.buf === "" && this.cur && !this.cur.bracketed && this.cur.end !== undefined) this.emit();
  }

  /** Input finished: completes a pending utterance (and a last line without newline). */
  end(): void {
    if (this.buf) {
      const l = this.buf;
      this.buf = "";
      this.line(l);
    }
    this.emit();
  }

  private line(line: string): void {
    const m = SEGMENT.exec(line.trim());
    if (m && !this.cur) return; // the rest of a block already reported
    if (m && this.cur) {
      const [, word, s, e, p] = m;
      if (word === "<s>") this.cur.bracketed = true;
      // An n-gram search brackets the segments with <s> … </s>; a JSGF grammar search (-jsgf) has
      // neither (it starts with <sil> and has "(NULL)" transitions): its first and last segments bound it.
      this.cur.start ??= Number(s);
      this.cur.end = Number(e);
      if (word === "</s>") {
        this.emit();
        return;
      }
      if (!isFiller(word!) && word !== "(NULL)") this.cur.confs.push(Math.min(1, Math.max(0, Number(p))));
      return;
    }
    this.emit(); // a new hypothesis line closes any utterance still open
    this.cur = { text: line.trim().split(/\s+/).filter(Boolean).map((w) => w.replace(/\(\d+\)$/, "")).join(" "), confs: [] };
  }

  private emit(): void {
    const c = this.cur;
    this.cur = null;
    if (!c) return;
    const u: Utterance = { text: c.text };
    if (c.confs.length) u.confidence = c.confs.reduce((a, b) => a + b, 0) / c.confs.length;
    if (c.start !== undefined) u.startS = c.start;
    if (c.end !== undefined) u.endS = c.end;
    this.onUtterance(u);
  }
}
