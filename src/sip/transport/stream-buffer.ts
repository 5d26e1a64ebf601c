/**
 * The bytes one TCP/TLS connection received and has not handled yet (./tcp.ts): one growable buffer
 * with a read offset and a write offset, so a received chunk is copied once, not the whole backlog
 * with it (session 21: every chunk re-copied what the connection held, up to ~768 KB per chunk under a
 * pipelined flood).
 *
 * - append: the chunk goes after what is held; when it does not fit at the end, what is held moves to
 *   the front if that leaves at least half the buffer free, else a buffer twice the size is made (so
 *   every byte is moved a bounded number of times on average);
 * - view: what is held, as a view (no copy), valid until the next append: the reader frames
 *   and handles it in one synchronous run (the SIP parser copies what a message keeps, its body);
 * - consume: n bytes handled; when nothing is left the offsets go back to 0, and a buffer grown past
 *   {@link KEEP_BYTES} is let go (an idle connection does not keep a flood's buffer).
 */

/** Capacity an empty buffer keeps (a few messages); a larger one is released when emptied. */
export const KEEP_BYTES = 64 * 1024;
/** Smallest buffer made. */
const MIN_BYTES = 4 * 1024;
const EMPTY = new Uint8Array(0);

export class StreamBuffer {
  private buf: Uint8Array = EMPTY;
  private start = 0;
  private end = 0;

  /** Bytes held (received, not yet consumed). */
  get length(): number {
    return this.end - this.start;
  }

  /** Bytes allocated (at most twice what was held at once, see the file comment). */
  get capacity(): number {
    return this.buf.length;
  }

  /** Adds a received chunk after what is held (copied once). */
  append(chunk: Uint8Array): void {
    const n = chunk.length;
    if (this.end + n > this.buf.length) {
      const held = this.end - this.start;
      if (held + n <= this.buf.length >> 1) this.buf.copyWithin(0, this.start, this.end);
      else {
        const next = new Uint8Array(Math.max(MIN_BYTES, 2 * (held + n)));
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      this.start = 0;
      this.end = held;
    }
    this.buf.set(chunk, this.end);
    this.end += n;
  }

  /** What is held, as a view into the buffer (no copy): valid until the next append, which may move it. */
  view(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** Marks the first `n` held bytes handled. @throws RangeError when fewer are held. */
  consume(n: number): void {
    if (n < 0 || n > this.end - this.start) throw new RangeError(`consume ${n} of ${this.end - this.start} held bytes`);
    this.start += n;
    if (this.start === this.end) {
      this.start = this.end = 0;
      if (this.buf.length > KEEP_BYTES) this.buf = EMPTY;
    }
  }

  /** Drops everything held and the buffer. */
  clear(): void {
    this.buf = EMPTY;
    this.start = this.end = 0;
  }
}
