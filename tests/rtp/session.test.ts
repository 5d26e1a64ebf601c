import { afterEach, describe, expect, test } from "bun:test";
import { decodeFrame, encodeFrame } from "../../src/media/g711.ts";
import type { AudioFrame } from "../../src/providers/types.ts";
import { serializeTelephoneEvent } from "../../src/rtp/dtmf.ts";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { QUIET_CLOSE_MS } from "../../src/rtp/dtmf-receiver.ts";
import { RtpPortPool } from "../../src/rtp/port-pool.ts";
import { type DtmfEvent, RtpSession, type RtpSessionOptions } from "../../src/rtp/session.ts";
import { FakeClock } from "../../src/util/clock.ts";
import { DTMF_5, DTMF_POUND, toHex } from "./fixtures.ts";
import { loopbackSessions, rtpReceiver, waitFor } from "./helpers.ts";

const pool = new RtpPortPool(26800, 26999, "127.0.0.1");
const { open, cleanup, closeAll } = loopbackSessions(pool);
afterEach(closeAll);

async function setup(extra: Partial<RtpSessionOptions> = {}) {
  const audio: AudioFrame[] = [];
  const dtmf: DtmfEvent[] = [];
  const clock = new FakeClock(0);
  const { peer, lease, session } = await open({
    clock,
    onAudio: (f) => audio.push(f),
    onDtmf: (e) => dtmf.push(e),
    initial: { ssrc: 0x11223344, sequenceNumber: 65534, timestamp: 0xffffff00 },
    ...extra,
  });
  return { peer, lease, session, audio, dtmf, clock };
}

/** An RTP packet as a peer would send it. */
function pkt(seq: number, ts: number, payload: Uint8Array, pt = 0, ssrc = 0xabcdef01, marker = false): Uint8Array {
  return serializeRtp({ marker, payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc, payload });
}

const tone = (n: number, amp = 8000) => Int16Array.from({ length: n }, (_, i) => Math.round(amp * Math.sin(i / 3)));

describe("RtpSession sending", () => {
  test("seq +1 and timestamp +160 per frame from the initial values, wrapping at 16/32 bits", async () => {
    const { peer, session } = await setup();
    const frame = new Uint8Array(160).fill(0xff);
    expect(session.sendFrame(frame, true)).toBe(true);
    session.sendFrame(frame, false);
    session.sendFrame(frame, false);
    await waitFor(() => peer.got.length === 3);
    expect(peer.got.map((g) => [g.packet.sequenceNumber, g.packet.timestamp, g.packet.marker, g.packet.payloadType, g.packet.ssrc])).toEqual([
      [65534, 0xffffff00, true, 0, 0x11223344],
      [65535, 0xffffffa0, false, 0, 0x11223344],
      [0, 0x40, false, 0, 0x11223344],
    ]);
    expect(peer.got[0].bytes.length).toBe(172);
    expect(session.stats.packetsOut).toBe(3);
    expect(session.stats.bytesOut).toBe(3 * 172);
    expect(session.next).toEqual({ sequenceNumber: 1, timestamp: 0xe0 });
  });

  test("random initial SSRC/seq/timestamp differ between sessions", async () => {
    const a = await setup({ initial: undefined });
    const b = await setup({ initial: undefined });
    expect(a.session.ssrc).not.toBe(b.session.ssrc);
    expect([a.session.next.sequenceNumber, a.session.next.timestamp]).not.toEqual([b.session.next.sequenceNumber, b.session.next.timestamp]);
  });

  test("recvonly/inactive: nothing is sent but the timestamp keeps advancing", async () => {
    const { peer, session } = await setup({ direction: "recvonly" });
    expect(session.sendFrame(new Uint8Array(160), true)).toBe(false);
    expect(session.next).toEqual({ sequenceNumber: 65534, timestamp: 0xffffffa0 });
    session.direction = "sendrecv";
    session.sendFrame(new Uint8Array(160), true);
    await waitFor(() => peer.got.length === 1);
    expect(peer.got[0].packet.timestamp).toBe(0xffffffa0);
    expect(peer.got[0].packet.sequenceNumber).toBe(65534);
  });

  test("hold address 0.0.0.0 is not sent to; close() stops sending and releases the port", async () => {
    const { session } = await setup({ remote: { address: "0.0.0.0", port: 4000 } });
    expect(session.sendFrame(new Uint8Array(160), false)).toBe(false);
    const inUse = pool.inUse;
    session.close();
    session.close();
    expect(pool.inUse).toBe(inUse - 1);
    expect(session.sendFrame(new Uint8Array(160), false)).toBe(false);
    expect(session.isClosed).toBe(true);
  });
});

