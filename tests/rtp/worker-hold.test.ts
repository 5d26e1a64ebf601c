/**
 * The media worker's hold (src/rtp/worker/worker-stream.ts): ticks that find the ring empty inside a
 * talkspurt the call thread is still writing wait up to HOLD_MS for their frames instead of sending
 * silence; the call thread's write (its kick) sends them then, late but with the timestamps they would
 * have had. On a FakeClock: the stream alone, and with the call's PacedOutput writing a reply that arrives
 * in two pieces (TTS's next sentence reaching the call thread just after the tick).
 */
import { describe, expect, test } from "bun:test";
import { C_HELD, C_HELD_SILENCE, FRAME_AUDIO, FrameRing } from "../../src/rtp/worker/frame-ring.ts";
import { HOLD_MS, WorkerStream } from "../../src/rtp/worker/worker-stream.ts";
import { PacedOutput } from "../../src/call/paced-output.ts";
import { Playout } from "../../src/media/playout.ts";
import { DtmfSender } from "../../src/rtp/dtmf-sender.ts";
import { Pacer } from "../../src/rtp/pacer.ts";
import { parseRtp, type RtpPacket } from "../../src/rtp/packet.ts";
import { FakeClock } from "../../src/util/clock.ts";
import { silenceFrame } from "../../src/media/g711.ts";
import type { SendFormat } from "../../src/rtp/send-path.ts";
import { mediaWorkerTotals } from "../../src/rtp/worker/plane.ts";

const PCMU: SendFormat = { codec: "PCMU", mediaCodec: "PCMU", payloadType: 0, telephoneEventPt: 101, direction: "sendrecv" };
const SILENCE = silenceFrame("PCMU")[0];
const frame = (v: number) => new Uint8Array(160).fill(v);

/** A socket that keeps what was sent, with the clock's time of each send. */
function timedSocket(clock: FakeClock) {
  const sent: { at: number; p: RtpPacket }[] = [];
  return { sent, send: (b: Uint8Array) => (sent.push({ at: clock.now(), p: parseRtp(b.slice()) }), true) };
}

function stream(holdMs?: number) {
  const clock = new FakeClock(0);
  const sock = timedSocket(clock);
  const ring = new FrameRing();
  let settledByTimer = 0;
  const s = new WorkerStream(sock, 9, { ssrc: 9, sequenceNumber: 100, timestamp: 0, format: PCMU, dest: { address: "127.0.0.1", port: 4000 } }, ring.sab, {
    clock,
    holdMs,
    onSettled: () => void settledByTimer++,
  });
  return { clock, sock, ring: new FrameRing(ring.sab), s, settledByTimer: () => settledByTimer };
}

