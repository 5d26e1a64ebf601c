/**
 * The call thread's hold (src/media/playout.ts `holdFrames`, src/media/playout-hold.ts): a tick that finds
 * nothing queued inside a reply still being captured owes its frame instead of sending silence; audio
 * queued within the allowance goes out at once, late, with the timestamps it would have had; past it the
 * owed ticks go out as silence. On a FakeClock with the real Pacer and the real RTP numbering
 * (LocalSendPath), packets parsed back from the bytes sent.
 */
import { describe, expect, test } from "bun:test";
import { silenceFrame } from "../../src/media/g711.ts";
import { Playout } from "../../src/media/playout.ts";
import { PLAYOUT_HOLD_FRAMES, PLAYOUT_HOLD_MS, playoutHoldTotals } from "../../src/media/playout-hold.ts";
import { parseRtp, type RtpPacket } from "../../src/rtp/packet.ts";
import { Pacer } from "../../src/rtp/pacer.ts";
import { LocalSendPath } from "../../src/rtp/send-path.ts";
import { AfterIoPoll } from "../../src/util/after-io-poll.ts";
import { FakeClock } from "../../src/util/clock.ts";

const SILENCE = silenceFrame("PCMU")[0]!;
/** A tone that never encodes to the silence byte; `n` samples. */
const tone = (n: number) => Int16Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 6000 : -6000));

/** Pacer → Playout → LocalSendPath → a socket keeping each datagram with the clock's time. */
function call(holdFrames = PLAYOUT_HOLD_FRAMES) {
  const clock = new FakeClock(0);
  const sent: { at: number; p: RtpPacket }[] = [];
  const socket = { send: (b: Uint8Array) => (sent.push({ at: clock.now(), p: parseRtp(b.slice()) }), true) };
  const path = new LocalSendPath(socket, 5, { sequenceNumber: 0, timestamp: 0 }, { codec: "PCMU", mediaCodec: "PCMU", payloadType: 0, telephoneEventPt: undefined, direction: "sendrecv" }, { address: "127.0.0.1", port: 4000 });
  const finished: number[] = [];
  // The thread's socket polls, stepped by hand: `poll()` runs what waited for the next one.
  const immediates: (() => void)[] = [];
  const holdGate = new AfterIoPoll((fn) => void immediates.push(fn));
  const poll = () => {
    for (let i = 0; i < 2; i++) for (const fn of immediates.splice(0)) fn();
  };
  const playout = new Playout({ sink: { sendFrame: (f, m) => path.sendAudio(f, m) }, codec: "PCMU", holdFrames, holdGate, onPlaybackFinished: (e) => finished.push(e.playedMs) });
  const pacer = new Pacer({ clock });
  pacer.add(playout);
  const audio = () => sent.filter((x) => x.p.payload[0] !== SILENCE);
  const silent = () => sent.filter((x) => x.p.payload[0] === SILENCE);
  return { clock, sent, playout, finished, audio, silent, poll };
}

/** Sentence 1 (100 ms) queued at 0, its frames out on the ticks @20…@100; the tick @120 finds the queue empty. */
function sentenceOne(t: ReturnType<typeof call>) {
  t.playout.push(tone(160 * 5));
  t.clock.advance(120);
}

