/**
 * Playout underruns (src/media/playout-underruns.ts): silence frames sent inside a reply, by cause, and
 * none for the silence before a reply starts or after it ended.
 */
import { describe, expect, test } from "bun:test";
import { Playout } from "../../src/media/playout.ts";
import { playoutUnderrunTotals } from "../../src/media/playout-underruns.ts";
import { AfterIoPoll } from "../../src/util/after-io-poll.ts";

const tone = (n: number) => Int16Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 6000 : -6000));

function playout(holdFrames = 0) {
  const sent: string[] = [];
  const p = new Playout({
    sink: { sendFrame: (payload) => (sent.push(payload.every((b) => b === 0xff) ? "s" : "a"), true) },
    codec: "PCMU",
    holdFrames,
    holdGate: new AfterIoPoll((fn) => fn()), // a lapse is judged at once (no socket to poll)
  });
  return { p, sent, ticks: (n: number) => { for (let i = 0; i < n; i++) p.onTick(); } };
}

describe("playout underruns", () => {
  test("tts_late: the reply's segment is open and nothing is queued; not before it starts, not after its flush", () => {
    const before = { ...playoutUnderrunTotals };
    const { p, sent, ticks } = playout();
    ticks(3); // idle: no reply
    p.push(tone(320)); // two frames of a reply still arriving
    ticks(4); // a, a, then two silence frames inside it
    p.push(tone(160));
    p.flush();
    ticks(3); // a, then the reply is over: silence that is not inside it
    expect(sent.join("")).toBe("sss" + "aass" + "ass");
    expect(p.underruns).toEqual({ tts_late: 2, paused: 0 });
    expect(playoutUnderrunTotals.tts_late - before.tts_late).toBe(2);
  });

  test("with a hold, a late chunk that comes within it is no underrun; past it, the owed ticks are", () => {
    const { p, sent, ticks } = playout(2);
    p.push(tone(160));
    ticks(3); // a, then two ticks held (nothing sent)
    p.push(tone(320)); // comes within the hold: the two owed frames go out now, late
    expect(sent.join("")).toBe("aaa");
    ticks(4); // a... the queue is empty again: held, held, then the lapse sends the owed ticks as silence
    expect(p.underruns.tts_late).toBeGreaterThan(0);
    expect(p.underruns.tts_late).toBe(sent.filter((x) => x === "s").length);
  });

  test("paused: silence while a barge-in pause holds a reply; none once it was cut", () => {
    const { p, sent, ticks } = playout();
    p.push(tone(800));
    ticks(2);
    p.pause();
    ticks(3);
    p.resume();
    ticks(1);
    p.clearBuffer(); // cut: what follows is not inside a reply
    ticks(2);
    expect(sent.join("")).toBe("aa" + "sss" + "a" + "ss");
    expect(p.underruns).toEqual({ tts_late: 0, paused: 3 });
  });
});
