/**
 * The caller's frames in the session's ring (src/rtp/frame-ring.ts): the same payload bytes and PCM as a
 * copy and a fresh decode gave, every G.711 code included, each frame unchanged for the ring's length
 * minus one further frames, and no typed array made per packet (issue 13).
 */
import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { decodeFrame, encodeFrame } from "../../src/media/g711.ts";
import type { AudioFrame } from "../../src/media/constants.ts";
import { serializeRtp } from "../../src/rtp/packet.ts";
import type { RtpPortLease } from "../../src/rtp/port-pool.ts";
import { RECEIVE_RING_FRAMES } from "../../src/rtp/frame-ring.ts";
import { RtpSession } from "../../src/rtp/session.ts";
import { FakeClock } from "../../src/util/clock.ts";

const REMOTE = { address: "127.0.0.1", port: 40000 };

function lease(): RtpPortLease {
  return { port: 20000, host: "127.0.0.1", socket: { send: () => true, close() {}, closed: false }, onPacket: null, onError: null, released: false, release() {} } as unknown as RtpPortLease;
}

/** Payload k: every byte value in turn from an offset, then seeded noise (all 256 codes within two packets). */
function payloadOf(k: number): Uint8Array {
  const p = new Uint8Array(160);
  let seed = k * 7919 + 1;
  for (let i = 0; i < 160; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    p[i] = i < 128 ? (k * 128 + i) & 0xff : seed & 0xff;
  }
  return p;
}

function datagram(k: number, pt: number): Uint8Array {
  return serializeRtp({ marker: k === 0, payloadType: pt, sequenceNumber: k & 0xffff, timestamp: k * 160, ssrc: 0x5566, payload: payloadOf(k) });
}

function session(frames: AudioFrame[]): { s: RtpSession; clock: FakeClock } {
  const clock = new FakeClock(0);
  const s = new RtpSession({ lease: lease(), remote: REMOTE, signallingAddress: REMOTE.address, codec: "PCMU", payloadType: 0, clock, onAudio: (f) => frames.push(f) });
  return { s, clock };
}

describe("RtpSession's frame ring", () => {
  test("each frame holds the packet's payload and its decode, and keeps them for the ring's length minus one", () => {
    const frames: AudioFrame[] = [];
    const { s, clock } = session(frames);
    const n = 3 * RECEIVE_RING_FRAMES + 5;
    for (let k = 0; k < n; k++) {
      clock.advance(20);
      s.receive(datagram(k, 0), REMOTE.port, REMOTE.address);
      const f = frames[k]!;
      expect(f.codec).toBe("PCMU");
      expect(f.payload).toEqual(payloadOf(k));
      expect(f.pcm).toEqual(decodeFrame(payloadOf(k), "PCMU"));
      // The frame RECEIVE_RING_FRAMES − 1 packets back is still intact.
      const back = k - (RECEIVE_RING_FRAMES - 1);
      if (back >= 0) {
        expect(frames[back]!.payload).toEqual(payloadOf(back));
        expect(frames[back]!.pcm).toEqual(decodeFrame(payloadOf(back), "PCMU"));
      }
    }
    expect(frames.length).toBe(n);
    // The slot is reused after the ring's length (what a consumer keeping a frame longer must copy).
    expect(frames[0]!.payload).toBe(frames[RECEIVE_RING_FRAMES]!.payload);
  });

  test("A-law on the wire after a re-INVITE: delivered in the call's μ-law, as decode-then-encode gave", () => {
    const frames: AudioFrame[] = [];
    const { s, clock } = session(frames);
    s.update(REMOTE, "sendrecv", { codec: "PCMA", payloadType: 8 });
    for (let k = 0; k < 10; k++) {
      clock.advance(20);
      s.receive(datagram(k, 8), REMOTE.port, REMOTE.address);
      const pcm = decodeFrame(payloadOf(k), "PCMA");
      expect(frames[k]!.pcm).toEqual(pcm);
      expect(frames[k]!.payload).toEqual(encodeFrame(pcm, "PCMU"));
      expect(frames[k]!.codec).toBe("PCMU");
    }
  });

  test("no typed array is made per packet", () => {
    const frames: AudioFrame[] = [];
    const { s, clock } = session(frames);
    const grams = Array.from({ length: 600 }, (_, k) => datagram(k, 0));
    s.receive(grams[0]!, REMOTE.port, REMOTE.address); // the ring is made at the first frame
    const count = () => {
      const c = heapStats().objectTypeCounts;
      return (c.Int16Array ?? 0) + (c.Uint8Array ?? 0);
    };
    const before = count();
    for (let k = 1; k < grams.length; k++) {
      clock.advance(20);
      s.receive(grams[k]!, REMOTE.port, REMOTE.address);
    }
    // A copy and a decode per packet made 2 × 599 (a collection meanwhile only lowers the count).
    expect(count() - before).toBeLessThan(20);
    expect(frames.length).toBe(600);
  });
});
