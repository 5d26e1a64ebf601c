/**
 * Extends 16-bit RTP sequence numbers to a monotonic integer (RFC 3550 Appendix A.1 keeps a cycle
 * count for the same purpose). Each new number is placed at the signed 16-bit distance from the
 * highest one seen, so wrap-around (65535 → 0) counts forward and a reordered (older) packet maps below
 * the highest. Distances of ±32768 or more are ambiguous by nature; they resolve to the nearest.
 */
/**
 * Signed distance of the 16-bit `seq` from the extended number `highest` (what unwrapping adds to it), in
 * [-32768, 32767]. Pure, for holders of their own extended maximum (reception-stats.ts).
 */
export function seqDistance(highest: number, seq: number): number {
  const last = ((highest % 65536) + 65536) % 65536;
  return ((seq - last + 0x8000) & 0xffff) - 0x8000;
}

export class SequenceUnwrapper {
  private highest: number | undefined;

  /** Extended value of `seq` (0–65535). The first call returns `seq` itself. */
  unwrap(seq: number): number {
    if (this.highest === undefined) {
      this.highest = seq;
      return seq;
    }
    const ext = this.highest + seqDistance(this.highest, seq);
    if (ext > this.highest) this.highest = ext;
    return ext;
  }

  /** Signed distance of `seq` from the highest seen (what `unwrap` would add), without recording it. */
  distance(seq: number): number {
    return this.highest === undefined ? 0 : seqDistance(this.highest, seq);
  }

  /** Highest extended value returned so far (undefined before the first packet). */
  get max(): number | undefined {
    return this.highest;
  }

  reset(): void {
    this.highest = undefined;
  }
}
