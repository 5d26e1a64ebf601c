/**
 * Silence suppression on the wire (src/rtp/silence-suppression.ts, RtpSession.sendIdleFrame): idle ticks
 * send nothing but a keep-alive every KEEPALIVE_FRAMES — an RFC 3389 CN packet (PT 13, level byte 127 =
 * −127 dBov) from the first idle tick when CN was negotiated, else a G.711 silence frame with the marker
 * bit at the end of each interval; the timestamp advances 160 per tick through the gap, the sequence
 * number only per packet sent (RFC 3551 §4.1), and the next audio frame carries on from there.
 * Real packets over loopback UDP, parsed by the project's RTP parser.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { RtpPortPool } from "../../src/rtp/port-pool.ts";
import type { RtpSessionOptions } from "../../src/rtp/session.ts";
import { CN_SILENCE_LEVEL, HANGOVER_FRAMES, IdleKeepAlive, KEEPALIVE_FRAMES } from "../../src/rtp/silence-suppression.ts";
import { loopbackSessions, waitFor } from "./helpers.ts";

const { open, closeAll } = loopbackSessions(new RtpPortPool(28200, 28299, "127.0.0.1"));
afterEach(closeAll);

async function setup(extra: Partial<RtpSessionOptions> = {}) {
  const { peer, session } = await open({ initial: { ssrc: 0x01020304, sequenceNumber: 100, timestamp: 1000 }, ...extra });
  return { peer, session };
}

const audio = new Uint8Array(160).fill(0x20);
const silence = new Uint8Array(160).fill(0xff);

describe("IdleKeepAlive", () => {
  test("the stream's first packet goes out at once, whichever the keep-alive", () => {
    for (const cn of [true, false]) {
      const k = new IdleKeepAlive();
      expect(k.idle(cn)).toBe(cn ? "cn" : "frame");
      expect(k.idle(cn)).toBe("skip");
    }
  });

  test("CN on the first idle tick and every KEEPALIVE_FRAMES after; G.711: the hangover, then one at the end of each interval; active() restarts the count", () => {
    const k = new IdleKeepAlive();
    k.active(); // after a talkspurt
    const cn = Array.from({ length: 2 * KEEPALIVE_FRAMES + 1 }, () => k.idle(true));
    expect(cn.flatMap((a, i) => (a === "skip" ? [] : [[i, a]]))).toEqual([[0, "cn"], [KEEPALIVE_FRAMES, "cn"], [2 * KEEPALIVE_FRAMES, "cn"]]);
    k.active();
    const g711 = Array.from({ length: 2 * KEEPALIVE_FRAMES }, () => k.idle(false));
    // Without CN the first idle ticks after audio still carry silence (G.711 Appendix I concealment would
    // otherwise replay the last speech), unmarked; then the keep-alive at the end of each interval.
    expect(HANGOVER_FRAMES).toBe(2);
    expect(g711.flatMap((a, i) => (a === "skip" ? [] : [[i, a]]))).toEqual([[0, "hangover"], [1, "hangover"], [KEEPALIVE_FRAMES - 1, "frame"], [2 * KEEPALIVE_FRAMES - 1, "frame"]]);
    // No hangover after a keep-alive alone (only after audio or an event): a new interval just skips.
    const again = new IdleKeepAlive();
    expect([again.idle(false), again.idle(false), again.idle(false)]).toEqual(["frame", "skip", "skip"]);
    expect(KEEPALIVE_FRAMES * 20, "400 ms between keep-alives").toBe(400);
  });
});

describe("RtpSession.sendIdleFrame", () => {
  test("without CN: two unmarked silence frames after the audio, then nothing but a marked silence frame per interval; timestamps follow the ticks, sequence numbers contiguous", async () => {
    const { peer, session } = await setup();
    session.sendFrame(audio, true); // ts 1000, seq 100
    const idleTicks = 2 * KEEPALIVE_FRAMES + 5;
    let sent = 0;
    for (let i = 0; i < idleTicks; i++) if (session.sendIdleFrame(silence)) sent++;
    session.sendFrame(audio, true); // the next talkspurt
    expect(sent).toBe(4);
    await waitFor(() => peer.got.length === 6);
    await Bun.sleep(20);
    expect(peer.got.map((g) => [g.packet.sequenceNumber, g.packet.timestamp, g.packet.marker, g.packet.payloadType, g.packet.payload.length])).toEqual([
      [100, 1000, true, 0, 160],
      [101, 1160, false, 0, 160], // the hangover: the talkspurt goes on with silence
      [102, 1320, false, 0, 160],
      [103, 1000 + 160 * KEEPALIVE_FRAMES, true, 0, 160], // the 20th idle tick (ticks 1–20 after the audio)
      [104, 1000 + 160 * 2 * KEEPALIVE_FRAMES, true, 0, 160],
      [105, 1000 + 160 * (idleTicks + 1), true, 0, 160], // audio: the timestamp of wall time, seq +1
    ]);
    for (const k of [1, 2, 3]) expect(peer.got[k]!.packet.payload.every((b) => b === 0xff)).toBe(true);
    expect(session.stats.packetsOut, "RTCP's packet count is what went out").toBe(6);
    expect(session.rtcpState.rtpTimestamp, "RTCP SR's timestamp keeps the sampling clock").toBe(1000 + 160 * (idleTicks + 2));
  });

  test("with CN negotiated: a PT 13 packet (level 127 = −127 dBov) at the silence's start and per interval, no marker", async () => {
    const { peer, session } = await setup({ comfortNoise: true });
    session.sendFrame(audio, true);
    for (let i = 0; i < KEEPALIVE_FRAMES + 1; i++) session.sendIdleFrame(silence);
    session.sendFrame(audio, true);
    await waitFor(() => peer.got.length === 4);
    expect(peer.got.map((g) => [g.packet.sequenceNumber, g.packet.timestamp, g.packet.marker, g.packet.payloadType])).toEqual([
      [100, 1000, true, 0],
      [101, 1160, false, 13],
      [102, 1160 + 160 * KEEPALIVE_FRAMES, false, 13],
      [103, 1160 + 160 * (KEEPALIVE_FRAMES + 1), true, 0],
    ]);
    expect([...peer.got[1]!.packet.payload]).toEqual([CN_SILENCE_LEVEL]);
    expect(peer.got[1]!.bytes.length).toBe(13);
  });

  test("a DTMF event or an audio frame between idle ticks starts a new silence period", async () => {
    const { peer, session } = await setup({ comfortNoise: true });
    session.sendIdleFrame(silence); // CN
    session.sendIdleFrame(silence); // skip
    session.sendEvent(new Uint8Array([5, 0x0a, 0, 160]), true, 1320);
    session.sendIdleFrame(silence); // CN again: a new silence period
    await waitFor(() => peer.got.length === 3);
    expect(peer.got.map((g) => g.packet.payloadType)).toEqual([13, 101, 13]);
  });

  test("hold (recvonly): nothing goes out, the timestamp still advances", async () => {
    const { peer, session } = await setup({ comfortNoise: true, direction: "recvonly" });
    for (let i = 0; i < 2 * KEEPALIVE_FRAMES; i++) expect(session.sendIdleFrame(silence)).toBe(false);
    await Bun.sleep(30);
    expect(peer.got).toHaveLength(0);
    expect(session.next.timestamp).toBe(1000 + 160 * 2 * KEEPALIVE_FRAMES);
  });
});