describe("WorkerStream hold", () => {
  test("a frame written during the hold goes out at the kick: late, same timestamp line, no marker, no silence", () => {
    const t = stream();
    t.ring.moreExpected = true;
    t.ring.write(FRAME_AUDIO, frame(0x11));
    t.s.onTick(); // @0: audio
    t.clock.advance(20);
    t.s.onTick(); // @20: the ring is empty inside the talkspurt: held
    expect(t.s.held).toBe(true);
    expect(t.sock.sent.length).toBe(1);
    t.clock.advance(8);
    t.ring.write(FRAME_AUDIO, frame(0x12)); // the call thread writes the next sentence's first frame
    t.s.settle(); // its kick
    t.clock.advance(12);
    t.ring.write(FRAME_AUDIO, frame(0x13));
    t.s.onTick(); // @40: on schedule again
    const p = t.sock.sent;
    expect(p.map((x) => x.at)).toEqual([0, 28, 40]);
    expect(p.map((x) => x.p.sequenceNumber)).toEqual([100, 101, 102]);
    expect(p.map((x) => x.p.timestamp)).toEqual([0, 160, 320]);
    expect(p.map((x) => x.p.marker)).toEqual([true, false, false]);
    expect(p.every((x) => x.p.payload[0] !== SILENCE)).toBe(true);
    expect([t.ring.counters[C_HELD], t.ring.counters[C_HELD_SILENCE], t.ring.idleSent]).toEqual([1, 0, 0]);
    expect(t.clock.pending).toBe(0); // the hold's timer is gone
  });

  test("nothing within HOLD_MS: the owed ticks go out as silence then, and the next audio starts a new talkspurt (marker)", () => {
    const t = stream();
    t.ring.moreExpected = true;
    t.ring.write(FRAME_AUDIO, frame(0x11));
    t.s.onTick(); // @0: audio
    t.clock.advance(20);
    t.s.onTick(); // @20: held
    t.clock.advance(20);
    t.s.onTick(); // @40: still within HOLD_MS of the first: held too
    expect(t.sock.sent.length).toBe(1);
    t.clock.advance(HOLD_MS - 20); // @60 = 20 + HOLD_MS: the hold's timer
    expect(t.s.held).toBe(false);
    expect(t.settledByTimer()).toBe(1);
    expect(t.s.idle).toBe(true); // the owner may rejoin the shared schedule
    t.ring.write(FRAME_AUDIO, frame(0x12));
    t.s.onTick(); // @60, this tick's own
    const p = t.sock.sent;
    expect(p.map((x) => x.at)).toEqual([0, 20 + HOLD_MS, 20 + HOLD_MS, 60]);
    expect(p.map((x) => x.p.payload[0] === SILENCE)).toEqual([false, true, true, false]);
    expect(p.map((x) => x.p.marker)).toEqual([true, false, false, true]);
    expect(p.map((x) => x.p.timestamp)).toEqual([0, 160, 320, 480]);
    expect([t.ring.counters[C_HELD], t.ring.counters[C_HELD_SILENCE], t.ring.idleSent]).toEqual([2, 2, 2]);
  });

  test("30 ms late (longer than a frame): two ticks held, both frames out back to back at the kick, in step after", () => {
    const t = stream();
    t.ring.moreExpected = true;
    t.ring.write(FRAME_AUDIO, frame(0x11));
    t.s.onTick(); // @0
    t.clock.advance(20);
    t.s.onTick(); // @20 held
    t.clock.advance(20);
    t.s.onTick(); // @40 held
    t.clock.advance(10);
    for (const v of [0x12, 0x13, 0x14]) t.ring.write(FRAME_AUDIO, frame(v));
    t.s.settle(); // @50, the kick
    t.clock.advance(10);
    t.s.onTick(); // @60
    const p = t.sock.sent;
    expect(p.map((x) => [x.at, x.p.payload[0], x.p.timestamp, x.p.marker])).toEqual([[0, 0x11, 0, true], [50, 0x12, 160, false], [50, 0x13, 320, false], [60, 0x14, 480, false]]);
    expect([t.ring.counters[C_HELD], t.ring.counters[C_HELD_SILENCE], t.ring.idleSent]).toEqual([2, 0, 0]);
    expect(t.clock.pending).toBe(0);
  });

  test("no hold when no more audio is expected (the reply is whole), after silence, or with holdMs 0", () => {
    for (const [more, holdMs, afterAudio] of [[false, undefined, true], [true, 0, true], [true, undefined, false]] as const) {
      const t = stream(holdMs);
      t.ring.moreExpected = more;
      if (afterAudio) t.ring.write(FRAME_AUDIO, frame(0x11));
      t.s.onTick();
      t.clock.advance(20);
      t.s.onTick();
      expect(t.s.held).toBe(false);
      expect(t.sock.sent.map((x) => x.at)).toEqual([0, 20]);
      expect(t.sock.sent[1]!.p.payload[0]).toBe(SILENCE);
      expect(t.ring.counters[C_HELD]).toBe(0);
    }
  });

  test("the next tick while still held sends the held one first (what there is), then its own; stop drops a hold unsent", () => {
    const t = stream(); // longer than a frame, so the next tick comes first
    t.ring.moreExpected = true;
    t.ring.write(FRAME_AUDIO, frame(0x11));
    t.s.onTick();
    t.clock.advance(20);
    t.s.onTick(); // held
    t.clock.advance(20);
    t.ring.write(FRAME_AUDIO, frame(0x12));
    t.s.onTick(); // @40: the held tick's frame (0x12), then this tick's (ring empty, still expected: held again)
    expect(t.sock.sent.map((x) => [x.at, x.p.payload[0]])).toEqual([[0, 0x11], [40, 0x12]]);
    expect(t.s.held).toBe(true);
    t.s.stop();
    t.clock.advance(100);
    expect(t.sock.sent.length).toBe(2);
    expect(t.clock.pending).toBe(0);
  });
});

