import { afterEach, describe, expect, test } from "bun:test";
import { ULAW_DECODE } from "../../src/media/g711.ts";
import { type FrameSink, type PlaybackFinishedEvent, Playout } from "../../src/media/playout.ts";
import { Pacer } from "../../src/rtp/pacer.ts";
import { RtpPortPool } from "../../src/rtp/port-pool.ts";
import { RtpSession } from "../../src/rtp/session.ts";
import { FakeClock } from "../../src/util/clock.ts";
import { rtpReceiver, waitFor } from "../rtp/helpers.ts";

const pool = new RtpPortPool(27000, 27199, "127.0.0.1");
const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

/** A 1 kHz-ish tone that never encodes to the silence byte. */
const tone = (n: number) => Int16Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 6000 : -6000));
const isSilence = (payload: Uint8Array, byte: number) => payload.every((b) => b === byte);

/** The full chain: FakeClock → Pacer → Playout → RtpSession → UDP → loopback receiver. */
async function chain(codec: "PCMU" | "PCMA" = "PCMU") {
  const clock = new FakeClock(0);
  const pacer = new Pacer({ clock });
  const rx = await rtpReceiver();
  const lease = await pool.allocate();
  const session = new RtpSession({ lease, remote: { address: "127.0.0.1", port: rx.port }, codec, payloadType: codec === "PCMU" ? 0 : 8 });
  const log: string[] = [];
  const sendTimes: number[] = [];
  // Wraps the session to see send times and order relative to events.
  const sink: FrameSink = {
    sendFrame(payload, marker) {
      sendTimes.push(clock.now());
      log.push(isSilence(payload, codec === "PCMU" ? 0xff : 0xd5) ? "silence" : "audio");
      return session.sendFrame(payload, marker);
    },
  };
  const finished: PlaybackFinishedEvent[] = [];
  const playout = new Playout({
    sink,
    codec,
    onPlaybackStarted: (e) => log.push(`started:${e.segmentId}`),
    onPlaybackFinished: (e) => {
      finished.push(e);
      log.push(`finished:${e.segmentId}`);
    },
  });
  pacer.add(playout);
  cleanup.push(() => {
    pacer.stop();
    playout.close();
    session.close();
    rx.socket.close();
  });
  return { clock, pacer, rx, session, playout, log, sendTimes, finished };
}

