/**
 * RTP header parser (real bytes, malformed table, fuzz) and stream assembly from datagrams.
 */
import { describe, expect, test } from "bun:test";
import { parseRtp, buildRtp, SequenceUnwrapper, TimestampUnwrapper } from "../support/rtp.ts";
import { rtpStreamsFromDatagrams, assembleByTimestamp, assembleByArrival, pacingStats, streamsByPort } from "../support/rtp-streams.ts";
import type { UdpDatagram } from "../support/pcap.ts";
import { decodeG711 } from "../support/g711.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));

describe("parseRtp", () => {
  test("a PCMU packet as SIPp sends it", () => {
    // V=2, M=1, PT=0, seq 0x1234, ts 0x000000a0, SSRC 0xcafebabe, 4 payload bytes
    const p = parseRtp(hex("80 80 1234 000000a0 cafebabe ff fe 7f 00"))!;
    expect(p).toMatchObject({ marker: true, payloadType: 0, sequenceNumber: 0x1234, timestamp: 0xa0, ssrc: 0xcafebabe, csrcs: [], padding: false, extension: undefined });
    expect(Array.from(p.payload)).toEqual([0xff, 0xfe, 0x7f, 0x00]);
  });

  test("CSRCs, header extension and padding are skipped", () => {
    // V=2 P=1 X=1 CC=1; PT 8; ext profile 0xbede, 1 word; payload 2 bytes; 2 bytes padding (count 2)
    const p = parseRtp(hex("b1 08 0001 00000001 00000002 00000003 bede0001 11223344 d5d5 0002"))!;
    expect(p.csrcs).toEqual([3]);
    expect(p.extension).toEqual({ profile: 0xbede, data: hex("11223344") });
    expect(p.padding).toBe(true);
    expect(Array.from(p.payload)).toEqual([0xd5, 0xd5]);
  });

  const bad: Array<[string, string]> = [
    ["empty", ""],
    ["11 bytes", "80 00 0001 00000001 000000"],
    ["version 1", "40 00 0001 00000001 00000002"],
    ["RTCP receiver report (PT 201)", "81 c9 0007 00000001 00000002 00000003"],
    ["CSRC count past the end", "82 00 0001 00000001 00000002 00000003"],
    ["extension past the end", "90 00 0001 00000001 00000002 bede0002 00000000"],
    ["padding count 0", "a0 00 0001 00000001 00000002 ff 00"],
    ["padding longer than packet", "a0 00 0001 00000001 00000002 ff 09"],
    ["SIP text", "494e56495445207369703a6120534950"],
  ];
  for (const [name, bytes] of bad) test(`rejects: ${name}`, () => expect(parseRtp(hex(bytes || "00").subarray(0, bytes ? undefined : 0))).toBeNull());

  test("build → parse round trip and a seeded fuzz loop never throws", () => {
    const payload = Uint8Array.from({ length: 160 }, (_, i) => i);
    const b = buildRtp({ marker: true, payloadType: 8, sequenceNumber: 65535, timestamp: 0xffffffff, ssrc: 1, payload });
    expect(parseRtp(b)).toMatchObject({ marker: true, payloadType: 8, sequenceNumber: 65535, timestamp: 0xffffffff, ssrc: 1 });
    let x = 12345;
    const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 16);
    for (let i = 0; i < 5000; i++) {
      const buf = Uint8Array.from({ length: rnd() % 40 }, () => rnd() & 0xff);
      if (buf.length) buf[0] = (buf[0]! & 0x3f) | 0x80; // mostly version 2
      const p = parseRtp(buf);
      if (p) expect(p.payload.length).toBeLessThanOrEqual(buf.length - 12);
    }
  });

  test("unwrappers cross 16- and 32-bit wraps both ways", () => {
    const s = new SequenceUnwrapper();
    expect([65534, 65535, 0, 1, 65535, 2].map((v) => s.unwrap(v))).toEqual([65534, 65535, 65536, 65537, 65535, 65538]);
    const t = new TimestampUnwrapper();
    expect([4294967136, 0, 160].map((v) => t.unwrap(v))).toEqual([4294967136, 4294967296, 4294967456]);
  });
});

