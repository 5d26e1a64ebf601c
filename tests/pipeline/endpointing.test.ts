import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/util/clock";
import { TurnDetector, type TurnEnd } from "../../src/pipeline/endpointing";
import { classifyCompletion, type Completion } from "../../src/pipeline/turn-completion";

function setup() {
  const clock = new FakeClock(1000);
  const turns: TurnEnd[] = [];
  const d = new TurnDetector(clock, { minSilenceMs: 900, maxSilenceMs: 1600 }, (t) => turns.push({ ...t }));
  return { clock, turns, d };
}

describe("TurnDetector", () => {
  test("STT end-of-speech plus VAD silence ends the turn after minSilenceMs", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    clock.advance(1200);
    d.speechEnded(clock.now());
    clock.advance(300);
    d.final("I would like an appointment", true);
    clock.advance(599);
    expect(turns).toHaveLength(0);
    clock.advance(1);
    expect(turns).toEqual([{ text: "I would like an appointment", speechEndAt: 2200, finalAt: 2500, completion: "unknown" }]);
  });

  test("a 700 ms mid-sentence pause gives exactly one turn with both halves", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    clock.advance(800);
    d.speechEnded(clock.now());
    clock.advance(200);
    d.final("my name is", true); // an STT that finalizes on short pauses
    clock.advance(500); // 700 ms pause in all
    d.speechStarted();
    clock.advance(900);
    d.speechEnded(clock.now());
    d.final("john smith", true);
    clock.advance(5000);
    expect(turns.map((t) => t.text)).toEqual(["my name is john smith"]);
  });

  test("without an STT end signal the turn ends after maxSilenceMs", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    clock.advance(500);
    d.speechEnded(clock.now());
    d.final("hello", false);
    clock.advance(1599);
    expect(turns).toHaveLength(0);
    clock.advance(1);
    expect(turns.map((t) => t.text)).toEqual(["hello"]);
  });

  test("no text, no turn; restore() puts text back in front", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    clock.advance(300);
    d.speechEnded(clock.now());
    d.utteranceEnd();
    clock.advance(5000);
    expect(turns).toHaveLength(0);
    d.restore("first part");
    d.final("second part", true);
    clock.advance(1000);
    expect(turns.map((t) => t.text)).toEqual(["first part second part"]);
  });

  test("a final while the caller is still speaking waits for the VAD", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    d.final("still talking", true);
    clock.advance(5000);
    expect(turns).toHaveLength(0);
    d.speechEnded(clock.now());
    clock.advance(900);
    expect(turns).toHaveLength(1);
  });

  test("a finished sentence with the STT's own speech_final ends the turn as soon as the VAD hears the pause", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    clock.advance(1500);
    d.final("A table for two, please.", true); // speech_final while our VAD still hears the caller
    expect(turns).toHaveLength(0);
    clock.advance(160);
    d.speechPaused(clock.now() - 160);
    expect(turns).toEqual([{ text: "A table for two, please.", speechEndAt: 2500, finalAt: 2500, completion: "complete" }]);
  });

  test("a finished sentence confirmed only by the Finalize answer waits for completeSilenceMs (300 ms)", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    clock.advance(1500);
    d.speechPaused(clock.now() - 160);
    d.final("A table for two, please.", false, true);
    clock.advance(139);
    expect(turns).toHaveLength(0);
    clock.advance(1);
    expect(turns.map((t) => [t.text, t.speechEndAt])).toEqual([["A table for two, please.", 2340]]);
  });

  test("sound during the pause holds the decision; the pause reported again restarts the wait", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    clock.advance(1500);
    d.speechPaused(clock.now() - 160); // silence since 2340
    d.final("A table for two, please.", false, true);
    clock.advance(100);
    d.speechActivity(); // a trailing "s" the STT already wrote
    clock.advance(200);
    expect(turns).toHaveLength(0);
    d.speechPaused(clock.now() - 160); // silence again since 2640
    clock.advance(139);
    expect(turns).toHaveLength(0);
    clock.advance(1);
    expect(turns.map((t) => t.speechEndAt)).toEqual([2640]);
  });

  test("the final arriving after the pause ends a finished sentence at once", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    clock.advance(1500);
    d.speechPaused(clock.now() - 160);
    clock.advance(20);
    d.final("A table for two, please.", true);
    expect(turns.map((t) => t.speechEndAt)).toEqual([2340]);
  });

  test("a dangling word waits maxSilenceMs: a 700 ms pause after “I'd like to book a” stays one turn", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    clock.advance(1000);
    d.speechPaused(clock.now() - 200);
    d.final("I'd like to book a", true);
    clock.advance(500); // 700 ms of silence in all
    expect(turns).toHaveLength(0);
    d.speechStarted();
    clock.advance(800);
    d.speechPaused(clock.now() - 200);
    d.final("table for two.", true);
    clock.advance(50);
    expect(turns.map((t) => [t.text, t.completion])).toEqual([["I'd like to book a table for two.", "complete"]]);
  });

  test("a dangling word alone ends the turn only after maxSilenceMs", () => {
    const { clock, turns, d } = setup();
    d.speechStarted();
    clock.advance(1000);
    d.speechEnded(clock.now());
    d.final("My number is, um", true);
    clock.advance(1599);
    expect(turns).toHaveLength(0);
    clock.advance(1);
    expect(turns.map((t) => t.completion)).toEqual(["incomplete"]);
  });

  test("a pause without the STT's end signal asks it to finalize, once; its answer counts as the end signal", () => {
    const clock = new FakeClock(1000);
    const turns: TurnEnd[] = [];
    let flushes = 0;
    const d = new TurnDetector(clock, { minSilenceMs: 900, maxSilenceMs: 1600 }, (t) => turns.push(t), () => flushes++);
    d.speechStarted();
    clock.advance(1000);
    d.final("Can I book a study room?", false); // an is_final segment while the caller still talks
    d.speechPaused(clock.now() - 200);
    expect(flushes).toBe(1);
    d.speechEnded(clock.now() - 200); // the same silence, reported again when the segment ends
    expect(flushes).toBe(1);
    expect(turns).toHaveLength(0); // no end signal yet: maxSilenceMs would apply
    d.final("", false, true); // the Finalize answer (from_finalize), nothing new in it
    clock.advance(99);
    expect(turns).toHaveLength(0);
    clock.advance(1); // 300 ms of silence

    expect(turns.map((t) => t.text)).toEqual(["Can I book a study room?"]);
  });

  test("once a Finalize round trip is known, the Finalize goes out so that its answer lands when the finished-sentence wait ends", () => {
    const clock = new FakeClock(1000);
    const turns: TurnEnd[] = [];
    const flushedAt: number[] = [];
    const d = new TurnDetector(clock, { minSilenceMs: 900, maxSilenceMs: 1600, completeSilenceMs: 300 }, (t) => turns.push(t), () => flushedAt.push(clock.now()));
    // Turn 1: no round trip measured yet, so the Finalize goes out at the pause (160 ms of silence).
    d.speechStarted();
    clock.advance(1160);
    d.speechPaused(clock.now() - 160); // silence since 2000
    expect(flushedAt).toEqual([2160]);
    expect(d.finalizeRttMs).toBeUndefined();
    clock.advance(25);
    d.final("A table for two, please.", false, true); // answered after 25 ms
    expect(d.finalizeRttMs).toBe(25);
    expect(turns).toHaveLength(0); // 185 ms of silence: the finished sentence waits for 300
    clock.advance(115);
    expect(turns.map((t) => t.finalAt - t.speechEndAt)).toEqual([185]);
    // Turn 2: Finalize at 300 − 25 = 275 ms of silence; the answer (25 ms later) ends the turn at once.
    d.speechStarted();
    clock.advance(1000);
    d.speechPaused(clock.now() - 160); // silence since 3140
    expect(flushedAt).toHaveLength(1);
    clock.advance(114);
    expect(flushedAt).toHaveLength(1);
    clock.advance(1);
    expect(flushedAt.at(-1)).toBe(3140 + 275);
    clock.advance(25);
    expect(turns).toHaveLength(1);
    d.final("Two people at eight.", false, true);
    expect(turns.map((t) => [t.text, t.speechEndAt, t.finalAt])).toEqual([
      ["A table for two, please.", 2000, 2185],
      ["Two people at eight.", 3140, 3440],
    ]);
  });

  test("finalizeNow asks at once even when the round trip would time it later; once per silence, not after the STT's end signal", () => {
    const clock = new FakeClock(1000);
    const flushedAt: number[] = [];
    const d = new TurnDetector(clock, { minSilenceMs: 900, maxSilenceMs: 1600, completeSilenceMs: 300 }, () => {}, () => flushedAt.push(clock.now()));
    d.speechStarted();
    clock.advance(500);
    d.speechPaused(clock.now() - 160);
    clock.advance(20);
    d.final("Yes.", false, true); // round trip 20 ms: the next Finalize is timed for 280 ms of silence
    clock.advance(400);
    d.speechStarted(); // a barge-in; its reply is paused
    clock.advance(300);
    d.finalizeNow(); // the VAD's pause while the reply waits for these words
    expect(flushedAt).toEqual([1500, 2220]);
    d.speechPaused(clock.now() - 80);
    d.finalizeNow();
    clock.advance(300);
    expect(flushedAt).toHaveLength(2); // the timed one is not sent as well
    // Its answer came empty (asked at a gap inside the word); more of the sound, not a new start, and
    // the VAD's pause again: asked again.
    d.final("", false, true);
    clock.advance(60);
    d.speechActivity();
    clock.advance(100);
    d.finalizeNow();
    expect(flushedAt).toEqual([1500, 2220, 2680]);
    d.speechStarted();
    clock.advance(200);
    d.final("uh huh", true); // speech_final: the STT itself ended this speech
    d.finalizeNow();
    expect(flushedAt).toHaveLength(3);
    d.dispose();
  });

  test("speech going on before a delayed Finalize cancels it; the next pause schedules it again", () => {
    const clock = new FakeClock(1000);
    const flushedAt: number[] = [];
    const turns: TurnEnd[] = [];
    const d = new TurnDetector(clock, { minSilenceMs: 900, maxSilenceMs: 1600, completeSilenceMs: 300 }, (t) => turns.push(t), () => flushedAt.push(clock.now()));
    d.speechStarted();
    clock.advance(500);
    d.speechPaused(clock.now() - 160);
    clock.advance(10);
    d.final("Yes.", false, true); // round trip 10 ms
    clock.advance(200);
    expect(turns).toHaveLength(1);
    d.speechStarted();
    clock.advance(500);
    d.speechPaused(clock.now() - 160); // Finalize due at 290 ms of silence, 130 ms from now
    clock.advance(60);
    d.speechActivity(); // the caller goes on (a comma pause)
    clock.advance(200);
    expect(flushedAt).toHaveLength(1);
    d.speechPaused(clock.now() - 160);
    clock.advance(129);
    expect(flushedAt).toHaveLength(1);
    clock.advance(1);
    expect(flushedAt).toHaveLength(2);
    d.dispose();
  });

  test("no Finalize when the STT already signalled the end", () => {
    const clock = new FakeClock(1000);
    let flushes = 0;
    const d = new TurnDetector(clock, { minSilenceMs: 900, maxSilenceMs: 1600 }, () => {}, () => flushes++);
    d.speechStarted();
    clock.advance(500);
    d.final("Yes.", true);
    d.speechPaused(clock.now());
    expect(flushes).toBe(0);
  });
});

describe("classifyCompletion", () => {
  test.each<[string, Completion]>([
    ["A table for two, please.", "complete"],
    ["Can I book a study room?", "complete"],
    ["Thanks, that is all I needed.", "complete"],
    ["Hold on.", "complete"],
    ["Thank you.", "complete"],
    ["yes", "complete"],
    ["no thanks", "complete"],
    ["I'd like to book a", "incomplete"],
    ["I'd like to book a.", "incomplete"],
    ["I want to go to the", "incomplete"],
    ["my name is John and", "incomplete"],
    ["Well, I was thinking,", "incomplete"],
    ["So I um", "incomplete"],
    ["I would like to book a study room", "unknown"],
    ["a table for two please", "unknown"],
    ["", "unknown"],
  ])("%p → %p", (text, want) => {
    expect(classifyCompletion(text)).toBe(want);
  });
});
