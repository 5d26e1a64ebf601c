/**
 * The media worker's pieces (src/rtp/worker/): the shared frame ring and its discard rule, the worker's
 * stream numbering, the call thread's write-ahead output reconciled with the playout (all in-thread on a
 * FakeClock), and the real Worker carrying RTP both ways on loopback.
 */
import { describe, expect, test } from "bun:test";
import { C_PACKETS_OUT, FRAME_AUDIO, FRAME_EVENT, FrameRing, RING_CAPACITY } from "../../src/rtp/worker/frame-ring.ts";
import { WorkerStream } from "../../src/rtp/worker/worker-stream.ts";
import { PacedOutput, LEAD_FRAMES } from "../../src/call/paced-output.ts";
import { Playout } from "../../src/media/playout.ts";
import { DtmfSender } from "../../src/rtp/dtmf-sender.ts";
import { Pacer } from "../../src/rtp/pacer.ts";
import { parseRtp, serializeRtp, type RtpPacket } from "../../src/rtp/packet.ts";
import { FakeClock } from "../../src/util/clock.ts";
import { decodeFrame, encodeFrame, silenceFrame } from "../../src/media/g711.ts";
import type { SendFormat } from "../../src/rtp/send-path.ts";
import { MediaPlane, mediaWorkerTotals } from "../../src/rtp/worker/plane.ts";
import { RtpPortPool } from "../../src/rtp/port-pool.ts";
import { RtpSession } from "../../src/rtp/session.ts";
import { rtpReceiver, waitFor } from "./helpers.ts";
import { freeUdpPortRange } from "../support/ports.ts";

const PCMU: SendFormat = { codec: "PCMU", mediaCodec: "PCMU", payloadType: 0, telephoneEventPt: 101, direction: "sendrecv" };
const frame = (v: number) => new Uint8Array(160).fill(v);

describe("FrameRing", () => {
  test("frames come out in order; a full ring refuses; a taken slot is reused only after release", () => {
    const w = new FrameRing();
    const r = new FrameRing(w.sab); // the worker's view of the same memory
    for (let i = 0; i < RING_CAPACITY; i++) expect(w.write(FRAME_AUDIO, frame(i))).toBe(i);
    expect(w.write(FRAME_AUDIO, frame(99))).toBe(-1);
    const f = r.take()!;
    expect([f.kind, f.position, f.payload[0], f.payload.length]).toEqual([FRAME_AUDIO, 0, 0, 160]);
    expect(w.space).toBe(0); // taken but not released: its slot still holds the frame being sent
    r.release(f);
    expect(w.space).toBe(1);
    expect(w.sentPosition).toBe(1);
    expect(w.write(FRAME_EVENT, new Uint8Array([1, 2, 3, 4]), true)).toBe(RING_CAPACITY);
    for (let i = 1; i < RING_CAPACITY; i++) r.release(r.take()!);
    const e = r.take()!;
    expect([e.kind, e.marker, [...e.payload]]).toEqual([FRAME_EVENT, true, [1, 2, 3, 4]]);
    r.release(e);
    expect(r.take()).toBeNull();
    expect(() => w.write(FRAME_AUDIO, new Uint8Array(161))).toThrow(RangeError);
  });

  test("discard drops every frame not yet taken; a frame taken before it is still released below the new generation", () => {
    const w = new FrameRing();
    const r = new FrameRing(w.sab);
    for (let i = 0; i < 5; i++) w.write(FRAME_AUDIO, frame(i));
    const inFlight = r.take()!; // the worker is sending frame 0 as the barge-in lands
    const gen = w.discard();
    expect(gen).toBe(5);
    expect(w.pending).toBe(0);
    w.write(FRAME_AUDIO, frame(50));
    r.release(inFlight);
    expect(w.sentPosition).toBe(1); // below `gen`: the output does not count it for the new generation
    const next = r.take()!;
    expect([next.position, next.payload[0]]).toEqual([5, 50]);
  });
});