describe("PacedOutput with the worker's hold", () => {
  /** The call's playout and PacedOutput, the worker's stream and pacer, kicks wired as media-worker.ts does. */
  function call() {
    const clock = new FakeClock(0);
    const sock = timedSocket(clock);
    const ring = new FrameRing();
    const workerPacer = new Pacer({ clock });
    const source = { onTick: () => s.onTick() };
    const s: WorkerStream = new WorkerStream(sock, 7, { ssrc: 7, sequenceNumber: 0, timestamp: 0, format: PCMU, dest: { address: "127.0.0.1", port: 4000 } }, ring.sab, { clock });
    const kick = () => {
      if (s.held) return s.settle();
      if (!s.playing && !workerPacer.isOwnSchedule(source)) workerPacer.startNow(source);
    };
    const playout: Playout = new Playout({ sink: { sendFrame: () => true }, codec: "PCMU", onCleared: () => out.clear(), onFrameQueued: () => out.fill(dtmf) });
    const out: PacedOutput = new PacedOutput({ ring: new FrameRing(ring.sab), pace: () => {}, kick }, playout);
    const dtmf = new DtmfSender({ next: { timestamp: 0 }, sendEvent: (p, m) => out.writeEvent(p, m) });
    workerPacer.add(source);
    new Pacer({ clock }).add({ onTick: () => out.fill(dtmf) }); // the call thread's own 20 ms fill
    return { clock, sock, playout, out };
  }

  test("the next sentence's audio arriving 7 ms after the tick: no silence frame inside the reply, one frame 7 ms late", () => {
    const t = call();
    const before = { ...mediaWorkerTotals };
    t.clock.advance(3);
    t.playout.push(new Int16Array(160 * 5).fill(3000)); // sentence 1: 100 ms, the reply goes on (segment open)
    t.clock.advance(104); // its 5 frames went out @3 (the talkspurt's start) and @20…@80 (pacer.ts phases); the tick @100 found the ring empty
    t.playout.push(new Int16Array(160 * 5).fill(2000)); // sentence 2 @107
    t.playout.flush();
    t.clock.advance(300);
    const audio = t.sock.sent.filter((x) => x.p.payload[0] !== SILENCE);
    expect(audio.length).toBe(10);
    expect(audio.map((x) => x.p.sequenceNumber)).toEqual([...Array(10).keys()].map((i) => audio[0]!.p.sequenceNumber + i));
    expect(audio.map((x) => x.at)).toEqual([3, 20, 40, 60, 80, 107, 120, 140, 160, 180]);
    expect(audio.filter((x) => x.p.marker).length).toBe(1);
    expect(mediaWorkerTotals.held - before.held).toBe(1);
    expect(mediaWorkerTotals.held_silence - before.held_silence).toBe(0);
    // The reply was whole: its end goes out as silence on time, no hold.
    const last = audio.at(-1)!;
    expect(t.sock.sent.find((x) => x.at > last.at)!.at).toBe(last.at + 20);
  });

  test("a barge-in clears the expectation: the emptied ring sends silence at the next tick, not after a hold", () => {
    const t = call();
    t.playout.push(new Int16Array(160 * 50).fill(3000)); // segment still open
    t.clock.advance(100);
    t.playout.clearBuffer();
    const n = t.sock.sent.length;
    t.clock.advance(20);
    expect(t.sock.sent.length).toBe(n + 1);
    expect(t.sock.sent.at(-1)!.p.payload[0]).toBe(SILENCE);
  });
});
