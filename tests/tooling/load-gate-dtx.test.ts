/**
 * The load gate (tests/support/load-gate.ts, tts-timeline.ts, load-ends.ts) on agent streams sent with
 * RTP_SILENCE_SUPPRESSION=on (src/rtp/silence-suppression.ts): idle ticks are not sent (the timestamp
 * jumps, the sequence number does not), a marked G.711 silence frame goes out every 400 ms. Two replies
 * 3 s apart stay two phrases (the packet count between them is small, the timestamps are not), the
 * first frame after a gap is not a "gap" inside a phrase, and keep-alives are not silence in a phrase —
 * the same verdicts as for the continuous stream of the same call.
 */
import { describe, expect, test } from "bun:test";
import { endFigures } from "../support/load-ends.ts";
import { phrasesOf } from "../support/load-gate.ts";
import type { CapturedRtpPacket } from "../support/rtp-streams.ts";
import { syntheticPacket } from "../support/synthetic-rtp.ts";
import { silenceRunsInPhrases } from "../support/tts-timeline.ts";

/**
 * One 20 ms tick per letter: a = audio, s = a sent silence frame, k = a keep-alive (silence, marker),
 * - = an idle tick not sent. Arrival = the tick's time (+ `late(i)` ms).
 */
function stream(pattern: string, late: (i: number) => number = () => 0): { audioPackets: CapturedRtpPacket[] } {
  const pk: CapturedRtpPacket[] = [];
  let lastWasAudio = false;
  let seq = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "-") {
      lastWasAudio = false;
      continue;
    }
    const audio = c === "a";
    pk.push(syntheticPacket({ tick: i, seq: seq++, marker: (audio && !lastWasAudio) || c === "k", fill: audio ? 0x20 : 0xff, arrivalMs: 1_000_000 + i * 20 + late(i) }));
    lastWasAudio = audio;
  }
  return { audioPackets: pk };
}

/** Idle for `ms`: a keep-alive at the end of each 400 ms (20 ticks). */
const idle = (ms: number) => Array.from({ length: ms / 20 }, (_, i) => (i % 20 === 19 ? "k" : "-")).join("");

describe("load gate on a silence-suppressed stream", () => {
  const call = idle(1000) + "a".repeat(100) + idle(3000) + "a".repeat(50) + idle(2000);
  const continuous = call.replaceAll("-", "s").replaceAll("k", "s");

  test("phrases, underruns and gaps as for the same call sent continuously", () => {
    const dtx = phrasesOf(stream(call));
    const cont = phrasesOf(stream(continuous));
    expect(dtx.phrases.map((p) => p.frames)).toEqual([100, 50]);
    expect(dtx.phrases.map((p) => [p.frames, p.startMs, p.endMs])).toEqual(cont.phrases.map((p) => [p.frames, p.startMs, p.endMs]));
    expect(dtx.underruns).toBe(0);
    expect(dtx.gaps).toEqual(cont.gaps);
    expect(Math.max(...dtx.gaps)).toBe(0);
    expect(silenceRunsInPhrases([stream(call)])).toEqual([]);
  });

  test("a reply 3 s after the last one is not joined to it, and the 3 s are not a gap", () => {
    const s = stream("a".repeat(10) + idle(3000) + "a".repeat(10));
    const r = phrasesOf(s);
    expect(r.phrases.length).toBe(2);
    expect(r.gaps.length).toBe(18);
  });

  test("silence sent inside a reply (an underrun) is still found between talkspurts", () => {
    const r = phrasesOf(stream(idle(400) + "aaaa" + "sss" + "aaaa" + idle(800)));
    expect(r.phrases.length).toBe(1);
    expect(r.underruns).toBe(3);
    expect(silenceRunsInPhrases([stream("aaaa" + "sss" + "aaaa")]).map((x) => x.frames)).toEqual([3]);
  });

  test("a late frame inside a talkspurt is still a gap", () => {
    const r = phrasesOf(stream(idle(400) + "a".repeat(20) + idle(400), (i) => (i === 30 ? 12 : 0)));
    expect(Math.max(...r.gaps)).toBe(12);
  });

  test("hang-up window: another call's idle span is not a gap of the others", () => {
    const other = stream("a".repeat(50) + idle(2000) + "a".repeat(50) + idle(2000));
    const f = endFigures([other], 1_000_000, 1_000_000 + 3000);
    expect(f.others).toBe(1);
    expect(f.gapMaxMs).toBe(0);
  });
});
