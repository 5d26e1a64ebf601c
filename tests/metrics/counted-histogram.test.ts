/**
 * CountedHistogram (src/metrics/counted-histogram.ts) against prom-client's own Histogram: the same
 * observations must give the same exposition text byte for byte and the same JSON, with and without the
 * registry's default labels, before any observation and after a reset.
 */
import { describe, expect, test } from "bun:test";
import { Histogram, Registry } from "prom-client";
import { CountedHistogram } from "../../src/metrics/counted-histogram.ts";
import { createMetrics, PACER_LATENESS_BUCKETS_MS } from "../../src/metrics/metrics.ts";
import { parseExposition, valueOf } from "./exposition-parser.ts";

const NAME = "voice_agent_pacer_lateness_ms";
const HELP = "How late each 20 ms outbound RTP pacer tick ran after its deadline, ms.";

/** One registry with prom-client's Histogram, one with ours, both fed `values`. */
function pair(values: readonly number[], buckets: readonly number[] = PACER_LATENESS_BUCKETS_MS, defaultLabels?: Record<string, string>) {
  const theirs = new Registry();
  const ours = new Registry();
  if (defaultLabels) {
    theirs.setDefaultLabels(defaultLabels);
    ours.setDefaultLabels(defaultLabels);
  }
  const h = new Histogram({ name: NAME, help: HELP, buckets: [...buckets], registers: [theirs] });
  const c = new CountedHistogram({ name: NAME, help: HELP, buckets, registers: [ours] });
  for (const v of values) {
    h.observe(v);
    c.observe(v);
  }
  return { theirs, ours, h, c };
}

// Bounds themselves (le is inclusive), just above them, 0, a negative, fractions whose sum is inexact,
// and values past the last bound (+Inf only).
const OBSERVED = [0, 0.5, 0.5000001, 1, 1.7, 2, 3, 4.999, 5, 5.0001, 6, 7, 8, 9.9, 10, 15, 20, 39.99, 40, 40.01, 80, 1000, 0.1, 0.2, 0.3, -2];

describe("CountedHistogram renders what prom-client's Histogram renders", () => {
  test.each([
    ["no observation", [] as number[]],
    ["one observation", [3.3]],
    ["bounds, between bounds, beyond the last, negative", OBSERVED],
    ["10,000 observations", Array.from({ length: 10_000 }, (_, i) => ((i * 7919) % 5003) / 97)],
  ])("%s: the same text, byte for byte, and the same JSON", async (_name, values) => {
    const { theirs, ours } = pair(values);
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    // And it is a valid histogram family by the strict parser (cumulative, +Inf = _count).
    const f = parseExposition(text);
    expect(valueOf(f, `${NAME}_count`)).toBe(values.length);
  });

  test("with the registry's default labels", async () => {
    const { theirs, ours } = pair(OBSERVED, PACER_LATENESS_BUCKETS_MS, { instance_role: "inbound" });
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain(`${NAME}_bucket{le="0.5",instance_role="inbound"} 6`); // 0, 0.5, 0.1, 0.2, 0.3, -2
  });

  test("reset (registry.resetMetrics) zeroes counts and sum, then counts again", async () => {
    const { theirs, ours, h, c } = pair(OBSERVED);
    theirs.resetMetrics();
    ours.resetMetrics();
    // prom-client's reset empties its series until the next observation; ours keeps them at 0.
    expect(valueOf(parseExposition(await ours.metrics()), `${NAME}_count`)).toBe(0);
    h.observe(2.5);
    c.observe(2.5);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  test("a value that is not a finite number is ignored (prom-client's Histogram throws)", async () => {
    const { theirs, ours, h, c } = pair([1, 2]);
    for (const v of [Number.NaN, Infinity, -Infinity]) {
      expect(() => h.observe(v)).toThrow(TypeError);
      c.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  test.each([
    ["not ascending", [1, 3, 2]],
    ["repeated", [1, 1]],
    ["not finite", [1, Infinity]],
  ])("buckets %s are refused", (_name, buckets) => {
    expect(() => new CountedHistogram({ name: "x_ms", help: "x.", buckets, registers: [] })).toThrow(/finite and ascending/);
  });

  test("createMetrics' pacer family: same text as a prom-client Histogram fed the same ticks (negative as 0)", async () => {
    const m = createMetrics({ defaultMetrics: false });
    const ticks = [-3, 0.2, 0.5, 0.7, 3, 19.9, 20, 45, 1000, 5, 6.5, 7.9];
    for (const ms of ticks) m.pacerLateness(ms);
    const { theirs } = pair(ticks.map((ms) => (ms > 0 ? ms : 0)));
    expect(await m.registry.getSingleMetricAsString(NAME)).toBe(await theirs.getSingleMetricAsString(NAME));
  });

  test("counts kept elsewhere (source): rendered as prom-client renders the same observations; a registry reset leaves them", async () => {
    const buckets = [1, 4, 16, 64];
    const source = { counts: new Float64Array(buckets.length + 1), sum: 0 };
    const values = [1, 1, 3, 16, 17, 64, 65, 200, 2];
    // A lower layer counts as countBatchSize does: the first bucket whose bound is ≥ the value.
    for (const v of values) {
      let i = 0;
      while (i < buckets.length && v > buckets[i]!) i++;
      source.counts[i]!++;
      source.sum += v;
    }
    const ours = new Registry();
    new CountedHistogram({ name: NAME, help: HELP, buckets, registers: [ours], source });
    const { theirs } = pair(values, buckets);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    ours.resetMetrics();
    expect(source.sum).toBe(values.reduce((a, b) => a + b, 0));
    expect(valueOf(parseExposition(await ours.metrics()), `${NAME}_count`)).toBe(values.length);
    expect(() => new CountedHistogram({ name: "x", help: "x.", buckets, registers: [], source: { counts: new Float64Array(2), sum: 0 } })).toThrow(/5 counts/);
  });
});
