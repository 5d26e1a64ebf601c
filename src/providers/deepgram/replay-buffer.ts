/**
 * The caller's audio since the last final transcript, kept so a dropped Deepgram connection can be
 * replaced without losing words: on reconnect, everything still held is sent again on the new socket.
 *
 * Positions are absolute byte offsets in the call's audio stream (G.711 at 8000 Hz: byte = sample,
 * 8 bytes = 1 ms). Bounded: past `capacityBytes` the oldest bytes are dropped and counted in
 * `droppedBytes` (words in them can no longer be recovered).
 */
export class ReplayBuffer {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private start = 0;
  /** Bytes dropped because the buffer was full (not those trimmed after a final). */
  droppedBytes = 0;

  constructor(private readonly capacityBytes: number) {
    if (!(capacityBytes > 0)) throw new RangeError("capacityBytes must be > 0");
  }

  /** Absolute offset of the oldest byte held. */
  get startByte(): number {
    return this.start;
  }
  /** Absolute offset just past the newest byte (= total bytes ever appended). */
  get endByte(): number {
    return this.start + this.size;
  }
  /** Bytes held. */
  get length(): number {
    return this.size;
  }

  /** Appends a copy of `bytes` (callers may reuse their buffers). */
  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes.slice());
    this.size += bytes.length;
    const over = this.size - this.capacityBytes;
    if (over > 0) {
      this.dropFront(over);
      this.droppedBytes += over;
    }
  }

  /** Forgets everything before absolute offset `byte` (e.g. the end of a final result). */
  trimBefore(byte: number): void {
    const n = Math.min(Math.floor(byte) - this.start, this.size);
    if (n > 0) this.dropFront(n);
  }

  /** The held bytes, oldest first, as the stored chunks (do not modify). */
  held(): readonly Uint8Array[] {
    return this.chunks;
  }

  private dropFront(n: number): void {
    let left = n;
    while (left > 0 && this.chunks.length > 0) {
      const c = this.chunks[0];
      if (c.length <= left) {
        this.chunks.shift();
        left -= c.length;
      } else {
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.size -= n;
    this.start += n;
  }
}