describe("RtpSession socket errors", () => {
  test("ICMP port unreachable for our sends is counted, not thrown (the peer hung up)", async () => {
    const gone = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const deadPort = gone.port;
    gone.close();
    const { session } = await setup({ remote: { address: "127.0.0.1", port: deadPort } });
    await waitFor(() => {
      session.sendFrame(new Uint8Array(160), false);
      return session.stats.socketErrors > 0;
    });
    expect(session.stats.socketErrors).toBeGreaterThan(0);
  });
});

describe("RtpSession symmetric RTP over loopback", () => {
  test("sends to the SDP address, latches to the caller's source; a second source takes over only after 500 ms of silence", async () => {
    const sdpTarget = await rtpReceiver(); // what the SDP said
    cleanup.push(() => sdpTarget.socket.close());
    const { peer: caller, session, lease, audio, clock } = await setup({ remote: { address: "127.0.0.1", port: sdpTarget.port } });
    const frame = new Uint8Array(160).fill(0xff);
    session.sendFrame(frame, true);
    await waitFor(() => sdpTarget.got.length === 1);
    expect(session.latched).toBe(false);

    // The caller's media arrives from another port: latch there.
    caller.socket.send(pkt(1, 0, encodeFrame(tone(160), "PCMU")), lease.port, "127.0.0.1");
    await waitFor(() => audio.length === 1);
    expect(session.latched).toBe(true);
    expect(session.remote).toEqual({ address: "127.0.0.1", port: caller.port });
    session.sendFrame(frame, false);
    await waitFor(() => caller.got.length === 1);
    expect(sdpTarget.got.length).toBe(1);

    // A third source bursts 20 packets while the caller is live (499 ms since its last packet): all dropped.
    const mover = await rtpReceiver();
    cleanup.push(() => mover.socket.close());
    clock.advance(499);
    for (let i = 0; i < 20; i++) mover.socket.send(pkt(2 + i, 160 * (1 + i), frame), lease.port, "127.0.0.1");
    await waitFor(() => session.stats.ignoredSourceIn === 20);
    expect(session.stats.relatches).toBe(0);
    expect(audio.length).toBe(1);
    // The caller has now been silent for 500 ms: the next packet of the new source moves the latch.
    clock.advance(1);
    mover.socket.send(pkt(30, 160 * 30, frame), lease.port, "127.0.0.1");
    await waitFor(() => session.stats.relatches === 1);
    expect(audio.length).toBe(2); // the packet that moved the latch is used
    session.sendFrame(frame, false);
    await waitFor(() => mover.got.length === 1);
    expect(caller.got.length).toBe(1);
  });
});

