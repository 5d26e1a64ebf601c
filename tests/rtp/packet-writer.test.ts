import { describe, expect, test } from "bun:test";
import { RtpPacketWriter, parseRtp, serializeRtp } from "../../src/rtp/packet.ts";
import { G711A_SPEECH, hex, toHex } from "./fixtures.ts";
import { mulberry32 } from "./helpers.ts";

/** A socket that keeps a copy of each datagram (Bun's sendto copies at once; the writer reuses its buffer). */
function recorder(answer: () => boolean = () => true) {
  const sent: { bytes: string; port: number; address: string }[] = [];
  return { sent, send: (data: Uint8Array, port: number, address: string) => (sent.push({ bytes: toHex(data), port, address }), answer()) };
}

describe("RtpPacketWriter (the one packet writer of both send paths)", () => {
  test("a real G.711 A-law packet: the same bytes as parse → serialize", () => {
    const bytes = G711A_SPEECH;
    const p = parseRtp(bytes);
    const w = new RtpPacketWriter(p.ssrc, p.sequenceNumber);
    const s = recorder();
    expect(w.send(s, p.payloadType, p.payload, p.marker, p.timestamp, 4000, "127.0.0.1")).toBe(bytes.length);
    expect(s.sent).toEqual([{ bytes: toHex(bytes), port: 4000, address: "127.0.0.1" }]);
  });

  test("seeded table: every packet identical to serializeRtp, sequence numbers wrap at 2^16", () => {
    const rnd = mulberry32(13);
    const ssrc = 0xfedcba98;
    const w = new RtpPacketWriter(ssrc, 0xfffd);
    const s = recorder();
    const want: string[] = [];
    for (let i = 0; i < 200; i++) {
      const len = i % 7 === 0 ? Math.floor(rnd() * 400) : 160; // other sizes too (a 10/30 ms peer, a DTMF event)
      const payload = new Uint8Array(len).map(() => Math.floor(rnd() * 256));
      const marker = rnd() < 0.2;
      const payloadType = Math.floor(rnd() * 128);
      const timestamp = Math.floor(rnd() * 2 ** 32);
      want.push(toHex(serializeRtp({ marker, payloadType, sequenceNumber: (0xfffd + i) & 0xffff, timestamp, ssrc, payload })));
      expect(w.send(s, payloadType, payload, marker, timestamp, 5000, "::1")).toBe(12 + len);
    }
    expect(s.sent.map((x) => x.bytes)).toEqual(want);
    expect(w.seq).toBe((0xfffd + 200) & 0xffff);
  });

  test("a refused or throwing send returns 0 and the sequence number still advances (RFC 3550 §5.1)", () => {
    const w = new RtpPacketWriter(1, 7);
    expect(w.send(recorder(() => false), 0, new Uint8Array(160), false, 0, 1, "127.0.0.1")).toBe(0);
    const boom = { send: () => { throw new Error("EHOSTUNREACH"); } };
    expect(w.send(boom, 0, new Uint8Array(160), false, 160, 1, "127.0.0.1")).toBe(0);
    expect(w.seq).toBe(9);
    const s = recorder();
    w.send(s, 0, new Uint8Array(160), false, 320, 1, "127.0.0.1");
    expect(parseRtp(hex(s.sent[0]!.bytes)).sequenceNumber).toBe(9);
  });
});

describe("parseRtp without a DataView", () => {
  test("CC = 0 gives a frozen shared empty CSRC list; CC > 0 a list of its own", () => {
    const a = parseRtp(G711A_SPEECH);
    const b = parseRtp(G711A_SPEECH);
    expect(a.csrc).toEqual([]);
    expect(a.csrc).toBe(b.csrc);
    expect(Object.isFrozen(a.csrc)).toBe(true);
    const withCsrc = serializeRtp({ marker: false, payloadType: 0, sequenceNumber: 1, timestamp: 0xffffffff, ssrc: 0x80000001, csrc: [0xffffffff, 2], payload: new Uint8Array(4) });
    const p = parseRtp(withCsrc);
    expect(p.csrc).toEqual([0xffffffff, 2]);
    expect(p.timestamp).toBe(0xffffffff);
    expect(p.ssrc).toBe(0x80000001);
  });
});
