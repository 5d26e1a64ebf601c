/**
 * Pause/resume of the playout under the media worker (MEDIA_WORKER=on, src/call/paced-output.ts): the
 * frames written ahead into the worker's ring are taken back at the pause (the playout keeps them), so
 * the caller hears silence at the next tick, and the reply then goes on whole from the same frame. The
 * call thread and the worker's stream on one FakeClock (in-thread, as tests/rtp/media-worker.test.ts).
 */
import { expect, test } from "bun:test";
import { FrameRing } from "../../src/rtp/worker/frame-ring.ts";
import { WorkerStream } from "../../src/rtp/worker/worker-stream.ts";
import { PacedOutput } from "../../src/call/paced-output.ts";
import { Playout } from "../../src/media/playout.ts";
import { DtmfSender } from "../../src/rtp/dtmf-sender.ts";
import { Pacer } from "../../src/rtp/pacer.ts";
import { parseRtp, type RtpPacket } from "../../src/rtp/packet.ts";
import { FakeClock } from "../../src/util/clock.ts";
import { encodeFrame } from "../../src/media/g711.ts";

test("MEDIA_WORKER=on: a pause takes back what was written ahead; resume sends the rest whole, each frame once, in order", () => {
  const clock = new FakeClock(0);
  const sent: RtpPacket[] = [];
  const sock = { send: (d: Uint8Array) => (sent.push(parseRtp(d.slice()) as RtpPacket), true) };
  const ring = new FrameRing();
  const format = { codec: "PCMU", mediaCodec: "PCMU", payloadType: 0, telephoneEventPt: 101, direction: "sendrecv" } as const;
  const stream = new WorkerStream(sock as never, 7, { ssrc: 7, sequenceNumber: 0, timestamp: 0, format, dest: { address: "127.0.0.1", port: 4000 } }, ring.sab);
  const finished: string[] = [];
  const playout: Playout = new Playout({
    sink: { sendFrame: () => true },
    codec: "PCMU",
    onPlaybackFinished: (e) => finished.push(`${e.playedMs} ${e.interrupted}`),
    onCleared: () => out.clear(),
    onPaused: () => out.rewind(),
  });
  const out: PacedOutput = new PacedOutput({ ring: new FrameRing(ring.sab), pace: () => {}, kick: () => {} }, playout);
  const dtmf = new DtmfSender({ next: { timestamp: 0 }, sendEvent: (p, m) => out.writeEvent(p, m) });
  new Pacer({ clock }).add(stream);
  new Pacer({ clock }).add({ onTick: () => out.fill(dtmf) });
  // 60 frames, each different: frame i's first two samples code i (μ-law steps well apart).
  const N = 60;
  const pcm = Int16Array.from({ length: N * 160 }, (_, n) => (n % 160 === 0 ? 200 * (1 + (Math.floor(n / 160) % 8)) : n % 160 === 1 ? 200 * (1 + Math.floor(n / 1280)) : 1000));
  const key = (p: Uint8Array) => `${p[0]},${p[1]}`;
  const expected = Array.from({ length: N }, (_, i) => key(encodeFrame(pcm.subarray(i * 160, i * 160 + 160), "PCMU", new Uint8Array(160))));
  playout.push(pcm);
  playout.flush();
  clock.advance(200); // ~10 frames out, the rest written ahead
  const beforePause = sent.filter((p) => p.payload[0] !== 0xff).length;
  playout.pause();
  clock.advance(500);
  const duringPause = sent.filter((p) => p.payload[0] !== 0xff).length - beforePause;
  expect(duringPause).toBeLessThanOrEqual(1); // at most the frame the worker was sending at that instant
  playout.resume();
  clock.advance(2000);
  const audio = sent.filter((p) => p.payload[0] !== 0xff).map((p) => key(p.payload));
  expect(new Set(expected).size).toBe(N); // the frames can be told apart
  expect(audio).toEqual(expected); // every frame once, in order
  const seqs = sent.map((p) => p.sequenceNumber);
  expect(seqs).toEqual(seqs.map((_, i) => i)); // no sequence gap across the pause
  expect(finished).toEqual([`${N * 20} false`]);
});
