/**
 * A small fixed-bucket histogram of pacer tick lateness (ms after the deadline), for metrics. Buckets
 * are cumulative-free counts per upper bound; export to Prometheus by summing.
 */

/** Upper bounds in ms (the last is +Inf). */
export const LATENESS_BUCKETS_MS: readonly number[] = [0.5, 1, 2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 40, 80, Infinity];

export interface LatenessSnapshot {
  count: number;
  /** Sum of lateness, ms. */
  sumMs: number;
  maxMs: number;
  /** counts[i] = ticks with lateness ≤ LATENESS_BUCKETS_MS[i] and > the previous bound. */
  counts: number[];
}

export class LatenessHistogram {
  private readonly counts = new Array<number>(LATENESS_BUCKETS_MS.length).fill(0);
  private count = 0;
  private sum = 0;
  private max = 0;

  /** Adds one observation in ms (negative values count as 0). */
  record(ms: number): void {
    const v = Math.max(0, ms);
    let i = 0;
    while (v > LATENESS_BUCKETS_MS[i]) i++;
    this.counts[i]++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** Upper bound of the bucket holding quantile `q` (0–1); 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let acc = 0;
    for (let i = 0; i < this.counts.length; i++) {
      acc += this.counts[i];
      if (acc >= rank) return LATENESS_BUCKETS_MS[i];
    }
    return Infinity;
  }

  snapshot(): LatenessSnapshot {
    return { count: this.count, sumMs: this.sum, maxMs: this.max, counts: [...this.counts] };
  }
}
