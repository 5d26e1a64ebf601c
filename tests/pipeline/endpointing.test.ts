import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/util/clock";
import { TurnDetector, type TurnEnd } from "../../src/pipeline/endpointing";

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
    expect(turns).toEqual([{ text: "I would like an appointment", speechEndAt: 2200, finalAt: 2500 }]);
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
});