describe("RtpSession receiving", () => {
  const FROM = ["127.0.0.1", 5000] as const;

  test("audio is decoded into 160-sample AudioFrames with the raw payload", async () => {
    const { session, audio } = await setup();
    const payload = encodeFrame(tone(160), "PCMU");
    session.receive(pkt(100, 8000, payload), FROM[1], FROM[0]);
    expect(audio.length).toBe(1);
    expect(audio[0].codec).toBe("PCMU");
    expect(toHex(audio[0].payload)).toBe(toHex(payload));
    expect(Array.from(audio[0].pcm)).toEqual(Array.from(decodeFrame(payload, "PCMU")));
    expect(session.stats.packetsIn).toBe(1);
    expect(session.stats.bytesIn).toBe(172);
  });

  test("PCMA session decodes A-law", async () => {
    const { session, audio } = await setup({ codec: "PCMA", payloadType: 8 });
    const payload = encodeFrame(tone(160), "PCMA");
    session.receive(pkt(1, 0, payload, 8), FROM[1], FROM[0]);
    expect(audio[0].codec).toBe("PCMA");
    expect(Array.from(audio[0].pcm)).toEqual(Array.from(decodeFrame(payload, "PCMA")));
  });

  test("10 ms packets are joined into 20 ms frames; a gap drops the partial frame", async () => {
    const { session, audio } = await setup();
    const half = (v: number) => new Uint8Array(80).fill(v);
    session.receive(pkt(1, 0, half(1)), FROM[1], FROM[0]);
    expect(audio.length).toBe(0);
    session.receive(pkt(2, 80, half(2)), FROM[1], FROM[0]);
    expect(audio.length).toBe(1);
    expect(audio[0].payload.slice(78, 82)).toEqual(new Uint8Array([1, 1, 2, 2]));
    session.receive(pkt(3, 160, half(3)), FROM[1], FROM[0]);
    session.receive(pkt(5, 320, half(5)), FROM[1], FROM[0]); // 4 lost: half(3) is dropped
    session.receive(pkt(6, 400, half(6)), FROM[1], FROM[0]);
    expect(audio.length).toBe(2);
    expect(audio[1].payload[0]).toBe(5);
    expect(session.stats.lost).toBe(1);
  });

  test("loss from sequence gaps across the wrap; duplicates are dropped", async () => {
    const { session, audio } = await setup();
    const f = new Uint8Array(160).fill(0xff);
    for (const s of [65533, 65534, 0, 1, 1, 4]) session.receive(pkt(s, s * 160, f), FROM[1], FROM[0]);
    expect(session.stats.expected).toBe(8); // 65533 … 65540
    // A.3: 65535, 2 and 3 are missing, but the duplicate counts as received: 8 - 6 = 2.
    expect(session.stats.lost).toBe(2);
    expect(session.stats.lateIn).toBe(1);
    expect(audio.length).toBe(5);
  });

  test("jitter from FakeClock arrival times (RFC 3550 A.8)", async () => {
    const { session, clock } = await setup();
    const f = new Uint8Array(160).fill(0xff);
    // Arrivals at 0, 25, 40, 60 ms for timestamps 0, 160, 320, 480: D = 40, -40, 0 (timestamp units)
    const at = [0, 25, 40, 60];
    at.forEach((t, i) => {
      clock.advance(t - clock.now());
      session.receive(pkt(10 + i, i * 160, f), FROM[1], FROM[0]);
    });
    expect(session.stats.jitterMs).toBeCloseTo(4.541015625 / 8, 9);
  });

  test("jitter from the arrival times a receive batch carries (media worker), not from when the batch is handled", async () => {
    const { session, clock } = await setup();
    const f = new Uint8Array(160).fill(0xff);
    // The same arrivals as above (0, 25, 40, 60 ms), all handled at once 70 ms later: the jitter is theirs.
    clock.advance(70);
    [0, 25, 40, 60].forEach((t, i) => session.receive(pkt(10 + i, i * 160, f), FROM[1], FROM[0], t));
    expect(session.stats.jitterMs).toBeCloseTo(4.541015625 / 8, 9);
  });

  test("receivedAt: onAudio sees its datagram's arrival time (the receive path's reading, else one clock read)", async () => {
    const seen: number[] = [];
    const clock = new FakeClock(500);
    let reads = 0;
    const counting = { now: () => (reads++, clock.now()), setTimer: clock.setTimer.bind(clock), clearTimer: clock.clearTimer.bind(clock) };
    const s = await setup({ clock: counting, onAudio: () => void seen.push(s.session.receivedAt) });
    const f = new Uint8Array(160).fill(0xff);
    const base = reads;
    s.session.receive(pkt(10, 0, f), FROM[1], FROM[0], 480); // arrival time given: no clock read
    expect(reads).toBe(base);
    s.session.receive(pkt(11, 160, f), FROM[1], FROM[0]); // none given: one read
    expect(reads).toBe(base + 1);
    expect(seen).toEqual([480, 500]);
  });

  test("unknown payload types, malformed packets and comfort noise are not audio", async () => {
    const { session, audio } = await setup();
    session.receive(pkt(1, 0, new Uint8Array(20), 18), FROM[1], FROM[0]); // G.729: not negotiated
    session.receive(new Uint8Array([1, 2, 3]), FROM[1], FROM[0]);
    session.receive(pkt(2, 0, new Uint8Array([0x40]), 13), FROM[1], FROM[0]); // CN (RFC 3389)
    expect(audio.length).toBe(0);
    expect(session.stats.ignoredPayloadIn).toBe(1);
    expect(session.stats.malformedIn).toBe(1);
    expect(session.stats.comfortNoiseIn).toBe(1);
    // The unknown PT did not latch; CN did (it is an expected payload type).
    expect(session.remote).toEqual({ address: FROM[0], port: FROM[1] });
  });

  test("a datagram over 1,500 bytes is dropped unparsed, whatever it holds; 1,500 bytes still pass", async () => {
    const { rtpDropTotals } = await import("../../src/rtp/drop-counters.ts");
    const { session, audio } = await setup();
    const before = rtpDropTotals.oversize;
    session.receive(pkt(1, 0, new Uint8Array(60_000).fill(0xff)), FROM[1], FROM[0]); // would be 375 frames
    session.receive(new Uint8Array(1501), FROM[1], FROM[0]);
    expect(audio.length).toBe(0);
    expect(session.stats.oversizeIn).toBe(2);
    expect(session.stats.packetsIn).toBe(0);
    expect(session.latched).toBe(false); // an oversize packet never latches
    expect(rtpDropTotals.oversize - before).toBe(2);
    session.receive(pkt(2, 0, new Uint8Array(1500 - 12).fill(0xff)), FROM[1], FROM[0]);
    expect(audio.length).toBe(9); // 1,488 bytes = 9 whole 160-byte frames
  });

  test("a flood of valid packets from the accepted source: a burst of 250, then 150 per second, the rest dropped as 'rate'", async () => {
    // Before: 4,000 packets in 0.3 s were all decoded and analysed on the calls' thread (every call's audio paused 1–3 s).
    const { rtpDropTotals } = await import("../../src/rtp/drop-counters.ts");
    const { session, audio, clock } = await setup();
    const f = new Uint8Array(160).fill(0xff);
    const before = rtpDropTotals.rate;
    let seq = 1;
    for (let i = 0; i < 4000; i++, seq++) session.receive(pkt(seq, seq * 160, f), FROM[1], FROM[0]);
    expect(audio.length).toBe(250);
    expect(session.stats.rateLimitedIn).toBe(3750);
    expect(rtpDropTotals.rate - before).toBe(3750);
    // Refilled in 500 ms: 75 packets at 150 per second, but 6,000 samples at 12,000 per second (the audio
    // rate, 1.5× real time): 37 frames of 160 — the audio rate binds (never above either burst).
    clock.advance(500);
    for (let i = 0; i < 400; i++, seq++) session.receive(pkt(seq, seq * 160, f), FROM[1], FROM[0]);
    expect(session.stats.rateLimitedIn).toBe(3750 + 363);
    // Of the 37 admitted, the first is the sequence jump over the dropped ones (on probation, RFC 3550 A.1).
    expect(audio.length + session.stats.lateIn).toBe(250 + 37);
    // A peer at its normal 50 per second is never touched, even right after the flood.
    clock.advance(1000);
    const n = audio.length;
    for (let i = 0; i < 500; i++, seq++) {
      clock.advance(20);
      session.receive(pkt(seq, seq * 160, f), FROM[1], FROM[0]);
    }
    expect(audio.length - n).toBe(500);
  });

  test("valid packets of 1,488 bytes (9.3 frames each) at 140/s: 5 s of audio at once, then 1.5× real time, the rest dropped as 'rate'", async () => {
    // Before: the packet rate (150/s) let them all through: 26× real time decoded, scored and recognised.
    const { session, audio, clock } = await setup();
    const big = new Uint8Array(1488).fill(0xff);
    let seq = 1;
    for (let i = 0; i < 1400; i++, seq++) {
      session.receive(pkt(seq, seq * 1488, big), FROM[1], FROM[0]);
      clock.advance(1000 / 140);
    }
    // 10 s: 40,000 + 1.5 × 80,000 samples at most, in whole packets of 1,488 bytes (9.3 frames of 160).
    expect(session.stats.packetsIn).toBeLessThanOrEqual(Math.floor(160_000 / 1488));
    expect(session.stats.packetsIn).toBeGreaterThan(100);
    expect(session.stats.rateLimitedIn).toBe(1400 - session.stats.packetsIn);
    expect(audio.length).toBeLessThanOrEqual(Math.floor((session.stats.packetsIn * 1488) / 160));
  });

  test("packets the latch refuses take no tokens from the accepted source's rate", async () => {
    const { session, audio } = await setup({ remote: { address: "127.0.0.2", port: 4000 } });
    const f = new Uint8Array(160).fill(0xff);
    for (let i = 1; i <= 1000; i++) session.receive(pkt(i, i * 160, f), 5000, "127.0.0.9"); // another address
    expect(session.stats.ignoredSourceIn).toBe(1000);
    for (let i = 1; i <= 250; i++) session.receive(pkt(i, i * 160, f), 4000, "127.0.0.2");
    expect([audio.length, session.stats.rateLimitedIn]).toEqual([250, 0]);
  });

  test("media from an address neither the SDP nor the signalling named is dropped, even first", async () => {
    const { session, audio } = await setup({ remote: { address: "127.0.0.2", port: 4000 }, signallingAddress: "127.0.0.3" });
    const f = new Uint8Array(160).fill(0xff);
    session.receive(pkt(1, 0, f), 4000, "127.0.0.9");
    expect([audio.length, session.stats.ignoredSourceIn, session.latched]).toEqual([0, 1, false]);
    session.receive(pkt(2, 160, f), 4002, "127.0.0.3"); // the signalling's address, another port: latched
    expect([audio.length, session.latched]).toEqual([1, true]);
    expect(session.remote).toEqual({ address: "127.0.0.3", port: 4002 });
  });

  test("latchMode any (RTP_LATCH=any): the first source latches wherever it is; takeover still needs 500 ms of silence, SSRC changes counted", async () => {
    // Behind NAT via a proxy: the SDP names a private address, the signalling comes from the proxy,
    // the media from the NAT's public address, which neither named.
    const { session, audio, clock } = await setup({ remote: { address: "127.0.0.2", port: 4000 }, signallingAddress: "127.0.0.3", latchMode: "any" });
    const f = new Uint8Array(160).fill(0xff);
    session.receive(pkt(1, 0, f, 0, 0x1111), 31000, "127.0.0.9");
    expect([audio.length, session.stats.ignoredSourceIn, session.latched]).toEqual([1, 0, true]);
    expect(session.remote).toEqual({ address: "127.0.0.9", port: 31000 });
    // A second source (even the SDP's own address) while the latched one is alive: dropped.
    clock.advance(100);
    session.receive(pkt(7, 800, f, 0, 0x5555), 4000, "127.0.0.2");
    session.receive(pkt(8, 960, f, 0, 0x5555), 5000, "127.0.0.10");
    expect([audio.length, session.stats.ignoredSourceIn, session.stats.relatches]).toEqual([1, 2, 0]);
    session.receive(pkt(2, 160, f, 0, 0x2222), 31000, "127.0.0.9"); // same source, new SSRC
    expect(session.stats.ssrcChanges).toBe(1);
    // 499 ms of silence is not enough, 500 ms is.
    clock.advance(499);
    session.receive(pkt(9, 1120, f, 0, 0x5555), 5000, "127.0.0.10");
    expect([audio.length, session.stats.relatches]).toEqual([2, 0]);
    clock.advance(1);
    session.receive(pkt(10, 1280, f, 0, 0x5555), 5000, "127.0.0.10");
    expect([audio.length, session.stats.relatches]).toEqual([3, 1]);
    expect(session.remote).toEqual({ address: "127.0.0.10", port: 5000 });
  });

  test("an SSRC change on the latched source is counted, not a takeover", async () => {
    const { session, audio } = await setup();
    const f = new Uint8Array(160).fill(0xff);
    session.receive(pkt(1, 0, f, 0, 0x1111), FROM[1], FROM[0]);
    session.receive(pkt(900, 7000, f, 0, 0x2222), FROM[1], FROM[0]);
    session.receive(pkt(5, 800, f, 0, 0x3333), FROM[1] + 2, FROM[0]); // another port, another SSRC: refused
    expect(session.stats.ssrcChanges).toBe(1);
    expect(session.stats.relatches).toBe(0);
    expect(session.stats.ignoredSourceIn).toBe(1);
    expect(audio.length).toBe(2);
  });

  test("SIPp RFC 4733 captures: one DTMF event per key, on the first end packet", async () => {
    const { session, dtmf, audio } = await setup();
    for (const b of [...DTMF_5, ...DTMF_POUND]) session.receive(b, FROM[1], FROM[0]);
    expect(dtmf).toEqual([
      { key: "5", event: 5, durationMs: 280, volume: 10, rtpTimestamp: 0xa8c0, endSeen: true },
      { key: "#", event: 11, durationMs: 280, volume: 10, rtpTimestamp: 0x169e0, endSeen: true },
    ]);
    expect(audio.length).toBe(0);
    expect(session.stats.dtmfEvents).toBe(2);
  });

  test("end packets lost: the event is reported when the next one starts", async () => {
    const { session, dtmf } = await setup();
    for (const b of [...DTMF_5.slice(0, 7), ...DTMF_POUND]) session.receive(b, FROM[1], FROM[0]);
    expect(dtmf.map((d) => [d.key, d.durationMs, d.endSeen])).toEqual([
      ["5", 240, false],
      ["#", 280, true],
    ]);
  });

  test("a last key whose end packets are all lost is reported when audio resumes past its end, once", async () => {
    const { session, dtmf } = await setup({ telephoneEventPt: 96 });
    const ev = (duration: number, end: boolean) => serializeTelephoneEvent({ event: 9, end, volume: 10, duration });
    const f = new Uint8Array(160).fill(0xff);
    let seq = 1;
    // The probe's t_dtmf.py: key 9 as 8 updates (duration 160…1280, ts 8000), no end packet, then audio.
    for (let d = 160; d <= 1280; d += 160) session.receive(pkt(seq++, 8000, ev(d, false), 96), FROM[1], FROM[0]);
    session.receive(pkt(seq++, 8000 + 1280, f), FROM[1], FROM[0]); // audio right at the event's end: not yet
    session.receive(pkt(seq++, 8000 + 1280 + 160, f), FROM[1], FROM[0]);
    expect(dtmf).toEqual([]);
    session.receive(pkt(seq++, 8000 + 1280 + 960, f), FROM[1], FROM[0]); // 120 ms past its end: closed
    expect(dtmf.map((d) => [d.key, d.durationMs, d.endSeen])).toEqual([["9", 160, false]]);
    // A late end packet of the same event and more audio: not a second key.
    session.receive(pkt(seq++, 8000, ev(1440, true), 96), FROM[1], FROM[0]);
    session.receive(pkt(seq++, 8000 + 1280 + 1120, f), FROM[1], FROM[0]);
    expect(dtmf).toHaveLength(1);
    expect(session.stats.dtmfEvents).toBe(1);
  });

  test("a last key followed by nothing at all (no end packet, no audio) is reported by the clock, once", async () => {
    const { session, dtmf, clock } = await setup({ telephoneEventPt: 96 });
    const ev = (duration: number, end: boolean) => serializeTelephoneEvent({ event: 4, end, volume: 10, duration });
    let seq = 1;
    for (let d = 400; d <= 1600; d += 400) {
      session.receive(pkt(seq++, 3000, ev(d, false), 96), FROM[1], FROM[0]);
      clock.advance(50); // updates every 50 ms keep it open
    }
    clock.advance(QUIET_CLOSE_MS - 51);
    expect(dtmf).toEqual([]);
    clock.advance(2);
    expect(dtmf.map((d) => [d.key, d.durationMs, d.endSeen])).toEqual([["4", 200, false]]);
    session.receive(pkt(seq++, 3000, ev(1760, true), 96), FROM[1], FROM[0]); // its late end packet
    clock.advance(QUIET_CLOSE_MS * 2);
    expect(dtmf).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  test("a long press updated only every 500 ms is not closed by the clock between updates (3 intervals)", async () => {
    const { session, dtmf, clock } = await setup({ telephoneEventPt: 96 });
    const ev = (duration: number, end: boolean) => serializeTelephoneEvent({ event: 2, end, volume: 10, duration });
    let seq = 1;
    for (let d = 4000; d <= 24000; d += 4000) {
      session.receive(pkt(seq++, 3000, ev(d, false), 96), FROM[1], FROM[0]);
      clock.advance(900); // a late update: 400 ms of jitter on a 500 ms interval
    }
    expect(dtmf).toEqual([]);
    for (let i = 0; i < 3; i++) session.receive(pkt(seq++, 3000, ev(24000, true), 96), FROM[1], FROM[0]);
    expect(dtmf.map((d) => [d.key, d.durationMs, d.endSeen])).toEqual([["2", 3000, true]]);
    // without its end packets it would have closed 1.5 s (3 × 500 ms) after its last update
    const { session: s2, dtmf: d2, clock: c2 } = await setup({ telephoneEventPt: 96 });
    for (let d = 4000; d <= 8000; d += 4000) s2.receive(pkt(seq++, 3000, ev(d, false), 96), FROM[1], FROM[0]);
    c2.advance(1499);
    expect(d2).toEqual([]);
    c2.advance(2);
    expect(d2.map((d) => [d.key, d.durationMs, d.endSeen])).toEqual([["2", 1000, false]]);
  });

  test("closing the session stops an open key's clock: nothing reported after close", async () => {
    const { session, dtmf, clock } = await setup({ telephoneEventPt: 96 });
    session.receive(pkt(1, 3000, serializeTelephoneEvent({ event: 2, end: false, volume: 10, duration: 400 }), 96), FROM[1], FROM[0]);
    expect(clock.pending).toBeGreaterThan(0);
    session.close();
    clock.advance(QUIET_CLOSE_MS * 2);
    expect(dtmf).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  test("audio sent during an event (its updates lag the audio) does not close it early", async () => {
    const { session, dtmf } = await setup({ telephoneEventPt: 96 });
    const ev = (duration: number, end: boolean) => serializeTelephoneEvent({ event: 3, end, volume: 10, duration });
    const f = new Uint8Array(160).fill(0xff);
    let seq = 1;
    for (let d = 400; d <= 1200; d += 400) {
      session.receive(pkt(seq++, 16000, ev(d, false), 96), FROM[1], FROM[0]);
      session.receive(pkt(seq++, 16000 + d + 640, f), FROM[1], FROM[0]); // audio 80 ms ahead of the update
    }
    session.receive(pkt(seq++, 16000, ev(1600, true), 96), FROM[1], FROM[0]);
    expect(dtmf.map((d) => [d.key, d.durationMs, d.endSeen])).toEqual([["3", 200, true]]);
  });

  test("RFC 4733 end packets retransmitted with new sequence numbers are reported once", async () => {
    const { session, dtmf } = await setup({ telephoneEventPt: 96 });
    const ev = (duration: number, end: boolean) => serializeTelephoneEvent({ event: 1, end, volume: 10, duration });
    let seq = 7;
    for (const [d, e] of [[160, false], [320, false], [480, true], [480, true], [480, true]] as const) {
      session.receive(pkt(seq++, 5000, ev(d, e), 96), FROM[1], FROM[0]);
    }
    expect(dtmf.map((d) => [d.key, d.durationMs])).toEqual([["1", 60]]);
  });

  test("a press longer than the duration field (RFC 4733 §2.5.1.3 segments) is one key with the whole duration", async () => {
    const { session, dtmf } = await setup({ telephoneEventPt: 96 });
    const ev = (duration: number, end: boolean) => serializeTelephoneEvent({ event: 7, end, volume: 10, duration });
    let seq = 1;
    // sparse updates: every 2 s (16000 units); the field saturates at 0xFFFF, then a new segment at ts + 0xFFFF
    for (const d of [16000, 32000, 48000, 64000, 0xffff]) session.receive(pkt(seq++, 1000, ev(d, false), 96), FROM[1], FROM[0]);
    for (const [d, e] of [[8000, false], [16000, true], [16000, true], [16000, true]] as const) {
      session.receive(pkt(seq++, 1000 + 0xffff, ev(d, e), 96), FROM[1], FROM[0]);
    }
    expect(dtmf.map((d) => [d.key, d.durationMs, d.endSeen])).toEqual([["7", ((0xffff + 16000) * 1000) / 8000, true]]);
  });

  test("sendonly: media is counted but not delivered", async () => {
    const { session, audio } = await setup({ direction: "sendonly" });
    session.receive(pkt(1, 0, new Uint8Array(160)), FROM[1], FROM[0]);
    expect(audio.length).toBe(0);
    expect(session.stats.packetsIn).toBe(1);
  });
});

test("update(): a re-INVITE moving the media retargets sending and relatches; hold stops sending", async () => {
  const { RtpPortPool, RtpSession } = await import("../../src/rtp");
  const got: { a: number; b: number } = { a: 0, b: 0 };
  const mk = async (key: "a" | "b") =>
    Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: () => void got[key]++ } });
  const a = await mk("a");
  const b = await mk("b");
  const pool = new RtpPortPool(47500, 47520, "127.0.0.1");
  const lease = await pool.allocate();
  const s = new RtpSession({ lease, remote: { address: "127.0.0.1", port: a.port }, codec: "PCMU", payloadType: 0 });
  const frame = new Uint8Array(160).fill(0xff);
  s.sendFrame(frame, false);
  s.update({ address: "127.0.0.1", port: b.port }, "sendrecv");
  s.sendFrame(frame, false);
  s.sendFrame(frame, false);
  expect(s.latched).toBe(false);
  s.update({ address: "127.0.0.1", port: b.port }, "recvonly"); // the peer put us on hold (sendonly)
  expect(s.sendFrame(frame, false)).toBe(false);
  await Bun.sleep(50);
  expect(got).toEqual({ a: 1, b: 2 });
  s.close();
  a.close();
  b.close();
});

describe("renegotiation (re-INVITE/UPDATE, RFC 3264 §8)", () => {
  test("moved media: our packets go to the new port from the next one; a late packet from the old source does not pull them back", async () => {
    const { peer, session, clock } = await setup();
    const moved = await rtpReceiver();
    cleanup.push(() => moved.socket.close());
    const frame = new Uint8Array(160).fill(0xff);
    session.receive(pkt(1, 0, frame), peer.port, "127.0.0.1"); // latched on the old place
    session.sendFrame(frame, false);
    session.update({ address: "127.0.0.1", port: moved.port }, "sendrecv");
    session.receive(pkt(2, 160, frame), peer.port, "127.0.0.1"); // late packet of the old stream
    session.sendFrame(frame, false);
    session.sendFrame(frame, false);
    await waitFor(() => moved.got.length === 2);
    expect(peer.got).toHaveLength(1);
    expect(session.remote.port).toBe(moved.port);
    // The peer's media really did stay at the old place: after the takeover silence (500 ms) with
    // nothing from the new place, the old source latches again.
    clock.advance(300);
    session.receive(pkt(3, 320, frame), peer.port, "127.0.0.1");
    expect(session.remote.port).toBe(moved.port);
    clock.advance(300);
    session.receive(pkt(4, 480, frame), peer.port, "127.0.0.1");
    expect(session.remote.port).toBe(peer.port);
  });

  test("codec change PCMU → PCMA with PT 8: sent packets are A-law under PT 8, received A-law is delivered in the call's law", async () => {
    const { peer, session, audio } = await setup();
    const pcm = tone(160);
    session.update({ address: "127.0.0.1", port: peer.port }, "sendrecv", { codec: "PCMA", payloadType: 8, telephoneEventPt: 96 });
    expect(session.sendFrame(encodeFrame(pcm, "PCMU"), false)).toBe(true);
    await waitFor(() => peer.got.length === 1);
    const sent = peer.got[0]!.packet;
    expect(sent.payloadType).toBe(8);
    expect(Array.from(sent.payload)).toEqual(Array.from(encodeFrame(decodeFrame(encodeFrame(pcm, "PCMU"), "PCMU"), "PCMA")));
    session.receive(pkt(10, 0, encodeFrame(pcm, "PCMA"), 8), peer.port, "127.0.0.1");
    session.receive(pkt(11, 160, encodeFrame(pcm, "PCMU"), 0), peer.port, "127.0.0.1"); // old PT: no longer ours
    expect(audio).toHaveLength(1);
    expect(audio[0]!.codec).toBe("PCMU");
    expect(Array.from(audio[0]!.pcm)).toEqual(Array.from(decodeFrame(encodeFrame(pcm, "PCMA"), "PCMA")));
    expect(session.stats.ignoredPayloadIn).toBe(1);
    expect(session.telephoneEventPt).toBe(96);
  });
});

describe("far-end stream changes (RFC 3550 A.1)", () => {
  test("the same SSRC jumping its sequence back by thousands: one packet on probation, then audio flows again", async () => {
    const { peer, session, audio, clock } = await setup();
    const f = encodeFrame(tone(160), "PCMU");
    for (let i = 0; i < 5; i++, clock.advance(20)) session.receive(pkt(20_000 + i, 160 * i, f), peer.port, "127.0.0.1");
    expect(audio).toHaveLength(5);
    // A media-server switch: same SSRC, sequence 5000 back, timestamp elsewhere, marker set.
    session.receive(pkt(15_000, 9_999_000, f, 0, 0xabcdef01, true), peer.port, "127.0.0.1");
    expect(audio).toHaveLength(5); // probation
    for (let i = 1; i < 50; i++, clock.advance(20)) session.receive(pkt(15_000 + i, 9_999_000 + 160 * i, f), peer.port, "127.0.0.1");
    expect(audio).toHaveLength(5 + 49);
    expect(session.stats.lateIn).toBe(1);
    expect(session.stats.jitterMs).toBeLessThan(5); // the timestamp jump is not jitter
  });

  test("a single stray packet far ahead is dropped and does not disturb the stream", async () => {
    const { peer, session, audio } = await setup();
    const f = encodeFrame(tone(160), "PCMU");
    for (let i = 0; i < 3; i++) session.receive(pkt(100 + i, 160 * i, f), peer.port, "127.0.0.1");
    session.receive(pkt(40_000, 0, f), peer.port, "127.0.0.1");
    for (let i = 3; i < 6; i++) session.receive(pkt(100 + i, 160 * i, f), peer.port, "127.0.0.1");
    expect(audio).toHaveLength(6);
    expect(session.stats.lost).toBe(0);
  });

  test("ptime changes mid-call: 40 ms packets, then 20 ms packets, all cut into 20 ms frames in order", async () => {
    const { peer, session, audio } = await setup();
    const pcm = tone(320 * 3 + 160 * 3);
    const enc = encodeFrame(pcm, "PCMU");
    let ts = 0;
    let seq = 7;
    for (let i = 0; i < 3; i++, ts += 320) session.receive(pkt(seq++, ts, enc.subarray(i * 320, i * 320 + 320)), peer.port, "127.0.0.1");
    for (let i = 0; i < 3; i++, ts += 160) session.receive(pkt(seq++, ts, enc.subarray(960 + i * 160, 960 + i * 160 + 160)), peer.port, "127.0.0.1");
    expect(audio).toHaveLength(9);
    expect(Array.from(audio.flatMap((a) => Array.from(a.pcm)))).toEqual(Array.from(decodeFrame(enc, "PCMU")));
  });
});

test("an RTCP packet (SR, RR) arriving on the RTP port is never decoded as audio (RFC 5761 §4: PT 72-76 with M)", async () => {
  const { peer, session, audio } = await setup();
  // RTCP SR, version 2, PT 200, length 6 (28 bytes), SSRC, NTP, RTP ts, counts — then an RR (PT 201).
  const sr = Uint8Array.from([0x80, 200, 0, 6, 0xab, 0xcd, 0xef, 0x01, 0xe9, 0x1a, 0, 0, 0x80, 0, 0, 0, 0, 0, 0x3e, 0x80, 0, 0, 0, 10, 0, 0, 6, 0x40]);
  const rr = Uint8Array.from([0x80, 201, 0, 1, 0xab, 0xcd, 0xef, 0x01]);
  session.receive(sr, peer.port, "127.0.0.1");
  session.receive(rr, peer.port, "127.0.0.1");
  expect(audio).toHaveLength(0);
  expect(session.stats.packetsIn).toBe(0);
});