function dg(timeMs: number, src: number, dst: number, pkt: Uint8Array): UdpDatagram {
  return { timeMs, srcIp: "127.0.0.1", dstIp: "127.0.0.1", srcPort: src, dstPort: dst, payload: pkt };
}

describe("rtpStreamsFromDatagrams / assemble", () => {
  const frame = (v: number) => new Uint8Array(160).fill(v);
  test("groups by SSRC and direction, reorders, drops duplicates, counts loss, unwraps seq", () => {
    const A = 0xa, B = 0xb;
    const seqs = [65534, 65535, 1, 0, 0, 3]; // wrap, reorder (1 before 0), duplicate 0, 2 lost
    const list: UdpDatagram[] = seqs.map((seq, i) => {
      const ext = seq < 100 ? seq + 65536 : seq;
      return dg(1000 + i * 20, 4000, 5000, buildRtp({ payloadType: 0, sequenceNumber: seq, timestamp: (ext - 65534) * 160, ssrc: A, payload: frame(0x80 - (ext - 65534)) }));
    });
    list.push(dg(1001, 5000, 4000, buildRtp({ payloadType: 8, sequenceNumber: 7, timestamp: 0, ssrc: B, payload: frame(0xd5) })));
    list.push(dg(1002, 4000, 5000, hex("494e56495445"))); // not RTP
    list.push(dg(1003, 4000, 5000, buildRtp({ payloadType: 101, sequenceNumber: 9, timestamp: 0, ssrc: 0xc, payload: hex("05 0a 00a0") })));
    const streams = rtpStreamsFromDatagrams(list);
    expect(streams.length).toBe(3);
    const a = streams.find((s) => s.ssrc === A)!;
    expect(a.packets.map((p) => p.extSeq)).toEqual([65534, 65535, 65536, 65537, 65539]);
    expect(a.duplicates).toBe(1);
    expect(a.lost).toBe(1);
    expect(a.reordered).toBe(1); // 0 arrived after 1
    expect(a.law).toBe("mulaw");
    const pcm = assembleByTimestamp(a);
    expect(pcm.length).toBe(6 * 160);
    expect(pcm[4 * 160]).toBe(0); // the lost packet is silence
    expect(pcm[5 * 160]).toBe(decodeG711(new Uint8Array([0x80 - 5]), "mulaw")[0]);
    expect(streamsByPort(streams, 4000).map((s) => s.ssrc)).toEqual([B]);
    expect(streamsByPort(streams, 5000, { from: true }).map((s) => s.ssrc)).toEqual([B]);
    const ev = streams.find((s) => s.ssrc === 0xc)!;
    expect(ev.audioPackets).toEqual([]);
    expect(ev.payloadTypes).toEqual([101]);
    expect(assembleByTimestamp(ev).length).toBe(0);
  });

  test("pacing stats and arrival layout of a talkspurt gap", () => {
    const list: UdpDatagram[] = [];
    for (let i = 0; i < 50; i++) {
      const t = i < 25 ? i * 20 : 1000 + i * 20; // a 1 s pause after 25 packets, timestamps follow wall clock
      list.push(dg(t + (i % 3), 1, 2, buildRtp({ payloadType: 0, sequenceNumber: i, timestamp: t * 8, ssrc: 1, payload: frame(0x00) })));
    }
    const [s] = rtpStreamsFromDatagrams(list);
    const st = pacingStats(s!);
    expect(st.packets).toBe(50);
    expect(st.maxIntervalMs).toBeGreaterThan(1000);
    expect(st.maxDeviationMs).toBeLessThanOrEqual(2);
    expect(st.rateRatio).toBeCloseTo(1, 2);
    expect(assembleByTimestamp(s!).length).toBe((49 * 20 + 1000) * 8 + 160);
    expect(Math.abs(assembleByArrival(s!).length - assembleByTimestamp(s!).length)).toBeLessThanOrEqual(16);
  });
});
