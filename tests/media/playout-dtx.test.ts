/**
 * The playout under silence suppression (`silenceSuppression`, RTP_SILENCE_SUPPRESSION=on; src/media/playout.ts):
 * which silence ticks are idle (handed to `sendIdleFrame`: not sent but a keep-alive) and which are still
 * sent as silence frames — an underrun inside a reply and a pause (a barge-in not yet confirmed) are;
 * before, between and after replies the ticks are idle. Off (the default): every tick goes to `sendFrame`.
 */
import { describe, expect, test } from "bun:test";
import { type FrameSink, Playout } from "../../src/media/playout.ts";

const tone = (n: number) => Int16Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 6000 : -6000));

function setup(silenceSuppression: boolean | undefined) {
  const log: string[] = [];
  const sink: FrameSink = {
    sendFrame: (payload, marker) => (log.push(payload[0] === 0xff && payload[1] === 0xff ? "silence" : marker ? "AUDIO" : "audio"), true),
    sendIdleFrame: (payload) => (expect(payload.every((b) => b === 0xff)).toBe(true), log.push("idle"), false),
  };
  const playout = new Playout({ sink, codec: "PCMU", silenceSuppression });
  const ticks = (n: number) => {
    for (let i = 0; i < n; i++) playout.onTick();
  };
  return { playout, log, ticks };
}

describe("Playout with silenceSuppression", () => {
  test("idle before, between and after replies; marker on each talkspurt's first frame", () => {
    const { playout, log, ticks } = setup(true);
    ticks(2);
    playout.push(tone(320));
    playout.flush();
    ticks(4);
    playout.push(tone(160));
    playout.flush();
    ticks(2);
    expect(log).toEqual(["idle", "idle", "AUDIO", "audio", "idle", "idle", "AUDIO", "idle"]);
    expect(playout.idleFrames).toBe(5);
    expect(playout.silenceFrames).toBe(5);
  });

  test("an underrun inside a reply (its segment still open) is sent, not suppressed", () => {
    const { playout, log, ticks } = setup(true);
    playout.push(tone(160)); // the reply's first frame; TTS still speaking (no flush)
    ticks(3);
    playout.push(tone(160));
    playout.flush();
    ticks(2);
    expect(log).toEqual(["AUDIO", "silence", "silence", "AUDIO", "idle"]);
    expect(playout.underruns.tts_late).toBe(2);
    expect(playout.idleFrames).toBe(1);
  });

  test("a pause (barge-in not yet confirmed) sends silence; after a clear (barge-in) the ticks are idle", () => {
    const { playout, log, ticks } = setup(true);
    playout.push(tone(800));
    playout.flush();
    ticks(1);
    playout.pause();
    ticks(2);
    playout.resume();
    ticks(1);
    playout.clearBuffer();
    ticks(2);
    expect(log).toEqual(["AUDIO", "silence", "silence", "AUDIO", "idle", "idle"]);
    expect(playout.underruns.paused).toBe(2);
  });

  test("off (the default): every silence tick is a sent frame, as before", () => {
    for (const opt of [false, undefined]) {
      const { playout, log, ticks } = setup(opt);
      ticks(1);
      playout.push(tone(160));
      playout.flush();
      ticks(2);
      expect(log).toEqual(["silence", "AUDIO", "silence"]);
      expect(playout.idleFrames, "still counted: the share suppression would take").toBe(2);
    }
  });
});
