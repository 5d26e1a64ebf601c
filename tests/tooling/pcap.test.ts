/**
 * Capture-file reading: hand-built libpcap/pcapng bytes, link types, truncation, streaming in small
 * chunks, and a pcapng written by Wireshark's own editcap.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcapStreamReader, readCaptureFile, udpFromRecord, udpDatagramsFromFile, PcapFormatError, type PcapRecord } from "../support/pcap.ts";

/** IPv4 + UDP bytes for 127.0.0.1:src → 127.0.0.2:dst carrying `payload`. */
function ipv4Udp(src: number, dst: number, payload: Uint8Array, fragOffset = 0): Uint8Array {
  const b = new Uint8Array(28 + payload.length);
  const dv = new DataView(b.buffer);
  b[0] = 0x45;
  dv.setUint16(2, b.length);
  dv.setUint16(6, fragOffset);
  b[8] = 64;
  b[9] = 17;
  b.set([127, 0, 0, 1], 12);
  b.set([127, 0, 0, 2], 16);
  dv.setUint16(20, src);
  dv.setUint16(22, dst);
  dv.setUint16(24, 8 + payload.length);
  b.set(payload, 28);
  return b;
}

const ether = (ip: Uint8Array, type = 0x0800) => Uint8Array.from([...new Uint8Array(12), type >> 8, type & 0xff, ...ip]);

function pcapFile(frames: Uint8Array[], opts: { little?: boolean; nano?: boolean; linkType?: number } = {}): Uint8Array {
  const little = opts.little ?? true;
  const parts: number[] = [];
  const u32 = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, little);
    parts.push(...b);
  };
  const u16 = (v: number) => {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, little);
    parts.push(...b);
  };
  u32(opts.nano ? 0xa1b23c4d : 0xa1b2c3d4);
  u16(2);
  u16(4);
  u32(0);
  u32(0);
  u32(262144);
  u32(opts.linkType ?? 1);
  frames.forEach((f, i) => {
    u32(1_700_000_000 + i);
    u32(opts.nano ? 500_000_000 : 500_000);
    u32(f.length);
    u32(f.length);
    parts.push(...f);
  });
  return Uint8Array.from(parts);
}

const text = (s: string) => new TextEncoder().encode(s);

describe("libpcap", () => {
  test("Ethernet/IPv4/UDP records, both byte orders, µs and ns", () => {
    const frames = [ether(ipv4Udp(5060, 5070, text("INVITE"))), ether(ipv4Udp(20000, 30000, text("rtp")))];
    for (const little of [true, false]) {
      for (const nano of [false, true]) {
        const d = udpDatagramsFromFile(pcapFile(frames, { little, nano }));
        expect(d.map((x) => [x.srcIp, x.srcPort, x.dstIp, x.dstPort, new TextDecoder().decode(x.payload)])).toEqual([
          ["127.0.0.1", 5060, "127.0.0.2", 5070, "INVITE"],
          ["127.0.0.1", 20000, "127.0.0.2", 30000, "rtp"],
        ]);
        expect(d[0]!.timeMs).toBeCloseTo(1_700_000_000_500, 3);
      }
    }
  });

  test("link types NULL (0), RAW (101), LINUX_SLL (113), LINUX_SLL2 (276); VLAN-tagged Ethernet", () => {
    const ip = ipv4Udp(1, 2, text("x"));
    const sll = Uint8Array.from([...new Uint8Array(14), 0x08, 0x00, ...ip]);
    const sll2 = Uint8Array.from([0x08, 0x00, ...new Uint8Array(18), ...ip]);
    const vlan = Uint8Array.from([...new Uint8Array(12), 0x81, 0x00, 0, 5, 0x08, 0x00, ...ip]);
    const cases: Array<[number, Uint8Array]> = [[0, Uint8Array.from([2, 0, 0, 0, ...ip])], [101, ip], [113, sll], [276, sll2], [1, vlan]];
    for (const [linkType, data] of cases) expect(udpFromRecord({ timeMs: 0, linkType, data })?.dstPort).toBe(2);
  });

  test("non-UDP, fragments, ARP, truncated frames give null", () => {
    const udp = ipv4Udp(1, 2, text("hello"));
    const tcp = udp.slice();
    tcp[9] = 6;
    const rec = (data: Uint8Array, linkType = 1): PcapRecord => ({ timeMs: 0, linkType, data });
    expect(udpFromRecord(rec(ether(tcp)))).toBeNull();
    expect(udpFromRecord(rec(ether(ipv4Udp(1, 2, text("x"), 100))))).toBeNull();
    expect(udpFromRecord(rec(ether(udp, 0x0806)))).toBeNull();
    expect(udpFromRecord(rec(ether(udp).subarray(0, 40)))).toBeNull();
    expect(udpFromRecord(rec(udp, 999))).toBeNull();
  });

  test("streaming in 7-byte chunks yields the same records; a partial record waits", () => {
    const file = pcapFile([ether(ipv4Udp(1, 2, text("a"))), ether(ipv4Udp(3, 4, text("bb")))]);
    const r = new PcapStreamReader();
    const got: PcapRecord[] = [];
    for (let i = 0; i < file.length; i += 7) got.push(...r.push(file.subarray(i, i + 7)));
    expect(got.map((x) => udpFromRecord(x)!.srcPort)).toEqual([1, 3]);
    expect(r.linkType).toBe(1);
    expect(new PcapStreamReader().push(file.subarray(0, file.length - 1)).length).toBe(1);
  });

  test("bad magic throws PcapFormatError", () => {
    expect(() => readCaptureFile(text("not a capture file at all"))).toThrow(PcapFormatError);
  });
});

describe("pcapng", () => {
  test("a file converted by Wireshark's editcap reads the same as the pcap", () => {
    const dir = mkdtempSync(join(tmpdir(), "pcapng-"));
    try {
      const pcap = pcapFile([ether(ipv4Udp(5060, 5070, text("OPTIONS"))), ether(ipv4Udp(7000, 7002, text("rtp!")))], { nano: true });
      writeFileSync(join(dir, "a.pcap"), pcap);
      const p = Bun.spawnSync(["editcap", "-F", "pcapng", join(dir, "a.pcap"), join(dir, "a.pcapng")]);
      expect(p.exitCode).toBe(0);
      const ng = new Uint8Array(readFileSync(join(dir, "a.pcapng")));
      expect(new DataView(ng.buffer).getUint32(0)).toBe(0x0a0d0d0a);
      const a = udpDatagramsFromFile(pcap);
      const b = udpDatagramsFromFile(ng);
      expect(b.map((d) => [d.srcPort, d.dstPort, new TextDecoder().decode(d.payload)])).toEqual(a.map((d) => [d.srcPort, d.dstPort, new TextDecoder().decode(d.payload)]));
      expect(b[0]!.timeMs).toBeCloseTo(a[0]!.timeMs, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a block running past the end throws", () => {
    const shb = Uint8Array.from([0x0a, 0x0d, 0x0d, 0x0a, 0xff, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a]);
    expect(() => readCaptureFile(shb)).toThrow(PcapFormatError);
  });
});
