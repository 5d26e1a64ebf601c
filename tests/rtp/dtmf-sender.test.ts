import { describe, expect, test } from "bun:test";
import { DtmfSender } from "../../src/rtp/dtmf-sender.ts";
import { parseTelephoneEvent } from "../../src/rtp/dtmf.ts";

/** An RtpSession stand-in recording what the sender hands it, with a timestamp advancing 160 per tick. */
function sink() {
  const sent: Array<{ marker: boolean; ts: number; event: number; end: boolean; duration: number; tick: number }> = [];
  let tick = 0;
  const s = {
    next: { timestamp: 1000 },
    sendEvent(payload: Uint8Array, marker: boolean, ts: number, samples = 160) {
      s.next.timestamp += samples;
      sent.push({ marker, ts, tick, ...parseTelephoneEvent(payload) });
      return true;
    },
    audio() {
      s.next.timestamp += 160;
    },
  };
  return { s, sent, step: (d: DtmfSender) => (tick++, d.tick() || s.audio()) };
}

describe("DtmfSender (RFC 4733 §2.5.1)", () => {
  test("each key: marker on the first packet, growing duration, end packet ×3, one start timestamp", () => {
    const { s, sent, step } = sink();
    const d = new DtmfSender(s, { toneMs: 160, gapMs: 100 });
    d.send("1#");
    let ticks = 0;
    while (d.active && ticks < 100) (step(d), ticks++);
    const one = sent.filter((p) => p.event === 1);
    const pound = sent.filter((p) => p.event === 11);
    for (const ev of [one, pound]) {
      expect(ev.map((p) => p.duration)).toEqual([160, 320, 480, 640, 800, 960, 1120, 1280, 1280, 1280]);
      expect(ev.map((p) => p.end)).toEqual([false, false, false, false, false, false, false, true, true, true]);
      expect(ev.map((p) => p.marker)).toEqual([true, ...Array(9).fill(false)]);
      expect(new Set(ev.map((p) => p.ts)).size).toBe(1);
    }
    expect(one[0]!.ts).toBe(1000);
    // 10 event ticks, 5 gap ticks of audio, then '#' starts at the sampling clock of its tick
    expect(pound[0]!.ts).toBe(1000 + 15 * 160);
    expect(pound[0]!.tick - one[9]!.tick).toBe(6);
  });
  test("rejects what is not a key, queues nothing then", () => {
    const { s } = sink();
    const d = new DtmfSender(s);
    expect(() => d.send("12x")).toThrow(RangeError);
    expect(d.active).toBe(false);
  });
});
