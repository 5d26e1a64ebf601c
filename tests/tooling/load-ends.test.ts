/**
 * What calls ending cost the others (tests/support/load-ends.ts) on synthetic agent streams: which streams
 * ended inside the window and over how long, which went on past it, the others' frame gaps inside the
 * window only (silence frames included, lost frames not paired), and the agent's longest logged loop
 * turn inside the window. Also inbound-call-wave.xml against the stand-in UAS: calls set up 200 ms apart
 * send their BYEs together at the wall-clock time given, or `step_ms` apart.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { endFigures } from "../support/load-ends.ts";
import type { CapturedRtpPacket } from "../support/rtp-streams.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { missingTools, stopAllManaged } from "../support/process.ts";
import { StandinUas } from "./standin-uas.ts";

afterAll(() => stopAllManaged());

/** Frames every 20 ms from `fromMs` to `toMs` (epoch-like ms), with `late` ms added to the arrival of frame `lateAt`. */
function stream(fromMs: number, toMs: number, o: { lateAt?: number; late?: number; lose?: number } = {}): { audioPackets: CapturedRtpPacket[] } {
  const pk: CapturedRtpPacket[] = [];
  let delay = 0;
  for (let i = 0, t = fromMs; t <= toMs; i++, t += 20) {
    if (i === o.lateAt) delay = o.late ?? 0;
    if (i === o.lose) continue;
    pk.push({ marker: false, payloadType: 0, sequenceNumber: i & 0xffff, extSeq: i, timestamp: i * 160, extTimestamp: i * 160, ssrc: 1, csrcs: [], padding: false, extension: undefined, payload: new Uint8Array(160).fill(0xff), arrivalMs: t + delay });
  }
  return { audioPackets: pk };
}

const T = 1_800_000_000_000;

describe("endFigures", () => {
  test("ended inside the window, others past it; the others' gaps inside the window only; the longest logged turn", () => {
    const streams = [
      stream(T, T + 10_000), // ends at the window's start
      stream(T, T + 10_040), // ends 40 ms later
      stream(T, T + 20_000, { lateAt: 250, late: 30 }), // frame 250 (T+5000) late by 30 ms: outside the window
      stream(T, T + 20_000, { lateAt: 502, late: 45 }), // T+10,040 late by 45: inside, and after it every frame 45 ms later
      stream(T, T + 20_000, { lose: 505 }), // a lost frame inside: not paired
      stream(T + 10_500, T + 20_000), // began inside the window: not an other
      stream(T, T + 12_100), // ended after the window, but not OTHERS_PAST_MS after it: neither
    ];
    const logs = [
      { time: new Date(T + 9_000).toISOString(), msg: "event loop turn long", lateMs: 80 }, // before the window
      { time: new Date(T + 10_050).toISOString(), msg: "event loop turn long", lateMs: 44.5 },
      { time: new Date(T + 10_060).toISOString(), msg: "pacer tick late", lateMs: 60 }, // not a turn
      { time: new Date(T + 10_100).toISOString(), msg: "event loop turn long", lateMs: 12 },
    ];
    const f = endFigures(streams, T + 10_000, T + 12_000, logs);
    expect(f.ended).toBe(2);
    expect(f.endedOverMs).toBe(40);
    expect(f.others).toBe(3);
    expect(f.gapMaxMs).toBe(45);
    expect(f.gapP99Ms).toBe(0); // one late frame among ~300 gaps
    expect(f.turnMaxMs).toBe(44.5);
    expect(endFigures(streams, T + 4_900, T + 5_100).gapMaxMs).toBe(30);
  });

  test("no ends, no turns logged: zeros, turnMaxMs absent", () => {
    const f = endFigures([stream(T, T + 20_000)], T + 1000, T + 2000);
    expect(f).toEqual({ ended: 0, endedOverMs: 0, others: 1, gapP99Ms: 0, gapMaxMs: 0 });
  });
});

describe.skipIf(missingTools(["sipp"]).length > 0)("inbound-call-wave.xml", () => {
  let uas: StandinUas | undefined;
  afterAll(() => uas?.stop());

  /** Four calls 200 ms apart; @returns when each BYE went out (ms, epoch), in call order. */
  async function byes(atMs: number, stepMs: number): Promise<number[]> {
    uas ??= await new StandinUas({}).start();
    const r = await runSipp({ scenario: "inbound-call-wave", target: `127.0.0.1:${uas.sipPort}`, audioFile: silenceFile(1), timeoutMs: 15_000, extraArgs: ["-m", "4", "-l", "4", "-r", "5", "-set", "hangup_at", String(atMs), "-set", "step_ms", String(stepMs)] });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const sent = r.messages.filter((m) => m.direction === "sent" && m.method === "BYE").map((m) => Date.parse(m.time.replace(" ", "T") + "Z"));
    expect(sent.length).toBe(4);
    return sent;
  }

  test("every call's BYE at hangup_at, whenever it was set up; step_ms apart with a step", async () => {
    const at = Date.now() + 1500; // the calls start 0, 200, 400, 600 ms from now
    const together = await byes(at, 0);
    for (const t of together) expect(Math.abs(t - at)).toBeLessThan(150);
    const at2 = Date.now() + 1500;
    const stepped = (await byes(at2, 100)).sort((x, y) => x - y);
    stepped.forEach((t, k) => expect(Math.abs(t - (at2 + 100 * k))).toBeLessThan(150));
    // A call set up after its time sends its BYE at once.
    const late = await byes(Date.now() - 5000, 0);
    expect(late.length).toBe(4);
  }, 40_000);
});