/** A socket that keeps what was sent. */
function fakeSocket() {
  const sent: RtpPacket[] = [];
  return { sent, send: (b: Uint8Array) => (sent.push(parseRtp(b.slice())), true) };
}

describe("WorkerStream", () => {
  test("numbers at send time: idle ticks send silence, the first audio after silence has the marker, events keep their start timestamp", () => {
    const sock = fakeSocket();
    const ring = new FrameRing();
    const s = new WorkerStream(sock, 0x1234, { ssrc: 0x1234, sequenceNumber: 65535, timestamp: 1000, format: PCMU, dest: { address: "127.0.0.1", port: 4000 } }, ring.sab);
    s.onTick(); // idle: silence
    ring.write(FRAME_AUDIO, frame(0x11));
    ring.write(FRAME_AUDIO, frame(0x12));
    ring.write(FRAME_EVENT, new Uint8Array([5, 10, 0, 160]), true);
    ring.write(FRAME_EVENT, new Uint8Array([5, 10, 1, 64]), false);
    for (let i = 0; i < 5; i++) s.onTick();
    const p = sock.sent;
    expect(p.map((x) => x.sequenceNumber)).toEqual([65535, 0, 1, 2, 3, 4]);
    expect(p.map((x) => x.timestamp)).toEqual([1000, 1160, 1320, 1480, 1480, 1800]);
    expect(p.map((x) => x.marker)).toEqual([false, true, false, true, false, false]);
    expect(p.map((x) => x.payloadType)).toEqual([0, 0, 0, 101, 101, 0]);
    expect(p[0]!.payload).toEqual(silenceFrame("PCMU"));
    expect(ring.idleSent).toBe(2);
    expect(ring.sentPosition).toBe(4);
  });

  test("closed by the call thread (closeSending): no paced or immediate RTP goes out and the counters stay final; raw datagrams (RTCP BYE) still go", () => {
    const sent: Uint8Array[] = [];
    const sock = { send: (b: Uint8Array) => (sent.push(b.slice()), true) };
    const ring = new FrameRing();
    const s = new WorkerStream(sock, 9, { ssrc: 9, sequenceNumber: 0, timestamp: 0, format: PCMU, dest: { address: "127.0.0.1", port: 4000 } }, ring.sab);
    ring.write(FRAME_AUDIO, frame(0x11));
    s.onTick();
    s.onTick(); // idle: silence
    const callSide = new FrameRing(ring.sab); // the call thread's view of the same ring
    expect(callSide.counters[C_PACKETS_OUT]).toBe(2);
    expect(callSide.closeSending()).toBe(true);
    ring.write(FRAME_AUDIO, frame(0x12));
    s.onTick();
    s.onTick();
    s.sendNow("audio", frame(0x13), false);
    s.sendNow("event", new Uint8Array([5, 10, 0, 160]), true);
    expect(sent.length).toBe(2);
    expect(callSide.counters[C_PACKETS_OUT]).toBe(2);
    s.sendRaw(new Uint8Array([0x81, 203, 0, 1, 0, 0, 0, 9]), { address: "127.0.0.1", port: 4000 });
    expect(sent.length).toBe(3);
  });

  test("recvonly: nothing goes out but the timestamp advances; a re-INVITE to PCMA transcodes the call's μ-law frames", () => {
    const sock = fakeSocket();
    const ring = new FrameRing();
    const s = new WorkerStream(sock, 1, { ssrc: 1, sequenceNumber: 10, timestamp: 0, format: { ...PCMU, direction: "recvonly" }, dest: { address: "127.0.0.1", port: 4000 } }, ring.sab);
    s.onTick();
    s.onTick();
    expect(sock.sent.length).toBe(0);
    s.configure({ ...PCMU, codec: "PCMA", payloadType: 8 });
    const pcm = new Int16Array(160).fill(1000);
    ring.write(FRAME_AUDIO, encodeFrame(pcm, "PCMU"));
    s.onTick();
    expect(sock.sent.map((x) => [x.sequenceNumber, x.timestamp, x.payloadType])).toEqual([[10, 320, 8]]);
    expect(sock.sent[0]!.payload).toEqual(encodeFrame(decodeFrame(encodeFrame(pcm, "PCMU"), "PCMU"), "PCMA"));
  });
});

