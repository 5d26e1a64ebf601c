/**
 * Caller audio for one recogniser, held until pocketsphinx's next read block is complete.
 *
 * `pocketsphinx_continuous` reads its input in blocks of 2048 samples (continuous.c, `fread(adbuf, …, 2048,
 * …)`, 128 ms at 16 kHz) and decodes nothing before a block is whole. Writing each 20 ms frame to its feeder
 * (a FileSink write + flush: a syscall and a wake-up of `cat`, 50 a second per call) bought nothing; writing
 * when the samples given so far reach the next multiple of the block hands the recogniser each block at the
 * same frame as before (no added latency) with about 8 writes a second. Flush, end of input and a grammar
 * swap take what is held at once (`take`).
 *
 *   const b = new FeedBatch(2048);
 *   b.add(frame16k)   // → the samples to write now (a block boundary was reached), or null
 *   b.take()          // → everything held (null when nothing is)
 */
export class FeedBatch {
  private buf: Int16Array;
  private held = 0;
  /** Samples handed out so far: the block boundaries are counted from the process's first sample. */
  private given = 0;

  /** @param block the reader's block, samples (pocketsphinx: 2048). */
  constructor(private readonly block: number) {
    this.buf = new Int16Array(block * 2);
  }

  /** Holds `pcm` (copied); @returns what to write now when a block boundary is reached, else null. */
  add(pcm: Int16Array): Int16Array | null {
    if (this.held + pcm.length > this.buf.length) {
      const next = new Int16Array(Math.max(this.buf.length * 2, this.held + pcm.length));
      next.set(this.buf.subarray(0, this.held));
      this.buf = next;
    }
    this.buf.set(pcm, this.held);
    this.held += pcm.length;
    const boundary = (Math.floor(this.given / this.block) + 1) * this.block;
    return this.given + this.held >= boundary ? this.take() : null;
  }

  /** Everything held (a copy), or null when nothing is. */
  take(): Int16Array | null {
    if (this.held === 0) return null;
    const out = this.buf.slice(0, this.held);
    this.given += this.held;
    this.held = 0;
    return out;
  }

  /** A new reader: nothing held, boundaries counted from 0 again. */
  reset(): void {
    this.held = 0;
    this.given = 0;
  }
}
