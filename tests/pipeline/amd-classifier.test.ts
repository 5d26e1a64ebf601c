/** The AMD classifier's rules as a table of event sequences (times in ms after the answer at 0). */
import { describe, expect, test } from "bun:test";
import { AmdClassifier, countWords, type AmdDecision } from "../../src/pipeline/amd-classifier";

type Ev = ["start" | "end" | "beep", number] | ["words", number, string, boolean];

/** Runs `events` in time order with a tick every 20 ms up to `untilMs`; returns the decision. */
function run(events: Ev[], untilMs = 6000, settings = {}): AmdDecision | undefined {
  const c = new AmdClassifier(0, settings);
  const queue = [...events];
  for (let t = 0; t <= untilMs; t += 20) {
    while (queue.length && queue[0]![1] <= t) {
      const e = queue.shift()!;
      if (e[0] === "start") c.speechStarted(e[1]);
      else if (e[0] === "end") c.speechEnded(e[1]);
      else if (e[0] === "beep") c.beep(t);
      else c.heard(e[2] ?? "", e[3] ?? false, t);
    }
    const d = c.tick(t);
    if (d) return d;
  }
  return c.decision;
}

describe("AmdClassifier", () => {
  test.each<[string, Ev[], Partial<AmdDecision>]>([
    ['"Hello?" then waiting → human 700 ms after the word ended', [["start", 400], ["end", 900]], { result: "human", reason: "short_greeting", afterMs: 1600 }],
    ['"Hello?" … "Hello??" within the silence → still one short run → human', [["start", 300], ["end", 700], ["start", 1200], ["end", 1600]], { result: "human", afterMs: 2300 }],
    ["a greeting talking on for 2.4 s → machine (long_greeting) at 2.4 s of speech", [["start", 500], ["end", 1800], ["start", 2000], ["end", 6000]], { result: "machine", reason: "long_greeting", afterMs: 2900 }],
    ["8 words in interims before 2.4 s → machine (many_words)", [["start", 300], ["words", 1500, "hi you have reached the voicemail of john", false]], { result: "machine", reason: "many_words", afterMs: 1500 }],
    ["words add up over finals", [["start", 300], ["words", 1000, "hi you have", true], ["words", 1400, "reached the voice mail box", false]], { result: "machine", reason: "many_words", afterMs: 1400 }],
    ["no speech at all → unknown at 2 s", [], { result: "unknown", reason: "no_speech", afterMs: 2000 }],
    ["speech starting late and still short at 3.5 s → unknown (timeout)", [["start", 1900]], { result: "unknown", reason: "timeout", afterMs: 3500 }],
    ["a beep before anything → machine at once", [["beep", 800]], { result: "machine", reason: "beep", afterMs: 800 }],
    ["a pause of 700 ms inside the greeting ends the first run: the short run before it decides human", [["start", 200], ["end", 1000], ["start", 1760], ["end", 5000]], { result: "human", afterMs: 1700 }],
  ])("%s", (_name, events, want) => {
    expect(run(events)).toMatchObject(want);
  });

  test("the first decision sticks", () => {
    const c = new AmdClassifier(1000);
    c.speechStarted(1200);
    c.speechEnded(1500);
    const d = c.tick(2200)!;
    expect(d).toEqual({ result: "human", reason: "short_greeting", atMs: 2200, afterMs: 1200 });
    expect(c.beep(2300)).toBe(d);
  });

  test("settings must be positive", () => {
    expect(() => new AmdClassifier(0, { decisionMs: 0 })).toThrow(RangeError);
  });

  test("countWords", () => {
    expect(countWords("")).toBe(0);
    expect(countWords("Hello?")).toBe(1);
    expect(countWords("I can't take your call, it's 5 o'clock.")).toBe(8);
  });
});