/** The call thread's output and the worker's stream on one FakeClock, the ring between them. */
function pair(o: { callThreadTicks?: boolean; fillOnQueue?: boolean } = {}) {
  const clock = new FakeClock(0);
  const sock = fakeSocket();
  const ring = new FrameRing();
  const stream = new WorkerStream(sock, 7, { ssrc: 7, sequenceNumber: 0, timestamp: 0, format: PCMU, dest: { address: "127.0.0.1", port: 4000 } }, ring.sab);
  const workerPacer = new Pacer({ clock });
  const events: string[] = [];
  let kicks = 0;
  const playout = new Playout({
    sink: { sendFrame: () => true },
    codec: "PCMU",
    onPlaybackStarted: (e) => events.push(`started ${e.segmentId} @${clock.now()}`),
    onPlaybackFinished: (e) => events.push(`finished ${e.segmentId} ${e.playedMs} ${e.interrupted} @${clock.now()}`),
    onCleared: () => out.clear(),
    onFrameQueued: o.fillOnQueue ? () => out.soon(() => out.fill(dtmf)) : undefined,
  });
  const out: PacedOutput = new PacedOutput({ ring: new FrameRing(ring.sab), pace: () => {}, kick: () => void kicks++ }, playout);
  const dtmf = new DtmfSender({ next: { timestamp: 0 }, sendEvent: (p, m) => out.writeEvent(p, m) });
  workerPacer.add(stream);
  const mainPacer = new Pacer({ clock });
  if (o.callThreadTicks !== false) mainPacer.add({ onTick: () => out.fill(dtmf) });
  return { clock, sock, playout, out, dtmf, events, kicks: () => kicks };
}

describe("PacedOutput (the playout written ahead into the worker's ring)", () => {
  test("a reply is sent whole, in order, on the worker's ticks; playback events follow what was sent", () => {
    const t = pair();
    t.playout.push(new Int16Array(160 * 30).fill(3000)); // 600 ms
    t.playout.flush();
    t.out.fill(t.dtmf);
    expect(t.kicks()).toBe(1);
    expect(t.events).toEqual([]); // written ahead, nothing sent yet: no event
    t.clock.advance(20);
    expect(t.events).toEqual(["started 1 @20"]);
    t.clock.advance(700);
    const audio = t.sock.sent.filter((p) => p.payload[0] !== silenceFrame("PCMU")[0]);
    expect(audio.length).toBe(30);
    expect(audio[0]!.marker).toBe(true);
    const seqs = t.sock.sent.map((p) => p.sequenceNumber);
    expect(seqs).toEqual(seqs.map((_, i) => i)); // no gap
    expect(t.events[1]).toBe("finished 1 600 false @600"); // the tick that sent the 30th frame (20 … 600 ms)
  });

  test("a clear (barge-in) drops what was written ahead at once: no audio after it, no sequence gap, playedMs is what went out", () => {
    const t = pair();
    t.playout.push(new Int16Array(160 * 100).fill(3000));
    t.playout.flush();
    t.clock.advance(100); // 5 frames out, LEAD_FRAMES more written ahead
    expect(t.out["stream"].ring.pending).toBeGreaterThanOrEqual(LEAD_FRAMES - 1);
    const before = t.sock.sent.length;
    t.playout.clearBuffer();
    t.clock.advance(200);
    const after = t.sock.sent.slice(before);
    expect(after.every((p) => p.payload.every((b) => b === 0xff))).toBe(true); // silence only
    const seqs = t.sock.sent.map((p) => p.sequenceNumber);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    const finished = t.events.find((e) => e.startsWith("finished"))!;
    const audioSent = t.sock.sent.filter((p) => p.payload[0] !== 0xff).length;
    expect(finished).toBe(`finished 1 ${audioSent * 20} true @100`);
  });

  test("DTMF keys go into the ring in tick order: one event packet per tick, the end packet three times", () => {
    const t = pair();
    t.dtmf.send("5");
    t.clock.advance(400);
    const ev = t.sock.sent.filter((p) => p.payloadType === 101);
    expect(ev.length).toBe(10); // 160 ms of tone (8 packets, the last one E) + 2 repeats of the end
    expect(new Set(ev.map((p) => p.timestamp)).size).toBe(1);
    expect(ev[0]!.marker).toBe(true);
  });
});