describe("Playout over Pacer + RtpSession (loopback)", () => {
  test("one packet per 20 ms tick; timestamps +160 through silence; marker at each talkspurt", async () => {
    const { clock, rx, playout, sendTimes } = await chain();
    playout.push(tone(400)); // 50 ms: 2 frames + 80 samples held back
    playout.flush(); // pads the partial frame → 3 frames
    clock.advance(200); // 10 ticks: 3 audio + 7 silence
    playout.push(tone(320));
    playout.flush();
    clock.advance(100); // 5 ticks: 2 audio + 3 silence
    await waitFor(() => rx.got.length === 15);
    expect(sendTimes).toEqual(Array.from({ length: 15 }, (_, i) => 20 * (i + 1)));
    const p = rx.got.map((g) => g.packet);
    for (let i = 1; i < p.length; i++) {
      expect((p[i].timestamp - p[i - 1].timestamp) >>> 0).toBe(160);
      expect((p[i].sequenceNumber - p[i - 1].sequenceNumber) & 0xffff).toBe(1);
    }
    const kinds = p.map((x) => (isSilence(x.payload, 0xff) ? "s" : "A"));
    expect(kinds.join("")).toBe("AAAsssssss" + "AAsss");
    expect(p.map((x) => x.marker)).toEqual(kinds.map((k, i) => k === "A" && (i === 0 || kinds[i - 1] === "s")));
    // The padded partial frame: 80 samples of tone then 80 zeros (silence bytes).
    expect(isSilence(p[2].payload.subarray(80), 0xff)).toBe(true);
    expect(isSilence(p[2].payload.subarray(0, 80), 0xff)).toBe(false);
    expect(p.every((x) => x.payload.length === 160)).toBe(true);
    expect(playout.playedSamples).toBe(400 + 320);
  });

  test("a talkspurt queued between ticks starts at once (Pacer.startNow, as src/call/media.ts wires it): +160 per packet, marker, 20 ms spacing after its second packet, no drift after it", async () => {
    const clock = new FakeClock(0);
    const pacer = new Pacer({ clock });
    const rx = await rtpReceiver();
    const lease = await pool.allocate();
    const session = new RtpSession({ lease, remote: { address: "127.0.0.1", port: rx.port }, codec: "PCMU", payloadType: 0 });
    const sendTimes: number[] = [];
    let playout!: Playout;
    const source = {
      onTick() {
        playout.onTick();
        if (!playout.isPlaying && !playout.hasFrame && pacer.isOwnSchedule(source)) pacer.rejoin(source);
      },
    };
    let kicks = 0;
    playout = new Playout({
      sink: { sendFrame: (payload, marker) => (sendTimes.push(clock.now()), session.sendFrame(payload, marker)) },
      codec: "PCMU",
      onAudioQueued: () => {
        kicks++;
        queueMicrotask(() => !playout.isPlaying && playout.hasFrame && pacer.startNow(source));
      },
    });
    pacer.add(source);
    cleanup.push(() => {
      pacer.stop();
      playout.close();
      session.close();
      rx.socket.close();
    });
    clock.advance(47); // silence at 20, 40
    playout.push(tone(100)); // not a whole frame yet: nothing starts
    await Promise.resolve();
    expect(kicks).toBe(0);
    playout.push(tone(380)); // 480 samples = 3 frames, the first complete now (at 47)
    playout.flush();
    await Promise.resolve();
    expect(kicks).toBe(1);
    expect(sendTimes).toEqual([20, 40, 47]);
    clock.advance(113); // to 160
    await waitFor(() => rx.got.length === sendTimes.length);
    // Audio at 47, 65, 85 (its own schedule, on the 5 ms phase at 45); the segment finished with the
    // last frame, so the source rejoins the shared ticks at the first one at least a frame after 85: 120
    // (the gap of 35 ms takes back the 15 ms the talkspurt went early).
    expect(sendTimes).toEqual([20, 40, 47, 65, 85, 120, 140, 160]);
    const p = rx.got.map((g) => g.packet);
    for (let i = 1; i < p.length; i++) expect((p[i].timestamp - p[i - 1].timestamp) >>> 0).toBe(160);
    expect(p.map((x) => (isSilence(x.payload, 0xff) ? "s" : "A")).join("")).toBe("ssAAAsss");
    expect(p.map((x) => x.marker)).toEqual([false, false, true, false, false, false, false, false]);
    // The timestamp keeps its relation to the clock: packet n carries n·160 samples and goes out at n·20 ms.
    expect(sendTimes.map((t, i) => 20 * (i + 1) - t)).toEqual([0, 0, 13, 15, 15, 0, 0, 0]);
    // A second reply queued while nothing plays starts at once too; a third segment queued behind it
    // follows without a gap (the segment boundary is not the end of the talkspurt).
    clock.advance(5); // 165
    playout.push(tone(160));
    playout.flush();
    playout.push(tone(320));
    playout.flush();
    await Promise.resolve();
    expect(sendTimes.at(-1)).toBe(165);
    expect(kicks).toBe(2);
    clock.advance(80); // to 245: the shared 220 is less than a frame after 205, so 240
    expect(sendTimes.slice(-4)).toEqual([165, 185, 205, 240]);
    await waitFor(() => rx.got.length === sendTimes.length);
    expect(rx.got.slice(-4).map((g) => (isSilence(g.packet.payload, 0xff) ? "s" : "A")).join("")).toBe("AAAs");
  });

  test("PCMA silence is 0xD5", async () => {
    const { clock, rx } = await chain("PCMA");
    clock.advance(60);
    await waitFor(() => rx.got.length === 3);
    expect(rx.got.every((g) => g.packet.payloadType === 8 && isSilence(g.packet.payload, 0xd5))).toBe(true);
  });

  test("clearBuffer() (barge-in): at most one more audio frame goes out", async () => {
    const { clock, rx, playout, finished } = await chain();
    const id = playout.push(tone(8000)); // 1 s
    clock.advance(100); // 5 audio frames
    expect(playout.isPlaying).toBe(true);
    playout.clearBuffer();
    expect(playout.isPlaying).toBe(false);
    expect(playout.queuedMs).toBe(0);
    clock.advance(200);
    await waitFor(() => rx.got.length === 15);
    const audioFrames = rx.got.filter((g) => !isSilence(g.packet.payload, 0xff)).length;
    expect(audioFrames).toBeGreaterThanOrEqual(5);
    expect(audioFrames).toBeLessThanOrEqual(6);
    expect(finished).toEqual([{ segmentId: id, playedMs: 100, interrupted: true }]);
    expect(playout.playedSamples).toBe(800);
  });

  test("waitForPlayout() resolves right after the last packet of the utterance was sent", async () => {
    const { clock, rx, playout, log } = await chain();
    playout.push(tone(800)); // 100 ms = 5 frames
    playout.flush();
    let resolved = false;
    const done = playout.waitForPlayout().then(() => {
      resolved = true;
      log.push("drained");
    });
    clock.advance(80);
    await Bun.sleep(0);
    expect(resolved).toBe(false);
    clock.advance(20);
    await done;
    expect(log).toEqual(["audio", "started:1", "audio", "audio", "audio", "audio", "finished:1", "drained"]);
    await waitFor(() => rx.got.length === 5);
    expect(rx.got.every((g) => !isSilence(g.packet.payload, 0xff))).toBe(true);
    // Nothing queued → resolves at once.
    await playout.waitForPlayout();
  });
});

