/**
 * Packet loss from sequence numbers, RFC 3550 Appendix A.3:
 *   expected = extended_max - base_seq + 1;   lost = expected - received
 * computed per SSRC; when the SSRC changes (a new source, e.g. after a media-server failover) the loss
 * so far is kept and counting restarts (A.1: a new SSRC is a new source).
 */
import { SequenceUnwrapper } from "./sequence-unwrapper.ts";

/**
 * How a packet relates to the ones before it: the first of a new SSRC, the next in order, newer with
 * packets missing before it, or not newer than the highest seen (duplicate or reordered).
 */
export type SequenceStep = "new_source" | "in_order" | "gap" | "late";

export class ReceptionStats {
  private readonly unwrapper = new SequenceUnwrapper();
  private ssrc: number | undefined;
  private base = 0;
  private received = 0;
  private lostEarlier = 0;
  private expectedEarlier = 0;

  /**
   * Records one packet. A "late" packet (duplicate or reordered) is counted as received but should not
   * be played.
   */
  record(ssrc: number, seq: number): SequenceStep {
    if (ssrc !== this.ssrc) {
      if (this.ssrc !== undefined) {
        this.lostEarlier += this.currentLost();
        this.expectedEarlier += this.currentExpected();
      }
      this.ssrc = ssrc;
      this.unwrapper.reset();
      this.base = this.unwrapper.unwrap(seq);
      this.received = 1;
      return "new_source";
    }
    const before = this.unwrapper.max!;
    const ext = this.unwrapper.unwrap(seq);
    this.received++;
    if (ext <= before) return "late";
    return ext === before + 1 ? "in_order" : "gap";
  }

  /** Packets the senders numbered so far (A.3 expected, summed over SSRCs). */
  get expected(): number {
    return this.expectedEarlier + this.currentExpected();
  }

  /** Cumulative packets lost, never negative (duplicates can make A.3's difference negative). */
  get lost(): number {
    return this.lostEarlier + this.currentLost();
  }

  private currentExpected(): number {
    return this.ssrc === undefined ? 0 : this.unwrapper.max! - this.base + 1;
  }

  private currentLost(): number {
    return Math.max(0, this.currentExpected() - this.received);
  }
}
