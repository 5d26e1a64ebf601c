/**
 * bench:load's VAD batch line (tests/support/load-probes.ts vadBatchLine): the runs of a row's window by
 * batch size, from two scrapes of the agent's voice_agent_vad_batch_windows histogram (cumulative
 * counts by upper bound).
 */
import { describe, expect, test } from "bun:test";
import { vadBatchLine } from "../support/load-probes.ts";

const scrape = (counts: [number, number][]) => new Map<number, number>(counts);

describe("vadBatchLine", () => {
  test("each bucket's share of the window's runs (the second scrape less the first); empty buckets left out", () => {
    const a = scrape([[1, 10], [4, 10], [16, 20], [64, 20], [Infinity, 20]]);
    const b = scrape([[1, 10], [4, 20], [16, 50], [64, 50], [Infinity, 60]]);
    // 40 runs in the window: 10 of 2–4 windows, 20 of 5–16, none of 17–64, 10 of more.
    expect(vadBatchLine(a, b)).toBe("40 runs by batch size (windows per run): ≤4 25.0 %, ≤16 50.0 %, ≤∞ 25.0 %");
  });

  test("no run in the window, or an agent without the histogram: empty", () => {
    const a = scrape([[1, 3], [Infinity, 3]]);
    expect(vadBatchLine(a, a)).toBe("");
    expect(vadBatchLine(new Map(), new Map())).toBe("");
  });
});