describe("Playout semantics (recording sink)", () => {
  function rec() {
    const sent: { audio: boolean; marker: boolean; first: number }[] = [];
    const events: string[] = [];
    const sink: FrameSink = {
      sendFrame(payload, marker) {
        sent.push({ audio: !isSilence(payload, 0xff), marker, first: ULAW_DECODE[payload[0]] });
        return true;
      },
    };
    const playout = new Playout({
      sink,
      codec: "PCMU",
      onPlaybackStarted: (e) => events.push(`started:${e.segmentId}`),
      onPlaybackFinished: (e) => events.push(`finished:${e.segmentId}:${e.playedMs}:${e.interrupted}`),
    });
    return { playout, sent, events };
  }

  test("isPlaying is false while audio is only queued, true while frames go out", () => {
    const { playout, events } = rec();
    playout.push(tone(320));
    playout.flush();
    expect(playout.isPlaying).toBe(false);
    expect(events).toEqual([]);
    playout.onTick();
    expect(playout.isPlaying).toBe(true);
    expect(events).toEqual(["started:1"]);
    playout.onTick(); // last frame, then finished
    expect(events).toEqual(["started:1", "finished:1:40:false"]);
    expect(playout.isPlaying).toBe(false);
    playout.onTick();
    expect(playout.isPlaying).toBe(false);
  });

  test("underrun inside an utterance: silence in between, marker again, started only once", () => {
    const { playout, sent, events } = rec();
    const id = playout.push(tone(320));
    playout.onTick();
    playout.onTick();
    playout.onTick(); // underrun: silence
    expect(playout.isPlaying).toBe(false);
    expect(playout.push(tone(160))).toBe(id); // same utterance
    playout.onTick();
    playout.flush();
    playout.onTick();
    expect(sent.map((s) => `${s.audio ? "A" : "s"}${s.marker ? "*" : ""}`)).toEqual(["A*", "A", "s", "A*", "s"]);
    expect(events).toEqual(["started:1", "finished:1:60:false"]);
  });

  test("back-to-back utterances: one talkspurt, events per utterance in order", () => {
    const { playout, sent, events } = rec();
    expect(playout.push(tone(160))).toBe(1);
    playout.flush();
    expect(playout.push(tone(100))).toBe(2);
    playout.flush();
    for (let i = 0; i < 3; i++) playout.onTick();
    expect(sent.map((s) => s.marker)).toEqual([true, false, false]);
    expect(events).toEqual(["started:1", "finished:1:20:false", "started:2", "finished:2:12.5:false"]);
  });

  test("partial frames are held until completed or flushed", () => {
    const { playout, sent } = rec();
    playout.push(tone(100));
    playout.onTick();
    expect(sent[0].audio).toBe(false); // 100 samples are not a frame yet
    playout.push(tone(60)); // completes 160
    playout.onTick();
    expect(sent[1].audio).toBe(true);
    playout.push(tone(10));
    expect(playout.queuedMs).toBe(1.25);
    playout.flush();
    playout.onTick();
    expect(sent[2].audio).toBe(true);
    expect(playout.playedSamples).toBe(170);
  });

  test("clearBuffer() before anything was sent reports the utterance finished with 0 ms, no started event", () => {
    const { playout, events } = rec();
    playout.push(tone(800));
    playout.flush();
    playout.push(tone(800)); // a second, still open utterance
    playout.clearBuffer();
    expect(events).toEqual(["finished:1:0:true", "finished:2:0:true"]);
    playout.onTick();
    expect(events.length).toBe(2); // the dropped end marker does not fire again
    expect(playout.push(tone(160))).toBe(3); // a new utterance after clear
  });

  test("flush after the frames already went out finishes on the next tick", () => {
    const { playout, events } = rec();
    playout.push(tone(160));
    playout.onTick();
    playout.flush();
    expect(events).toEqual(["started:1"]);
    playout.onTick();
    expect(events).toEqual(["started:1", "finished:1:20:false"]);
  });

  test("queue bound drops the overflow and counts it", () => {
    const sink: FrameSink = { sendFrame: () => true };
    const playout = new Playout({ sink, codec: "PCMU", maxQueuedMs: 100 });
    playout.push(tone(1600)); // 200 ms
    expect(playout.queuedMs).toBe(100);
    expect(playout.overflowSamples).toBe(800);
  });

  test("close(): pending waitForPlayout() resolves, later ticks send nothing", async () => {
    let sends = 0;
    const playout = new Playout({ sink: { sendFrame: () => (sends++, true) }, codec: "PCMU" });
    playout.push(tone(1600));
    const d = playout.waitForPlayout();
    playout.close();
    await d;
    playout.onTick();
    expect(sends).toBe(0);
    expect(playout.push(tone(160))).toBe(0);
  });
});
