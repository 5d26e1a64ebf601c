/**
 * Gathers the caller's 20 ms G.711 frames into binary messages of `bytes` each (DeepgramOptions.chunkMs:
 * 200 ms = 1600 bytes at 8000 Hz), so a call sends 5 messages per second instead of 50. Bytes are kept
 * in order and unchanged; `take()` hands over what is held early (before Finalize or CloseStream).
 *
 *   const c = new AudioChunker(1600, (m) => ws.send(m));   // each full message (the chunker's buffer: use it at once)
 *   c.push(payload);
 *   const rest = c.take();                                // held bytes (a fresh copy) or null
 */
export class AudioChunker {
  private readonly buf: Uint8Array;
  private len = 0;

  /**
   * @param bytes message size, bytes (≥ 1).
   * @param onMessage gets each full message: the chunker's own buffer, overwritten by the next frames, so
   *   it must be used (or copied) before it returns. Bun's `WebSocket.send` copies at once (measured: a
   *   buffer overwritten right after each send, 400 × 64 KB with up to 15 MB queued, arrived intact), so
   *   no copy per message is made for it (issue 13: a fresh 1,600-byte array every 200 ms per call).
   */
  constructor(
    bytes: number,
    private readonly onMessage: (message: Uint8Array) => void,
  ) {
    this.buf = new Uint8Array(Math.max(1, Math.round(bytes)));
  }

  /** Bytes held, not yet handed over. */
  get held(): number {
    return this.len;
  }

  /** Adds a payload; each message it completes goes to `onMessage`. */
  push(payload: Uint8Array): void {
    let i = 0;
    while (i < payload.length) {
      const n = Math.min(this.buf.length - this.len, payload.length - i);
      this.buf.set(i === 0 && n === payload.length ? payload : payload.subarray(i, i + n), this.len); // no view for a whole frame
      this.len += n;
      i += n;
      if (this.len === this.buf.length) {
        this.len = 0;
        this.onMessage(this.buf);
      }
    }
  }

  /** What is held, as one message (a copy), or null when nothing is. */
  take(): Uint8Array | null {
    if (this.len === 0) return null;
    const bytes = this.buf.slice(0, this.len);
    this.len = 0;
    return bytes;
  }

  /** Forgets what is held (a reconnect replays it from the replay buffer instead). */
  clear(): void {
    this.len = 0;
  }
}
