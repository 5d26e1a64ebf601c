/**
 * RTCP (RFC 3550 §6): SR/RR/SDES bytes, truncated input table, seeded fuzz; RtcpSession sending an SR
 * every 5 s (fake clock) with a report block, and reading the far end's RR into loss, jitter and RTT;
 * reports on the RTCP port taken only from the address the RTP is latched to (real sockets).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { RtpPortPool } from "../../src/rtp/port-pool.ts";
import { RtcpParseError, isRtcp, ntpFromUnixMs, ntpMiddle, parseRtcp, roundTripMs, serializeSrCompound } from "../../src/rtp/rtcp.ts";
import { RtcpSession } from "../../src/rtp/rtcp-session.ts";
import { RtpSession } from "../../src/rtp/session.ts";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { FakeClock } from "../../src/util/clock.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));

// An RR as a softphone sends it: V=2 RC=1 PT=201 length 7, reporter SSRC, one block about 0x11223344:
// 5/256 lost, cumulative 3, ext. highest seq 0x0001_0005, jitter 40, LSR 0xE91A8000, DLSR 0x00010000 (1 s).
const RR = hex("81c9 0007 deadbeef 11223344 05000003 00010005 00000028 e91a8000 00010000");

describe("RTCP codec", () => {
  test("a receiver report from real bytes", () => {
    expect(isRtcp(RR)).toBe(true);
    expect(parseRtcp(RR)).toEqual([
      { type: "rr", ssrc: 0xdeadbeef, reports: [{ ssrc: 0x11223344, fractionLost: 5, cumulativeLost: 3, extendedHighestSeq: 0x10005, jitter: 40, lastSr: 0xe91a8000, delaySinceLastSr: 0x10000 }] },
    ]);
  });

  test("SR + SDES CNAME compound: serialised bytes, parsed back; 24-bit negative cumulative loss", () => {
    const block = { ssrc: 0xabcdef01, fractionLost: 26, cumulativeLost: -2, extendedHighestSeq: 70000, jitter: 12, lastSr: 7, delaySinceLastSr: 9 };
    const bytes = serializeSrCompound({ ssrc: 0x11223344, ntpMsw: 0xe91a0000, ntpLsw: 0x80000000, rtpTimestamp: 1600, packetCount: 10, octetCount: 1600, reports: [block] }, "va@127.0.0.1");
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x81, 200, 0, 12, 0x11, 0x22, 0x33, 0x44]);
    expect(bytes[52]).toBe(0x81); // SDES header after the 52-byte SR
    expect(bytes[53]).toBe(202);
    expect(new TextDecoder().decode(bytes.subarray(62, 62 + bytes[61]))).toBe("va@127.0.0.1");
    expect(bytes.length % 4).toBe(0);
    const [sr] = parseRtcp(bytes);
    expect(sr).toEqual({ type: "sr", ssrc: 0x11223344, ntpMsw: 0xe91a0000, ntpLsw: 0x80000000, rtpTimestamp: 1600, packetCount: 10, octetCount: 1600, reports: [block] });
  });

  test("truncated and malformed input: the exact error", () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ["version 1", hex("41c90001 deadbeef"), /version 1/],
      ["length past the end", RR.subarray(0, 20), /runs past 20/],
      ["RC says 2 blocks in a 1-block packet", Uint8Array.from([0x82, ...RR.subarray(1)]), /needs 56 bytes, has 32/],
    ];
    for (const [name, bytes, err] of cases) expect(() => parseRtcp(bytes), name).toThrow(err);
    expect(() => parseRtcp(RR.subarray(0, 20))).toThrow(RtcpParseError);
  });

  test("seeded fuzz: mutations throw only RtcpParseError", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const base = serializeSrCompound({ ssrc: 1, ntpMsw: 2, ntpLsw: 3, rtpTimestamp: 4, packetCount: 5, octetCount: 6, reports: [{ ssrc: 7, fractionLost: 0, cumulativeLost: 0, extendedHighestSeq: 1, jitter: 0, lastSr: 0, delaySinceLastSr: 0 }] }, "x");
    for (let i = 0; i < 2000; i++) {
      const b = base.slice(0, Math.floor(rnd() * (base.length + 1)));
      for (let k = 0; k < 3; k++) if (b.length) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      try {
        parseRtcp(b);
      } catch (e) {
        expect(e).toBeInstanceOf(RtcpParseError);
      }
    }
  });

  test("RTT = A − LSR − DLSR in 1/65536 s", () => {
    const sentAt = 1_796_000_000_000;
    const t = ntpFromUnixMs(sentAt);
    const lsr = ntpMiddle(t.msw, t.lsw);
    // The far end held our SR 1 s, and its report reached us 1.080 s after we sent the SR: RTT 80 ms.
    const rtt = roundTripMs({ ssrc: 1, fractionLost: 0, cumulativeLost: 0, extendedHighestSeq: 0, jitter: 0, lastSr: lsr, delaySinceLastSr: 65536 }, sentAt + 1080)!;
    expect(Math.abs(rtt - 80)).toBeLessThan(0.1);
  });
});

describe("RtcpSession", () => {
  const pool = new RtpPortPool(27400, 27499, "127.0.0.1");
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    while (cleanup.length) cleanup.pop()!();
  });

  test("an SR every 5 s to the far end's RTP port + 1, with a report block on its stream; its RR gives loss, jitter, RTT", async () => {
    const clock = new FakeClock(0);
    let wall = 1_796_000_000_000;
    const got: Uint8Array[] = [];
    const farRtcp = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array", socket: { data: (_s, d) => void got.push(d.slice()) } });
    cleanup.push(() => farRtcp.close());
    const lease = await pool.allocate();
    const rtp = new RtpSession({ lease, remote: { address: "127.0.0.1", port: farRtcp.port - 1 }, codec: "PCMU", payloadType: 0, clock, initial: { ssrc: 0x11223344 } });
    cleanup.push(() => rtp.close());
    const rtcp = await RtcpSession.open({ host: "127.0.0.1", port: lease.port + 1, rtp, clock, wallClock: () => wall, cname: "va@test" });
    cleanup.push(() => rtcp.close());
    // The far end's stream: 10 packets with 2 missing.
    for (const seq of [1, 2, 3, 4, 5, 6, 7, 8, 11, 12]) {
      rtp.receive(serializeRtp({ marker: false, payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0xabcdef01, payload: new Uint8Array(160) }), farRtcp.port - 1, "127.0.0.1");
    }
    rtp.sendFrame(new Uint8Array(160).fill(0xff), false);
    rtcp.start();
    clock.advance(4999);
    await Bun.sleep(30);
    expect(got).toHaveLength(0);
    clock.advance(1);
    clock.advance(5000);
    for (let i = 0; i < 50 && got.length < 2; i++) await Bun.sleep(10);
    expect(got).toHaveLength(2);
    const [sr] = parseRtcp(got[0]!);
    expect(sr).toMatchObject({ type: "sr", ssrc: 0x11223344, packetCount: 1, octetCount: 160 });
    expect(sr!.reports[0]).toMatchObject({ ssrc: 0xabcdef01, cumulativeLost: 2, extendedHighestSeq: 12, fractionLost: Math.floor((2 * 256) / 12) });
    // The far end answers with an RR about our stream, 20 ms after our first SR, having held it 10 ms.
    const first = sr as Extract<typeof sr, { type: "sr" }>;
    wall += 20;
    const rr = hex(`81c90007 abcdef01 11223344 0a000001 00000001 00000050 ${ntpMiddle(first.ntpMsw, first.ntpLsw).toString(16).padStart(8, "0")} ${(655).toString(16).padStart(8, "0")}`);
    rtcp.receive(rr);
    expect(rtcp.peer!.fractionLost).toBeCloseTo(10 / 256, 5);
    expect(rtcp.peer!.cumulativeLost).toBe(1);
    expect(rtcp.peer!.jitterMs).toBe(10);
    expect(Math.abs(rtcp.peer!.rttMs! - 10)).toBeLessThan(0.5);
  });

  test("the RTCP port reads reports only from the address our RTP is latched to (any port); a stranger's forged RR is dropped unread", async () => {
    const clock = new FakeClock(0);
    const far = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array" }); // the caller's RTCP socket
    const stranger = await Bun.udpSocket({ hostname: "127.0.0.66", port: 0, binaryType: "uint8array" });
    cleanup.push(() => far.close(), () => stranger.close());
    const lease = await pool.allocate();
    const rtp = new RtpSession({ lease, remote: { address: "127.0.0.1", port: far.port - 1 }, codec: "PCMU", payloadType: 0, clock, initial: { ssrc: 0x11223344 } });
    cleanup.push(() => rtp.close());
    const rtcp = await RtcpSession.open({ host: "127.0.0.1", port: lease.port + 1, rtp, clock, cname: "va@test" });
    cleanup.push(() => rtcp.close());
    const forged = hex("81c90007 66666666 11223344 ff7fffff 00000001 0000ffff 00000000 00000000"); // all lost, jitter 8 s
    const real = hex("81c90007 abcdef01 11223344 0a000001 00000001 00000050 00000000 00000000");
    const settle = async (n: number) => {
      for (let i = 0; i < 100 && rtcp.reportsIn + rtcp.ignoredSourceIn < n; i++) await Bun.sleep(10);
    };
    far.send(real, lease.port + 1, "127.0.0.1"); // before any RTP came: nothing is latched yet
    await settle(1);
    expect([rtcp.reportsIn, rtcp.ignoredSourceIn]).toEqual([0, 1]);
    rtp.receive(serializeRtp({ marker: false, payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 0xabcdef01, payload: new Uint8Array(160) }), far.port - 1, "127.0.0.1");
    expect(rtp.latched).toBe(true);
    stranger.send(forged, lease.port + 1, "127.0.0.1");
    await settle(2);
    expect([rtcp.reportsIn, rtcp.ignoredSourceIn, rtcp.peer]).toEqual([0, 2, undefined]);
    far.send(real, lease.port + 1, "127.0.0.1"); // from the latched address (its RTCP port, not its RTP port)
    await settle(3);
    expect([rtcp.reportsIn, rtcp.ignoredSourceIn]).toEqual([1, 2]);
    expect(rtcp.peer).toMatchObject({ fractionLost: 10 / 256, cumulativeLost: 1, jitterMs: 10 });
    stranger.send(forged, lease.port + 1, "127.0.0.1"); // a later forgery does not overwrite it either
    await settle(4);
    expect([rtcp.reportsIn, rtcp.ignoredSourceIn]).toEqual([1, 3]);
    expect(rtcp.peer).toMatchObject({ cumulativeLost: 1, jitterMs: 10 });
  });

  test("rtcp-mux (RFC 5761 §4): SRs leave from the RTP port to the far end's RTP port; its RR on our RTP port is demultiplexed to RTCP, not audio", async () => {
    const clock = new FakeClock(0);
    const got: Uint8Array[] = [];
    const far = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array", socket: { data: (_s, d) => void got.push(d.slice()) } });
    cleanup.push(() => far.close());
    const lease = await pool.allocate();
    const audio: unknown[] = [];
    const rtp = new RtpSession({ lease, remote: { address: "127.0.0.1", port: far.port }, codec: "PCMU", payloadType: 0, clock, onAudio: (f) => audio.push(f), initial: { ssrc: 0x11223344 } });
    cleanup.push(() => rtp.close());
    const rtcp = RtcpSession.muxed({ rtp, clock, cname: "va@test" });
    cleanup.push(() => rtcp.close());
    const rr = hex(`81c90007 abcdef01 11223344 0a000001 00000001 00000050 00000000 00000000`);
    rtp.receive(rr, far.port, "127.0.0.1"); // before any RTP: not latched, not from where we send yet
    expect(rtcp.reportsIn).toBe(0);
    rtp.receive(serializeRtp({ marker: false, payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 0xabcdef01, payload: new Uint8Array(160) }), far.port, "127.0.0.1");
    rtp.receive(rr, far.port + 2, "127.0.0.1"); // another source port: dropped
    expect([rtcp.reportsIn, rtp.stats.ignoredSourceIn]).toEqual([0, 2]);
    rtp.receive(rr, far.port, "127.0.0.1");
    expect(rtcp.reportsIn).toBe(1);
    expect(rtcp.peer).toMatchObject({ cumulativeLost: 1, jitterMs: 10 });
    expect([audio.length, rtp.stats.packetsIn, rtp.stats.ignoredPayloadIn]).toEqual([1, 1, 0]);
    rtcp.start();
    clock.advance(5000);
    for (let i = 0; i < 50 && got.length < 1; i++) await Bun.sleep(10);
    expect(got).toHaveLength(1); // to the RTP port (the far socket), not port + 1
    expect(parseRtcp(got[0]!)[0]).toMatchObject({ type: "sr", ssrc: 0x11223344 });
    rtcp.close();
    expect(rtp.onRtcp).toBeUndefined();
  });
});
