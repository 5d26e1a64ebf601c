/**
 * The caller's audio since the last final transcript, kept so a dropped Deepgram connection can be
 * replaced without losing words: on reconnect, everything still held is sent again on the new socket.
 *
 * Positions are absolute byte offsets in the call's audio stream (G.711 at 8000 Hz: byte = sample,
 * 8 bytes = 1 ms). Bounded: past `capacityBytes` the oldest bytes are dropped and counted in
 * `droppedBytes` (words in them can no longer be recovered).
 */
/** Bytes per storage block (512 ms of G.711): a call's audio is copied into blocks, not kept per frame. */
const BLOCK_BYTES = 4096;
/** Emptied blocks kept for reuse, so a call in steady state allocates none. */
const SPARE_BLOCKS = 2;

export class ReplayBuffer {
  /** Storage, oldest first; the first's bytes start at `head`, the last's end at `tailLen`. */
  private blocks: Uint8Array[] = [];
  private head = 0;
  private tailLen = 0;
  private readonly spare: Uint8Array[] = [];
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

  /** Appends a copy of `bytes` (callers may reuse their buffers); allocates only when a block fills. */
  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    let i = 0;
    while (i < bytes.length) {
      if (this.blocks.length === 0 || this.tailLen === BLOCK_BYTES) {
        this.blocks.push(this.spare.pop() ?? new Uint8Array(BLOCK_BYTES));
        this.tailLen = 0;
      }
      const last = this.blocks[this.blocks.length - 1]!;
      const n = Math.min(BLOCK_BYTES - this.tailLen, bytes.length - i);
      last.set(i === 0 && n === bytes.length ? bytes : bytes.subarray(i, i + n), this.tailLen);
      this.tailLen += n;
      i += n;
    }
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

  /** The held bytes, oldest first, in pieces of up to a block (copies: a socket may keep them while it drains). */
  held(): readonly Uint8Array[] {
    const last = this.blocks.length - 1;
    const out: Uint8Array[] = [];
    for (let k = 0; k <= last; k++) {
      const from = k === 0 ? this.head : 0;
      const to = k === last ? this.tailLen : BLOCK_BYTES;
      if (to > from) out.push(this.blocks[k]!.slice(from, to));
    }
    return out;
  }

  private dropFront(n: number): void {
    this.size -= n;
    this.start += n;
    this.head += n;
    // Whole blocks before the new oldest byte go (to the spares).
    while (this.blocks.length > 0) {
      const used = this.blocks.length === 1 ? this.tailLen : BLOCK_BYTES;
      if (this.head < used) break;
      this.head -= used;
      const b = this.blocks.shift()!;
      if (this.spare.length < SPARE_BLOCKS) this.spare.push(b);
      if (this.blocks.length === 0) this.tailLen = this.head = 0;
    }
  }
}
