/**
 * Interarrival jitter estimate, RFC 3550 §6.4.1 and Appendix A.8:
 *
 *   D(i-1,i) = (R_i - R_{i-1}) - (S_i - S_{i-1})      (arrival spacing minus timestamp spacing)
 *   J_i      = J_{i-1} + (|D(i-1,i)| - J_{i-1}) / 16
 *
 * All in RTP timestamp units. The timestamp difference is taken modulo 2^32 as a signed 32-bit value, so
 * a timestamp wrap does not produce a spike.
 */
export class JitterEstimator {
  private prevArrival: number | undefined;
  private prevTimestamp = 0;
  /** Current estimate, RTP timestamp units (samples at the clock rate). */
  jitter = 0;

  /**
   * @param arrival arrival time in RTP timestamp units (e.g. ms × 8 at 8000 Hz)
   * @param timestamp the packet's 32-bit RTP timestamp
   */
  update(arrival: number, timestamp: number): void {
    if (this.prevArrival !== undefined) {
      const d = arrival - this.prevArrival - ((timestamp - this.prevTimestamp) | 0);
      this.jitter += (Math.abs(d) - this.jitter) / 16;
    }
    this.prevArrival = arrival;
    this.prevTimestamp = timestamp;
  }

  /** Estimate in ms for a clock rate in Hz. */
  jitterMs(clockRate: number): number {
    return (this.jitter * 1000) / clockRate;
  }

  reset(): void {
    this.prevArrival = undefined;
    this.jitter = 0;
  }
}
