/** FrameTrace (src/pipeline/barge-in-trace.ts): the last frames judged, as text for the barge-in decision's log line. */
import { describe, expect, test } from "bun:test";
import { FrameTrace } from "../../src/pipeline/barge-in-trace";

describe("FrameTrace", () => {
  test("one token per frame: p and q ×9, echo or counted, agent silent, −level dB", () => {
    const t = new FrameTrace(8);
    expect(t.text()).toBe("");
    t.note(0.95, 0.31, false, true, -17.6);
    t.note(0, 0, true, true, -40.2);
    t.note(null, undefined, false, false, -Infinity);
    t.note(0.5, null, false, true, 0);
    expect(t.text()).toBe("93.18 00E40 -_.~99 5-.0");
  });

  test("keeps only the last `size` frames, oldest first", () => {
    const t = new FrameTrace(3);
    for (let i = 0; i < 7; i++) t.note(i / 9, 0, false, true, -i);
    expect(t.text()).toBe("40.4 50.5 60.6");
  });
});