describe("Playout hold (MEDIA_WORKER=off)", () => {
  test("the next sentence 7 ms after the tick: no silence frame, its first frame out at arrival with the next timestamp, the rest on time", () => {
    const t = call();
    const before = { ...playoutHoldTotals };
    sentenceOne(t);
    expect(t.sent.length).toBe(5); // the tick @120 sent nothing: held
    t.clock.advance(7);
    t.playout.push(tone(160 * 5)); // sentence 2 @127
    t.playout.flush();
    t.clock.advance(200);
    const a = t.audio();
    expect(a.length).toBe(10);
    expect(a.map((x) => x.at)).toEqual([20, 40, 60, 80, 100, 127, 140, 160, 180, 200]);
    expect(a.map((x) => x.p.timestamp)).toEqual([...Array(10).keys()].map((i) => i * 160));
    expect(a.map((x) => x.p.sequenceNumber)).toEqual([...Array(10).keys()]);
    expect(a.filter((x) => x.p.marker).length).toBe(1); // one talkspurt
    expect(t.silent()[0]!.at).toBe(220); // the reply was whole: its end is silence on time, no hold
    expect([t.playout.heldTicks, t.playout.heldSilence]).toEqual([1, 0]);
    expect(playoutHoldTotals.held - before.held).toBe(1);
    expect(t.finished).toEqual([200]);
  });

  test("30 ms late (longer than a frame): two ticks held, both frames out back to back at arrival, in step after", () => {
    const t = call();
    sentenceOne(t);
    t.clock.advance(30); // the ticks @120 and @140 held
    t.playout.push(tone(160 * 4)); // @150
    t.clock.advance(40);
    const a = t.audio().slice(5);
    expect(a.map((x) => x.at)).toEqual([150, 150, 160, 180]);
    expect(a.map((x) => x.p.timestamp)).toEqual([800, 960, 1120, 1280]);
    expect(a.some((x) => x.p.marker)).toBe(false);
    expect(t.silent().length).toBe(0);
    expect(t.playout.heldTicks).toBe(2);
  });

  test(`nothing within ${PLAYOUT_HOLD_MS} ms nor in the next socket poll: the owed ticks go out as silence, and later audio starts a new talkspurt`, () => {
    const t = call();
    sentenceOne(t);
    t.clock.advance(2 * 20); // @120, @140 held; @160 is past the allowance: it waits for the next socket poll
    expect(t.silent()).toEqual([]);
    t.poll(); // nothing came in it
    const s = t.silent();
    expect(s.map((x) => [x.at, x.p.timestamp])).toEqual([[160, 800], [160, 960], [160, 1120]]);
    expect([t.playout.heldTicks, t.playout.heldSilence]).toEqual([3, 3]); // @160 waited for the poll too
    t.clock.advance(5);
    t.playout.push(tone(160));
    t.clock.advance(15);
    const last = t.sent.at(-1)!;
    expect([last.at, last.p.timestamp, last.p.marker, last.p.payload[0] !== SILENCE]).toEqual([180, 1280, true, true]);
  });

  test("a late thread's back-to-back ticks past the allowance: audio read in the next socket poll pays them, no silence", () => {
    // Capture at bench:load's 200 calls: a 50–60 ms stall of the call thread, then the missed ticks ran back
    // to back and spent the 40 ms at once while the next sentence's audio sat unread in the TTS socket.
    const t = call();
    sentenceOne(t);
    t.clock.advance(3 * 20); // @120, @140 held, @160 and @180 past the allowance: waiting for the poll
    expect(t.sent.length).toBe(5);
    t.playout.push(tone(160 * 6)); // read in that poll
    t.poll();
    const a = t.audio().slice(5);
    expect(a.map((x) => [x.at, x.p.timestamp])).toEqual([[180, 800], [180, 960], [180, 1120], [180, 1280]]);
    expect(a.some((x) => x.p.marker)).toBe(false); // one talkspurt: no silence, no re-anchoring
    expect(t.silent()).toEqual([]);
    expect([t.playout.heldTicks, t.playout.heldSilence]).toEqual([4, 0]);
    t.clock.advance(40);
    expect(t.audio().slice(9).map((x) => [x.at, x.p.timestamp])).toEqual([[200, 1440], [220, 1600]]);
  });

  test("a lapse waiting for the poll does not act on a later hold (the audio came, then the next gap began)", () => {
    const t = call();
    sentenceOne(t);
    t.clock.advance(2 * 20 + 1); // @160 past the allowance: a lapse waits for the poll
    t.playout.push(tone(160 * 3)); // arrives first: 3 owed frames paid with audio
    t.clock.advance(19); // @180 finds the queue empty again: a new hold starts
    t.poll(); // the old lapse runs now: not this hold's
    expect(t.silent()).toEqual([]);
    expect(t.playout.heldSilence).toBe(0);
  });

  test("no hold once the reply is whole (flushed), with holdFrames 0, or before any audio", () => {
    for (const [holdFrames, flush] of [[PLAYOUT_HOLD_FRAMES, true], [0, false]] as const) {
      const t = call(holdFrames);
      t.playout.push(tone(160 * 5));
      if (flush) t.playout.flush();
      t.clock.advance(120);
      expect(t.sent.map((x) => x.at)).toEqual([20, 40, 60, 80, 100, 120]);
      expect(t.sent.at(-1)!.p.payload[0]).toBe(SILENCE);
      expect(t.playout.heldTicks).toBe(0);
    }
    const t = call();
    t.playout.push(tone(80)); // a partial frame: a segment is open but nothing was played
    t.clock.advance(40);
    expect(t.sent.length).toBe(2);
    expect(t.playout.heldTicks).toBe(0);
  });

  test("a barge-in during the hold: the owed tick goes out as silence at once, no audio of the reply after it", () => {
    const t = call();
    sentenceOne(t);
    t.clock.advance(3);
    t.playout.clearBuffer(); // @123, the tick @120 held
    expect(t.finished).toEqual([100]);
    expect(t.sent.slice(5).map((x) => [x.at, x.p.timestamp, x.p.payload[0] === SILENCE])).toEqual([[123, 800, true]]);
    t.clock.advance(17);
    expect(t.sent.slice(6).map((x) => [x.at, x.p.timestamp, x.p.payload[0] === SILENCE])).toEqual([[140, 960, true]]);
    expect([t.playout.heldTicks, t.playout.heldSilence]).toEqual([1, 1]);
  });

  test("the held frame counts as sent at once (waitForPlayout); its segment finishes at the next tick", async () => {
    const t = call();
    sentenceOne(t);
    t.clock.advance(5);
    t.playout.push(tone(160));
    t.playout.flush();
    let done = false;
    void t.playout.waitForPlayout().then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(true);
    expect(t.finished).toEqual([]);
    t.clock.advance(15); // @140: the segment's end, then silence (the reply is whole)
    expect(t.finished).toEqual([120]);
    expect(t.sent.at(-1)!.p.payload[0]).toBe(SILENCE);
  });
});
