/**
 * Re-cuts received G.711 payloads into 20 ms frames (160 bytes at 8000 Hz), because the pipeline's
 * AudioFrame is always 160 samples (src/providers/types.ts) while a peer may send 10 ms or 30 ms packets
 * whatever our a=ptime says (RFC 4566 §6: ptime is only a wish). No concealment: a lost packet is simply
 * missing; `reset()` drops a partial frame (on a sequence gap or a new SSRC).
 */

/** Bytes per 20 ms G.711 frame. */
export const FRAME_BYTES = 160;

export class FrameAssembler {
  private readonly pending = new Uint8Array(FRAME_BYTES);
  private fill = 0;

  /** Adds a payload; returns the complete 160-byte frames it finishes (copies, safe to keep). */
  push(payload: Uint8Array): Uint8Array[] {
    if (this.fill === 0 && payload.length === FRAME_BYTES) return [payload.slice()];
    const out: Uint8Array[] = [];
    let i = 0;
    while (i < payload.length) {
      const n = Math.min(FRAME_BYTES - this.fill, payload.length - i);
      this.pending.set(payload.subarray(i, i + n), this.fill);
      this.fill += n;
      i += n;
      if (this.fill === FRAME_BYTES) {
        out.push(this.pending.slice());
        this.fill = 0;
      }
    }
    return out;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.fill;
  }

  reset(): void {
    this.fill = 0;
  }
}
