import { describe, expect, test } from "bun:test";
import {
  DEFAULT_SEGMENTER_OPTIONS,
  SpeechSegmenter,
  type SegmenterEvent,
  type SegmenterOptions,
} from "../../../src/media/vad/segmenter.ts";

/**
 * One char per 20 ms frame: '#' p=0.9 (speech), '=' p=0.5 (exactly threshold), '-' p=0.4 (hysteresis
 * band), '_' p=0.35 (exactly the low edge: still band), '.' p=0.1 (silence), 'n' null (no VAD output yet).
 */
const P: Record<string, number | null> = { "#": 0.9, "=": 0.5, "-": 0.4, _: 0.35, ".": 0.1, n: null };

/** Small options so the tables stay short: 3 frames speech, 4 frames silence, 2 frames pre-roll. */
const SMALL: Partial<SegmenterOptions> = { minSpeechMs: 60, minSilenceMs: 80, preRollMs: 40 };

type Brief = ["start", number, number] | ["end", number, number]; // start: onset, confirm; end: endFrame, at

function run(pattern: string, opts: Partial<SegmenterOptions> = SMALL) {
  const seg = new SpeechSegmenter(opts);
  const out: Brief[] = [];
  const events: { at: number; ev: SegmenterEvent }[] = [];
  [...pattern.replaceAll(" ", "")].forEach((ch, i) => {
    if (!(ch in P)) throw new Error(`bad char ${ch}`);
    const frame = Int16Array.of(i); // sample 0 marks the frame index
    for (const ev of seg.push(frame, P[ch])) {
      events.push({ at: i, ev });
      out.push(ev.type === "speech_start" ? ["start", ev.onsetFrame, ev.confirmFrame] : ["end", ev.endFrame, i]);
    }
  });
  return { out, events, seg };
}

describe("SpeechSegmenter table", () => {
  const table: [string, string, Brief[]][] = [
    ["all silence", "..........", []],
    ["nulls count as silence", "nnnn......", []],
    ["3 speech frames start; 4 silent frames end", "..### .... ..", [["start", 2, 4], ["end", 5, 8]]],
    ["2 speech frames are not enough", "..##. .....", []],
    ["silence inside the candidate cancels it", "..##. ##...", []],
    ["band frames pause the count, do not cancel", "..#-- ##...", [["start", 2, 6]]],
    ["'=' (p == threshold) counts as speech", "..=== .....", [["start", 2, 4], ["end", 5, 8]]],
    ["'_' (p == threshold-0.15) is band, not silence", "###__ ____ ____", [["start", 0, 2]]],
    ["band frames in speech never end it", "### ------------", [["start", 0, 2]]],
    ["band frame resets the silence count", "### ...- .... .", [["start", 0, 2], ["end", 7, 10]]],
    ["two utterances", "###.... ####.... .", [["start", 0, 2], ["end", 3, 6], ["start", 7, 9], ["end", 11, 14]]],
    ["candidate restarts after cancel", ".#.###....", [["start", 3, 5], ["end", 6, 9]]],
  ];
  test.each(table)("%s", (_name, pattern, want) => {
    expect(run(pattern).out).toEqual(want);
  });
});

describe("SpeechSegmenter details", () => {
  test("speech_start carries pre-roll + onset..confirm audio, the very frames pushed", () => {
    const { events } = run("..... ###");
    const ev = events[0].ev;
    if (ev.type !== "speech_start") throw new Error("expected start");
    expect(ev.audioStartFrame).toBe(3); // onset 5 - 2 pre-roll frames
    expect(ev.audio.map((f) => f[0])).toEqual([3, 4, 5, 6, 7]);
  });

  test("pre-roll is clipped at stream start", () => {
    const { events } = run("###");
    const ev = events[0].ev;
    if (ev.type !== "speech_start") throw new Error("expected start");
    expect(ev.audioStartFrame).toBe(0);
    expect(ev.audio.map((f) => f[0])).toEqual([0, 1, 2]);
  });

  test("a long band-paused candidate returns at most the ring (pre-roll + 4 × minSpeech + 1 frames)", () => {
    const { events } = run("#" + "-".repeat(30) + "##");
    const ev = events[0].ev;
    if (ev.type !== "speech_start") throw new Error("expected start");
    expect(ev.onsetFrame).toBe(0);
    expect(ev.confirmFrame).toBe(32);
    expect(ev.audio.length).toBe(2 + 4 * 3 + 1);
    expect(ev.audio.at(-1)![0]).toBe(32);
    expect(ev.audioStartFrame).toBe(32 - 15 + 1);
  });

  test("speech_end reports duration from onset to first silent frame", () => {
    const { events } = run("..#### #....");
    const end = events.find((e) => e.ev.type === "speech_end")!.ev;
    expect(end).toEqual({ type: "speech_end", onsetFrame: 2, endFrame: 7, durationMs: 100 });
  });

  test("durations round up to whole frames", () => {
    // 50 ms → 3 frames; 61 ms → 4 frames
    expect(run("###", { minSpeechMs: 50 }).out).toEqual([["start", 0, 2]]);
    expect(run("###.", { minSpeechMs: 61 }).out).toEqual([]);
    expect(run("####", { minSpeechMs: 61 }).out).toEqual([["start", 0, 3]]);
  });

  test("state and reset", () => {
    const seg = new SpeechSegmenter(SMALL);
    const f = new Int16Array(160);
    expect(seg.state).toBe("silence");
    seg.push(f, 0.9);
    expect(seg.state).toBe("candidate");
    seg.push(f, 0.9);
    seg.push(f, 0.9);
    expect(seg.state).toBe("speech");
    seg.reset();
    expect(seg.state).toBe("silence");
    expect(seg.frameCount).toBe(0);
    expect(seg.push(f, 0.1)).toEqual([]);
  });

  test("defaults", () => {
    expect(DEFAULT_SEGMENTER_OPTIONS).toEqual({
      threshold: 0.5,
      hysteresis: 0.15,
      minSpeechMs: 200,
      minSilenceMs: 500,
      preRollMs: 300,
    });
    // 200 ms = 10 frames of speech before start; 500 ms = 25 frames of silence before end.
    const seg = new SpeechSegmenter();
    const f = new Int16Array(160);
    const evs: SegmenterEvent[][] = [];
    for (let i = 0; i < 40; i++) evs.push(seg.push(f, 0.9));
    for (let i = 0; i < 30; i++) evs.push(seg.push(f, 0.05));
    expect(evs.findIndex((e) => e.length > 0)).toBe(9);
    expect(evs.findLastIndex((e) => e.length > 0)).toBe(40 + 24);
  });

  test.each<[Partial<SegmenterOptions>]>([
    [{ threshold: 0 }],
    [{ threshold: 1.2 }],
    [{ hysteresis: 0.6 }],
    [{ hysteresis: -0.1 }],
    [{ minSpeechMs: -1 }],
    [{ minSilenceMs: Number.NaN }],
    [{ preRollMs: Number.POSITIVE_INFINITY }],
  ])("rejects %p", (o) => {
    expect(() => new SpeechSegmenter(o)).toThrow(RangeError);
  });
});
