/**
 * OutboundAnswer: when the outbound opening starts, and what a machine gets (hang-up, or the message
 * after the beep / after silence / after the bounded wait), driven frame by frame with explicit times.
 */
import { describe, expect, test } from "bun:test";
import type { CallRecord } from "../../src/pipeline/call-record";
import { OutboundAnswer, type OutboundAnswerSettings } from "../../src/pipeline/outbound-answer";
import { silentLogger } from "../../src/util/log";

/** One frame of a 300 Hz "voice" (below the beep band) at about −15 dBFS, or of a 1000 Hz beep. */
function sineFrame(hz: number, frame: number): Int16Array {
  const pcm = new Int16Array(160);
  for (let i = 0; i < 160; i++) pcm[i] = Math.round(6000 * Math.sin((2 * Math.PI * hz * (frame * 160 + i)) / 8000));
  return pcm;
}
const SILENT = new Int16Array(160);

/** `speech` [from, to) ms of voice; `beep` [from, to) ms of a 1000 Hz tone; `words` at ms. */
interface Script {
  speech?: Array<[number, number]>;
  beep?: [number, number];
  words?: Array<[number, string]>;
}

/** Feeds frame after frame (frame k covers [20k, 20k + 20) ms) until the controller acted or `untilMs`. */
function drive(settings: OutboundAnswerSettings, script: Script, untilMs = 30_000) {
  const record = { id: "c1", turns: [] } as unknown as CallRecord;
  const did: Array<[string, number]> = [];
  let now = 0;
  const a = new OutboundAnswer(settings, {
    record,
    log: silentLogger,
    actions: {
      open: () => did.push(["open", now]),
      hangup: () => did.push(["hangup", now]),
      leaveMessage: (t) => did.push([`message:${t}`, now]),
      changed: () => {},
    },
  });
  const words = [...(script.words ?? [])];
  for (let k = 0; k * 20 < untilMs && a.pending; k++) {
    const t = k * 20;
    now = t + 20; // the frame's end: when it has been heard
    const voiced = script.speech?.some(([from, to]) => t >= from && t < to);
    const beep = script.beep && t >= script.beep[0] && t < script.beep[1];
    a.frame(beep ? sineFrame(1000, k) : voiced ? sineFrame(300, k) : SILENT);
    while (words.length && words[0]![0] <= now) a.heard(words.shift()![1], false);
  }
  return { did, record, a };
}

describe("OutboundAnswer, AMD off: the opening waits for the callee", () => {
  test('"Hello?" then a wait: the opening starts 700 ms after the word ended', () => {
    const { did, record } = drive({ amd: "off" }, { speech: [[300, 800]] });
    expect(did).toEqual([["open", 1500]]);
    expect(record.amd).toBeUndefined();
  });
  test("a callee who says nothing: the opening after 1 s of silence (2 s with AMD on: machines start late)", () => {
    expect(drive({ amd: "off" }, {}).did).toEqual([["open", 1000]]);
    expect(drive({ amd: "hangup" }, {}).did).toEqual([["open", 2000]]);
  });
  test("a long talker (machine, AMD off): the opening at the end of their speech, not over it", () => {
    expect(drive({ amd: "off" }, { speech: [[300, 5000]] }).did).toEqual([["open", 5120]]); // the end is known after 120 ms without voice
  });
  test("speech that never ends: the opening at the hard cap (8 s)", () => {
    expect(drive({ amd: "off" }, { speech: [[300, 60_000]] }).did).toEqual([["open", 8000]]);
  });
});

describe("OutboundAnswer, AMD on", () => {
  test("human: classified, then the opening", () => {
    const { did, record } = drive({ amd: "hangup" }, { speech: [[300, 800]] });
    expect(did).toEqual([["open", 1500]]);
    expect(record.amd).toMatchObject({ result: "human", reason: "short_greeting", afterMs: 1500, action: "none", messageLeft: false });
  });
  test("machine + hangup: hang up at the decision", () => {
    const { did, record } = drive({ amd: "hangup" }, { speech: [[300, 9000]] });
    expect(did).toEqual([["hangup", 2700]]);
    expect(record.amd).toMatchObject({ result: "machine", reason: "long_greeting", action: "hangup" });
  });
  test("machine + message: waits for the beep's end, then the message", () => {
    const { did, record, a } = drive({ amd: "message", message: "Hi, call us back." }, { speech: [[300, 9000]], beep: [9200, 9500] });
    expect(did).toEqual([["message:Hi, call us back.", 9520]]); // 300 ms tone from 9200: reported once the frame after it was heard
    expect(record.amd).toMatchObject({ result: "machine", action: "message", messageAfter: "beep", beepHz: 1000, beepMs: 300, messageLeft: false });
    a.said("something else");
    expect(record.amd!.messageLeft).toBe(false);
    a.said("Hi, call us back.");
    expect(record.amd!.messageLeft).toBe(true);
  });
  test("machine + message, no beep: the message after 2 s of silence", () => {
    const { did, record } = drive({ amd: "message", message: "m" }, { speech: [[300, 9000]] });
    expect(did).toEqual([["message:m", 11_000]]);
    expect(record.amd!.messageAfter).toBe("silence");
  });
  test("machine + message, talking on: the message when the bounded beep wait is over", () => {
    const { did, record } = drive({ amd: "message", message: "m", beepWaitMs: 5000 }, { speech: [[300, 60_000]] });
    expect(did).toEqual([["message:m", 2700 + 5000]]);
    expect(record.amd!.messageAfter).toBe("beep_wait_over");
  });
  test("a beep first (no greeting): machine by beep and the message at once", () => {
    const { did, record } = drive({ amd: "message", message: "m" }, { beep: [400, 700] });
    expect(did).toEqual([["message:m", 720]]);
    expect(record.amd).toMatchObject({ result: "machine", reason: "beep", afterMs: 720, messageAfter: "beep" });
  });
  test("many words in the interims: machine before the greeting is long", () => {
    const { did, record } = drive({ amd: "hangup" }, { speech: [[300, 9000]], words: [[1600, "hello you have reached the voicemail box of"]] });
    expect(did).toEqual([["hangup", 1600]]);
    expect(record.amd!.reason).toBe("many_words");
  });
});
