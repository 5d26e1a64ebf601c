/**
 * bench:load's reading of calls as turns (tests/support/load-turns.ts) on synthetic agent streams: the
 * greeting is not a reply, a reply's wait counts from the utterance (or from the interruption for a
 * reply after it), a reply playing when the caller interrupts and stopping within 1 s is cut, one that
 * plays on is not, and an interruption too close to the stream's end is not judged.
 */
import { describe, expect, test } from "bun:test";
import { BARGE_IN_CUT_MS, readTurns, type CallerTurn } from "../support/load-turns.ts";
import type { CapturedRtpPacket, RtpStream } from "../support/rtp-streams.ts";

/** An agent stream, one frame per 20 ms from t = 0: `audio` lists [startMs, endMs) of its phrases, the rest sent silence. */
function stream(totalMs: number, audio: Array<[number, number]>, dstPort = 5000): RtpStream {
  const pk: CapturedRtpPacket[] = [];
  let prevAudio = false;
  for (let i = 0; i * 20 < totalMs; i++) {
    const t = i * 20;
    const isAudio = audio.some(([a, b]) => t >= a && t < b);
    pk.push({
      marker: isAudio && !prevAudio, payloadType: 0, sequenceNumber: i & 0xffff, extSeq: i, timestamp: i * 160, extTimestamp: i * 160,
      ssrc: 1, csrcs: [], padding: false, extension: undefined, payload: new Uint8Array(160).fill(isAudio ? 0x20 : 0xff), arrivalMs: t,
    });
    prevAudio = isAudio;
  }
  return { ssrc: 1, src: { ip: "127.0.0.1", port: 4000 }, dst: { ip: "127.0.0.1", port: dstPort }, packets: pk, audioPackets: pk, payloadTypes: [0], law: "mulaw", duplicates: 0, lost: 0, reordered: 0, firstArrivalMs: 0, lastArrivalMs: pk[pk.length - 1]!.arrivalMs };
}

describe("readTurns", () => {
  // The caller: utterance ends at 5 s, interrupts at 7.2 s until 8.6 s; again at 16 / 18.2 / 19.6 s.
  const turns: CallerTurn[] = [
    { endMs: 5000, interruptMs: 7200, interruptEndMs: 8600 },
    { endMs: 16000, interruptMs: 18200, interruptEndMs: 19600 },
  ];

  test("greeting, a reply cut by the interruption, the reply to the interruption; the next turn's reply plays on", () => {
    const s = stream(24_000, [
      [500, 3500], // greeting
      [6200, 7400], // reply 1, cut 200 ms after the interruption began
      [9800, 12_600], // the reply to the interruption, 1.2 s after it ended
      [17_200, 20_000], // reply 2 plays on for 1.8 s after the interruption: not cut
    ]);
    const r = readTurns([s], () => turns);
    expect(r.callsWithReply).toBe(1);
    expect(r.replies).toBe(3);
    expect(r.latencies).toEqual([1200, 1200, 1200]);
    expect(r.bargeIn!.interruptions).toBe(2);
    expect(r.bargeIn!.overlapped).toBe(2);
    expect(r.bargeIn!.cuts).toEqual([180]); // its last frame arrives at 7,380 ms
    expect(BARGE_IN_CUT_MS).toBe(1000);
  });

  test("an interruption in silence is not a reply played over; one the BYE follows within 2 s is not judged", () => {
    const late = stream(24_000, [[500, 3500], [8000, 9000]]); // the reply starts after the interruption began
    const r = readTurns([late], () => turns);
    expect(r.bargeIn!.interruptions).toBe(2);
    expect(r.bargeIn!.overlapped).toBe(0);
    const short = stream(19_000, [[500, 3500], [6200, 7400], [17_200, 18_900]]); // the call ends 0.8 s after the second interruption
    expect(readTurns([short], () => turns).bargeIn!.interruptions).toBe(1);
  });

  test("each stream is read against its own caller's turns; callers without interruptions give no barge-in figures", () => {
    const a = stream(10_000, [[500, 3500], [6000, 8000]], 5000);
    const b = stream(10_000, [[500, 3500]], 6000); // only a greeting: no reply
    const r = readTurns([a, b], (s) => (s.dst.port === 5000 ? [{ endMs: 5000 }] : [{ endMs: 4000 }]));
    expect(r.callsWithReply).toBe(1);
    expect(r.latencies).toEqual([1000]);
    expect(r.bargeIn).toBeUndefined();
  });
});