describe("PacedOutput when the call thread is later than the write-ahead", () => {
  test("silence sent while the playout holds audio not yet written is counted late_silence; the reply then goes on whole", () => {
    const t = pair({ callThreadTicks: false }); // the call thread is starved: it fills once, then not for 1.4 s
    const before = { ...mediaWorkerTotals };
    t.playout.push(new Int16Array(160 * (LEAD_FRAMES + 30)).fill(3000));
    t.playout.flush();
    t.out.fill(t.dtmf);
    t.clock.advance(20 * (LEAD_FRAMES + 20));
    const isAudio = (p: RtpPacket) => p.payload[0] !== silenceFrame("PCMU")[0];
    expect(t.sock.sent.filter(isAudio).length).toBe(LEAD_FRAMES); // all the lead, then silence
    t.out.fill(t.dtmf); // the call thread runs again: it learns what went out
    expect(t.out.lateSilence).toBe(20);
    expect(mediaWorkerTotals.late_silence - before.late_silence).toBe(20);
    expect(mediaWorkerTotals.audio - before.audio).toBe(LEAD_FRAMES);
    t.clock.advance(20 * 40);
    expect(t.sock.sent.filter(isAudio).length).toBe(LEAD_FRAMES + 30); // none of the reply lost, only late
  });

  test("silence sent before a reply's audio was queued is not counted late", async () => {
    const t = pair({ callThreadTicks: false, fillOnQueue: true });
    t.clock.advance(100); // 5 idle ticks: nothing to send
    t.playout.push(new Int16Array(160 * 10).fill(3000));
    t.playout.flush();
    await Promise.resolve(); // the fill queued by the push (a microtask) writes the reply ahead
    t.clock.advance(300);
    t.out.fill(t.dtmf);
    expect(t.sock.sent.filter((p) => p.payload[0] !== silenceFrame("PCMU")[0]).length).toBe(10);
    expect(t.out.lateSilence).toBe(0);
  });
});

describe("PacedOutput rewind (our keys before the audio written ahead)", () => {
  test("the keys go out next; the audio taken back follows them whole, none lost", () => {
    const t = pair();
    t.playout.push(new Int16Array(160 * 60).fill(3000));
    t.playout.flush();
    t.clock.advance(100); // 5 frames out, a second more written ahead
    t.out.rewind();
    t.dtmf.send("1");
    t.out.fill(t.dtmf);
    t.clock.advance(2000);
    const kinds = t.sock.sent.map((p) => (p.payloadType === 101 ? "E" : p.payload[0] === 0xff ? "-" : "A")).join("");
    // Silence until the first tick after the push, 4 frames, the key (8 packets + 2 repeated ends), then
    // the rest of the reply (the gap after a key is ordinary audio, dtmf-sender.ts).
    expect(kinds).toMatch(/^-A{4}E{10}A{56}-+$/);
    expect(t.events.at(-1)).toMatch(/^finished 1 1200 false/); // all 60 frames, each once
  });
});

