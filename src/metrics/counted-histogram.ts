/**
 * A label-free Prometheus histogram for a hot path: each observation is a bucket index found and three
 * numbers added (no object, no label hash, no allocation); the exposition is built from those counts only
 * when the registry is scraped.
 *
 * It stands in for prom-client's `Histogram` without labels and renders the same text, byte for byte:
 * the family's `# HELP`/`# TYPE histogram` lines, then `<name>_bucket{le="<bound>"}` cumulative counts
 * for each bound and `le="+Inf"`, then `<name>_sum` and `<name>_count` (Prometheus text format 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/#histograms-and-summaries), registry
 * default labels included; `get()` gives prom-client's JSON shape (`getMetricsAsJSON`), `reset()` zeroes
 * it (`registry.resetMetrics()`). A value lands in the first bucket whose upper bound is ≥ it (Prometheus'
 * `le`, as prom-client's `observe`). tests/metrics/counted-histogram.test.ts compares it with prom-client.
 *
 * Why: prom-client's `observe` builds a label object and hashes it per call; the pacer calls it once per
 * 20 ms deadline of each of its phases (~180 a second at 200 calls), on the thread that paces RTP.
 *
 *   const h = new CountedHistogram({ name: "voice_agent_pacer_lateness_ms", help: "…", buckets: [0.5, 1, 2], registers: [registry] });
 *   h.observe(1.4);
 */
import type { Metric, Registry } from "prom-client";

export interface CountedHistogramOptions {
  /** Metric family name (`[a-zA-Z_:][a-zA-Z0-9_:]*`). */
  name: string;
  help: string;
  /** Upper bounds, ascending, finite; `+Inf` is added. */
  buckets: readonly number[];
  /** Registries it is registered on (prom-client's `registerMetric`). */
  registers: readonly Registry[];
  /**
   * Counts kept elsewhere (a lower layer's process totals, e.g. media/vad/totals.ts vadBatchSizes):
   * `counts` per bucket alone (bounds.length + 1 slots, the last one +Inf's) and `sum`, read at each
   * scrape; `observe` adds to them too, `reset` leaves them (process totals, like the counters that
   * process-totals.ts refills at each scrape). Absent: the histogram keeps its own.
   */
  source?: { readonly counts: Float64Array; sum: number };
}

/** One exposed sample, in prom-client's value shape (what `Registry.getMetricsAsString` formats). */
interface Sample {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string | number>;
  value: number;
  metricName: string;
  exemplar?: null;
}

export class CountedHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram" as const;
  /** How prom-client's cluster aggregation merges it (as its Histogram). */
  readonly aggregator = "sum" as const;
  private readonly bounds: readonly number[];
  /** counts[i]: observations in bucket i alone (≤ bounds[i], > bounds[i − 1]); the last one is +Inf's. */
  private readonly counts: Float64Array;
  /** Where the sum lives (the source's, or the histogram's own). */
  private readonly totals: { sum: number };
  /** The counts are a `source`'s (CountedHistogramOptions.source). */
  private readonly external: boolean;

  /** @throws Error when a bound is not finite or the bounds are not ascending. */
  constructor(o: CountedHistogramOptions) {
    for (let i = 0; i < o.buckets.length; i++) {
      if (!Number.isFinite(o.buckets[i]) || (i > 0 && !(o.buckets[i] > o.buckets[i - 1]))) throw new Error(`${o.name}: buckets must be finite and ascending`);
    }
    this.name = o.name;
    this.help = o.help;
    this.bounds = [...o.buckets];
    if (o.source && o.source.counts.length !== this.bounds.length + 1) throw new Error(`${o.name}: source needs ${this.bounds.length + 1} counts`);
    this.counts = o.source?.counts ?? new Float64Array(this.bounds.length + 1);
    this.totals = o.source ?? { sum: 0 };
    this.external = o.source !== undefined;
    // The registry only calls get/getForPromString/reset and reads name/type: the prom-client
    // Metric type is a union of its own classes, hence the cast.
    for (const r of o.registers) r.registerMetric(this as unknown as Metric);
  }

  /** Adds one observation. A value that is not finite is ignored (prom-client's Histogram throws). */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.totals.sum += value;
  }

  /** Zeroes every count and the sum (not a `source`'s: those are the process's). */
  reset(): void {
    if (this.external) return;
    this.counts.fill(0);
    this.totals.sum = 0;
  }

  /** The samples as prom-client's Histogram gives them to the text formatter (sharedLabels empty). */
  async getForPromString(): Promise<{ name: string; help: string; type: "histogram"; values: Sample[]; aggregator: "sum" }> {
    const bucketName = `${this.name}_bucket`;
    const values: Sample[] = [];
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i];
      values.push({ labels: { le: this.bounds[i] }, sharedLabels: {}, value: acc, metricName: bucketName, exemplar: null });
    }
    const count = acc + this.counts[this.bounds.length];
    values.push({ labels: { le: "+Inf" }, sharedLabels: {}, value: count, metricName: bucketName, exemplar: null });
    values.push({ labels: {}, sharedLabels: {}, value: this.totals.sum, metricName: `${this.name}_sum`, exemplar: undefined });
    values.push({ labels: {}, sharedLabels: {}, value: count, metricName: `${this.name}_count`, exemplar: undefined });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** prom-client's `get()` shape: the samples without `sharedLabels` (none here). */
  async get(): Promise<{ name: string; help: string; type: "histogram"; values: Sample[]; aggregator: "sum" }> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels: _shared, ...rest }) => rest);
    return data;
  }
}
