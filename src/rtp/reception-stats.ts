/**
 * Packet loss from sequence numbers, RFC 3550 Appendix A.3:
 *   expected = extended_max - base_seq + 1;   lost = expected - received
 * computed per SSRC; when the SSRC changes (a new source, e.g. after a media-server failover) the loss
 * so far is kept and counting restarts (A.1: a new SSRC is a new source).
 */
import { seqDistance } from "./sequence-unwrapper.ts";

/**
 * How a packet relates to the ones before it: the first of a new SSRC, the next in order, newer with
 * packets missing before it, not newer than the highest seen (duplicate or reordered), a very large
 * jump held on probation (dropped), or the second packet in sequence after such a jump: the source
 * restarted its numbering (`resync`, counted like a new source).
 */
export type SequenceStep = "new_source" | "in_order" | "gap" | "late" | "jump" | "resync";

/** RFC 3550 A.1: "MAX_DROPOUT = 3000" — a forward gap larger than this is a jump, not loss. */
export const MAX_DROPOUT = 3000;
/** RFC 3550 A.1: "MAX_MISORDER = 100" — an older packet further back than this is a jump, not reordering. */
export const MAX_MISORDER = 100;

export class ReceptionStats {
  private ssrc: number | undefined;
  /**
   * Highest extended sequence number of the current source (sequence-unwrapper.ts's rule, kept here
   * rather than in a SequenceUnwrapper: one object less to reach per packet at 200 calls; issue 13).
   */
  private max = 0;
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
      this.max = this.base = seq;
      this.received = 1;
      return "new_source";
    }
    const d = seqDistance(this.max, seq);
    if (d >= MAX_DROPOUT || d < -MAX_MISORDER) {
      // RFC 3550 A.1: "the sequence number made a very large jump … If this is the second packet in
      // sequence after the jump, it is assumed the other side restarted without telling us so just
      // re-sync (i.e., pretend this was the first packet)." — the same SSRC after a media-server switch.
      if (seq === this.badSeq) {
        this.badSeq = undefined;
        this.lostEarlier += this.currentLost();
        this.expectedEarlier += this.currentExpected();
        this.max = this.base = seq;
        this.received = 1;
        return "resync";
      }
      this.badSeq = (seq + 1) & 0xffff;
      return "jump";
    }
    this.badSeq = undefined;
    this.received++;
    if (d <= 0) return "late"; // not above the highest: a duplicate or reordered packet
    this.max += d;
    return d === 1 ? "in_order" : "gap";
  }

  /** A.1 `bad_seq`: the number that confirms a jump. */
  private badSeq: number | undefined;

  /** What an RTCP report block about the current source needs (RFC 3550 §6.4.1, A.3). */
  snapshot(): { ssrc: number; extendedHighestSeq: number; expected: number; received: number; lost: number } | undefined {
    if (this.ssrc === undefined) return undefined;
    return {
      ssrc: this.ssrc,
      extendedHighestSeq: this.max >>> 0,
      expected: this.currentExpected(),
      received: this.received,
      lost: this.currentLost(),
    };
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
    return this.ssrc === undefined ? 0 : this.max - this.base + 1;
  }

  private currentLost(): number {
    return Math.max(0, this.currentExpected() - this.received);
  }
}