describe("MediaPlane (the real worker thread)", () => {
  test("a session on a worker-bound port sends paced frames and receives the peer's packets", async () => {
    const plane = MediaPlane.start();
    const base = await freeUdpPortRange(4);
    const pool = new RtpPortPool(base, base + 3, "127.0.0.1", plane.binder);
    const peer = await rtpReceiver();
    try {
      const lease = await pool.allocate();
      const heard: number[] = [];
      const session = new RtpSession({
        lease,
        remote: { address: "127.0.0.1", port: peer.port },
        codec: "PCMU",
        payloadType: 0,
        initial: { ssrc: 42, sequenceNumber: 100, timestamp: 0 },
        onAudio: (f) => heard.push(f.payload[0]!),
      });
      const paced = session.paced!;
      expect(paced).toBeDefined();
      for (let i = 0; i < 3; i++) paced.ring.write(FRAME_AUDIO, frame(0x20 + i));
      paced.pace(true);
      paced.kick();
      await waitFor(() => peer.got.length >= 5);
      expect(peer.got.slice(0, 3).map((g) => g.packet.payload[0])).toEqual([0x20, 0x21, 0x22]);
      expect(peer.got.slice(0, 5).map((g) => g.packet.sequenceNumber)).toEqual([100, 101, 102, 103, 104]);
      const pkt = serializeRtp({ marker: false, payloadType: 0, sequenceNumber: 1, timestamp: 0, ssrc: 9, payload: frame(0x33) });
      peer.socket.send(pkt, lease.port, "127.0.0.1");
      await waitFor(() => heard.length === 1);
      expect(heard).toEqual([0x33]);
      expect(paced.ring.sinceLastReceived()).toBeLessThan(5_000); // the worker's own arrival time
      // Over 1,500 bytes: not copied across, still counted as an oversize drop by the session.
      peer.socket.send(new Uint8Array(2000), lease.port, "127.0.0.1");
      await waitFor(() => session.stats.oversizeIn === 1);
      expect(heard.length).toBe(1);
      expect(session.stats.packetsOut).toBeGreaterThanOrEqual(5);
      session.close();
      expect(pool.inUse).toBe(0);
    } finally {
      peer.socket.close();
      await plane.stop(1000);
    }
  });

  test("a late call thread finds one batch waiting, not a queue of messages: every datagram, in order, with when it arrived", async () => {
    const plane = MediaPlane.start();
    const [port] = [await freeUdpPortRange(1)];
    const peer = await rtpReceiver();
    const got: number[] = [];
    const arrived: number[] = [];
    const handled: number[] = [];
    try {
      const bound = await plane.binder("127.0.0.1", port, (data, _p, _a, at) => (got.push(data[0]! | (data[1]! << 8)), arrived.push(at!), handled.push(performance.now())), () => {});
      const datagram = (i: number) => new Uint8Array([i & 0xff, i >> 8, 0, 0]);
      peer.socket.send(datagram(0), port, "127.0.0.1");
      await waitFor(() => got.length === 1);
      const before = plane.batches;
      // The call thread busy for 300 ms while a datagram arrives every ~1 ms (the worker flushes every 2 ms).
      let sent = 1;
      const sentAt: number[] = [performance.now()];
      const until = performance.now() + 300;
      let next = performance.now();
      while (performance.now() < until) {
        if (performance.now() >= next) {
          sentAt.push(performance.now());
          peer.socket.send(datagram(sent++), port, "127.0.0.1");
          next += 1;
        }
      }
      await waitFor(() => got.length === sent, 5000);
      expect(got).toEqual(Array.from({ length: sent }, (_, i) => i));
      // Each carries when the worker received it (this thread's clock), not when this thread got to it.
      for (let i = 1; i < sent; i++) {
        expect(arrived[i]!).toBeGreaterThanOrEqual(arrived[i - 1]! - 0.01);
        expect(arrived[i]!).toBeGreaterThanOrEqual(sentAt[i]! - 1);
        expect(arrived[i]!).toBeLessThanOrEqual(handled[i]! + 0.01);
      }
      const firstHalf = Math.floor(sent / 2);
      expect(handled[firstHalf]! - arrived[firstHalf]!).toBeGreaterThan(100); // held ~150 ms by the busy thread
      // Without flow control: one message per 2 ms flush (~150). With it: the one in flight, then the rest.
      expect(plane.batches - before).toBeLessThanOrEqual(4);
      bound.socket.close();
    } finally {
      peer.socket.close();
      await plane.stop(1000);
    }
  });
});
