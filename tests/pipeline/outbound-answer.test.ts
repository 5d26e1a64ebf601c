/**
 * OutboundAnswer: when the outbound opening starts, and what a machine gets (hang-up, or the message
 * after the beep / after silence / after the bounded wait), driven frame by frame with explicit times.
 */
import { describe, expect, test } from "bun:test";
import type { CallRecord } from "../../src/pipeline/call-record";
import { OutboundAnswer, type OutboundAnswerSettings } from "../../src/pipeline/outbound-answer";
import { silentLogger } from "../../src/util/log";

const SILENT = new Int16Array(160);
function tone(hz: number): Int16Array[] {
  const frames: Int16Array[] = [];
  for (let f = 0; f < 15; f++) {
    const pcm = new Int16Array(160);
    for (let i = 0; i < 160; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * (f * 160 + i)) / 8000));
    frames.push(pcm);
  }
  return frames; // 300 ms
}

type Ev = ["start" | "end", number] | ["beep", number] | ["words", number, string];

function drive(settings: OutboundAnswerSettings, events: Ev[], untilMs = 30_000) {
  const record = { id: "c1", turns: [] } as unknown as CallRecord;
  const did: Array<[string, number]> = [];
  let now = 0;
  const a = new OutboundAnswer(settings, 0, {
    record,
    log: silentLogger,
    actions: {
      open: () => did.push(["open", now]),
      hangup: () => did.push(["hangup", now]),
      leaveMessage: (t) => did.push([`message:${t}`, now]),
      changed: () => {},
    },
  });
  const queue = [...events];
  let beepFrames: Int16Array[] = [];
  for (now = 0; now <= untilMs && a.pending; now += 20) {
    while (queue.length && queue[0]![1] <= now) {
      const e = queue.shift()!;
      if (e[0] === "start") a.speechStarted(e[1]);
      else if (e[0] === "end") a.speechEnded(e[1], now);
      else if (e[0] === "beep") beepFrames = tone(1000);
      else a.heard(e[2] ?? "", false, now);
    }
    a.frame(beepFrames.shift() ?? SILENT, now);
  }
  return { did, record, a };
}

describe("OutboundAnswer, AMD off: the opening waits for the callee", () => {
  test('"Hello?" then a wait: the opening starts 700 ms after the word ended', () => {
    const { did, record } = drive({ amd: "off" }, [["start", 300], ["end", 800]]);
    expect(did).toEqual([["open", 1500]]);
    expect(record.amd).toBeUndefined();
  });
  test("a callee who says nothing: the opening after 1 s of silence (2 s with AMD on: machines start late)", () => {
    expect(drive({ amd: "off" }, []).did).toEqual([["open", 1000]]);
    expect(drive({ amd: "hangup" }, []).did).toEqual([["open", 2000]]);
  });
  test("a long talker (machine, AMD off): the opening at the end of their speech, not over it", () => {
    expect(drive({ amd: "off" }, [["start", 300], ["end", 5000]]).did).toEqual([["open", 5000]]);
  });
  test("speech that never ends: the opening at the hard cap (8 s)", () => {
    expect(drive({ amd: "off" }, [["start", 300]]).did).toEqual([["open", 8000]]);
  });
});

describe("OutboundAnswer, AMD on", () => {
  test("human: classified, then the opening", () => {
    const { did, record } = drive({ amd: "hangup" }, [["start", 300], ["end", 800]]);
    expect(did).toEqual([["open", 1500]]);
    expect(record.amd).toMatchObject({ result: "human", reason: "short_greeting", afterMs: 1500, action: "none", messageLeft: false });
  });
  test("machine + hangup: hang up at the decision", () => {
    const { did, record } = drive({ amd: "hangup" }, [["start", 300], ["end", 9000]]);
    expect(did).toEqual([["hangup", 2700]]);
    expect(record.amd).toMatchObject({ result: "machine", reason: "long_greeting", action: "hangup" });
  });
  test("machine + message: waits for the beep's end, then the message", () => {
    const { did, record, a } = drive({ amd: "message", message: "Hi, call us back." }, [["start", 300], ["end", 9000], ["beep", 9200]]);
    expect(did).toEqual([["message:Hi, call us back.", 9500]]); // 300 ms tone from 9200: reported on the frame after it
    expect(record.amd).toMatchObject({ result: "machine", action: "message", messageAfter: "beep", beepHz: 1000, beepMs: 300, messageLeft: false });
    a.said("something else");
    expect(record.amd!.messageLeft).toBe(false);
    a.said("Hi, call us back.");
    expect(record.amd!.messageLeft).toBe(true);
  });
  test("machine + message, no beep: the message after 2 s of silence", () => {
    const { did, record } = drive({ amd: "message", message: "m" }, [["start", 300], ["end", 9000]]);
    expect(did).toEqual([["message:m", 11_000]]);
    expect(record.amd!.messageAfter).toBe("silence");
  });
  test("machine + message, talking on: the message when the bounded beep wait is over", () => {
    const { did, record } = drive({ amd: "message", message: "m", beepWaitMs: 5000 }, [["start", 300]]);
    expect(did).toEqual([["message:m", 2700 + 5000]]);
    expect(record.amd!.messageAfter).toBe("beep_wait_over");
  });
  test("a beep first (no greeting): machine by beep and the message at once", () => {
    const { did, record } = drive({ amd: "message", message: "m" }, [["beep", 400]]);
    expect(did).toEqual([["message:m", 700]]);
    expect(record.amd).toMatchObject({ result: "machine", reason: "beep", afterMs: 700, messageAfter: "beep" });
  });
  test("many words in the interims: machine before the greeting is long", () => {
    const { did, record } = drive({ amd: "hangup" }, [["start", 300], ["words", 1600, "hello you have reached the voicemail box of"]]);
    expect(did).toEqual([["hangup", 1600]]);
    expect(record.amd!.reason).toBe("many_words");
  });
});
