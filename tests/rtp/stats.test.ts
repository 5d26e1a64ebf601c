import { describe, expect, test } from "bun:test";
import { FrameAssembler } from "../../src/rtp/frame-assembler.ts";
import { JitterEstimator } from "../../src/rtp/jitter.ts";
import { LatenessHistogram } from "../../src/rtp/lateness-histogram.ts";
import { ReceptionStats } from "../../src/rtp/reception-stats.ts";
import { SequenceUnwrapper } from "../../src/rtp/sequence-unwrapper.ts";
import { SymmetricLatch } from "../../src/rtp/symmetric-latch.ts";

describe("SequenceUnwrapper", () => {
  test("wraps forward across 65535 → 0 and keeps reordered packets below the maximum", () => {
    const u = new SequenceUnwrapper();
    const seqs = [65533, 65534, 65535, 0, 1, 65535, 3, 2, 32000, 64000, 100];
    expect(seqs.map((s) => u.unwrap(s))).toEqual([65533, 65534, 65535, 65536, 65537, 65535, 65539, 65538, 97536, 129536, 131172]);
    expect(u.max).toBe(131172);
  });

  test("three full cycles stay monotonic", () => {
    const u = new SequenceUnwrapper();
    let prev = -1;
    for (let i = 0; i < 3 * 65536; i += 7) {
      const ext = u.unwrap((40000 + i) & 0xffff);
      expect(ext).toBe(40000 + i);
      expect(ext).toBeGreaterThan(prev);
      prev = ext;
    }
  });
});

describe("ReceptionStats (RFC 3550 A.3)", () => {
  test("gaps count as lost; duplicates and late packets are flagged", () => {
    const r = new ReceptionStats();
    const steps = [1, 2, 3, 6, 7, 7, 5].map((s) => r.record(0xaa, s));
    expect(steps).toEqual(["new_source", "in_order", "in_order", "gap", "in_order", "late", "late"]);
    // expected = 7 - 1 + 1 = 7; received = 7 (incl. the duplicate and the late 5) → lost 0 by A.3.
    expect(r.expected).toBe(7);
    expect(r.lost).toBe(0);
  });

  test("loss across the 16-bit wrap", () => {
    const r = new ReceptionStats();
    for (const s of [65534, 65535, 0, 2, 5]) r.record(1, s);
    expect(r.expected).toBe(8); // 65534 … 65541
    expect(r.lost).toBe(3); // 1, 3, 4
  });

  test("a new SSRC restarts counting and keeps earlier loss", () => {
    const r = new ReceptionStats();
    for (const s of [10, 12]) r.record(1, s); // lost 1
    expect(r.record(2, 500)).toBe("new_source");
    r.record(2, 503); // lost 2
    expect(r.lost).toBe(3);
    expect(r.expected).toBe(3 + 4);
  });
});

describe("JitterEstimator (RFC 3550 A.8)", () => {
  test("perfectly paced packets give 0", () => {
    const j = new JitterEstimator();
    for (let i = 0; i < 50; i++) j.update(i * 160, 1000 + i * 160);
    expect(j.jitter).toBe(0);
  });

  test("exact recurrence J += (|D| - J)/16", () => {
    const j = new JitterEstimator();
    // Arrivals (timestamp units) 0, 200, 320, 480: D = 40, -40, 0 → J = 2.5, 4.84375, 4.541015625
    const arrivals = [0, 200, 320, 480];
    arrivals.forEach((a, i) => j.update(a, i * 160));
    expect(j.jitter).toBe(4.541015625);
    expect(j.jitterMs(8000)).toBeCloseTo(0.5676, 4);
  });

  test("timestamp wrap does not spike", () => {
    const j = new JitterEstimator();
    j.update(0, 0xffffff60);
    j.update(160, 0x00000000); // +160 across the wrap
    j.update(320, 0x000000a0);
    expect(j.jitter).toBe(0);
  });

  test("converges to the mean |D| for alternating ±40 deviations", () => {
    const j = new JitterEstimator();
    let arrival = 0;
    for (let i = 0; i < 400; i++) {
      arrival += i % 2 === 0 ? 120 : 200;
      j.update(arrival, i * 160);
    }
    expect(j.jitter).toBeCloseTo(40, 3);
  });
});

describe("SymmetricLatch (RFC 4961)", () => {
  test("SDP address until the first packet, then the packet's source (port may differ)", () => {
    const l = new SymmetricLatch({ address: "203.0.113.7", port: 4000 });
    expect(l.target).toEqual({ address: "203.0.113.7", port: 4000 });
    expect(l.latched).toBe(false);
    expect(l.observe("203.0.113.7", 31000, 0)).toBe("accepted");
    expect(l.target).toEqual({ address: "203.0.113.7", port: 31000 });
    expect(l.latched).toBe(true);
  });

  test("only the SDP or the signalling address may latch; any other address never does", () => {
    const l = new SymmetricLatch({ address: "10.0.0.5", port: 4000 }, { allowedAddresses: ["198.51.100.2"] });
    expect(l.observe("192.0.2.66", 4000, 0)).toBe("foreign_address");
    expect(l.latched).toBe(false);
    expect(l.observe("::ffff:198.51.100.2", 31000, 20)).toBe("accepted"); // NAT: the signalling's address
    expect(l.target).toEqual({ address: "198.51.100.2", port: 31000 });
    // Even after a long silence a foreign address cannot take over.
    expect(l.observe("192.0.2.66", 31000, 60_000)).toBe("foreign_address");
    expect(l.target.address).toBe("198.51.100.2");
  });

  test("a burst from a second allowed source never moves a live latch; silence >= 500 ms lets it", () => {
    const l = new SymmetricLatch({ address: "192.0.2.1", port: 4000 });
    expect(l.observe("192.0.2.1", 4000, 0)).toBe("accepted");
    // 50 packets from another port while the caller keeps talking every 20 ms: all refused.
    for (let i = 1; i <= 50; i++) {
      expect(l.observe("192.0.2.1", 5000, i * 20 - 1)).toBe("latched_elsewhere");
      expect(l.observe("192.0.2.1", 4000, i * 20)).toBe("accepted");
    }
    expect(l.relatches).toBe(0);
    // The caller goes silent at t = 1000; 499 ms later still refused, at 500 ms the new source takes over.
    expect(l.observe("192.0.2.1", 5000, 1499)).toBe("latched_elsewhere");
    expect(l.observe("192.0.2.1", 5000, 1500)).toBe("accepted");
    expect(l.target).toEqual({ address: "192.0.2.1", port: 5000 });
    expect(l.relatches).toBe(1);
    expect(l.observe("192.0.2.1", 4000, 1520)).toBe("latched_elsewhere"); // the old one is now the stranger
  });

  test("retarget (re-INVITE) allows the new SDP address and latches afresh", () => {
    const l = new SymmetricLatch({ address: "192.0.2.1", port: 4000 });
    l.observe("192.0.2.1", 4000, 0);
    l.retarget({ address: "192.0.2.9", port: 6000 });
    expect(l.latched).toBe(false);
    expect(l.target).toEqual({ address: "192.0.2.9", port: 6000 });
    expect(l.observe("192.0.2.9", 6002, 40)).toBe("accepted");
    expect(l.target).toEqual({ address: "192.0.2.9", port: 6002 });
  });

  test("the latched source's packets (the address string as the socket gives it, here IPv4-mapped upper case) keep it alive; a retarget makes them stale", () => {
    const l = new SymmetricLatch({ address: "192.0.2.1", port: 4000 });
    expect(l.observe("::FFFF:192.0.2.1", 4000, 0)).toBe("accepted");
    expect(l.target).toEqual({ address: "192.0.2.1", port: 4000 });
    for (let t = 20; t <= 1000; t += 20) expect(l.observe("::FFFF:192.0.2.1", 4000, t)).toBe("accepted");
    expect(l.observe("192.0.2.1", 5000, 1499)).toBe("latched_elsewhere"); // seen at 1000: alive
    expect(l.observe("192.0.2.1", 4000, 1510)).toBe("accepted"); // the plain form is the same source
    expect(l.observe("::FFFF:192.0.2.1", 4000, 1530)).toBe("accepted");
    expect(l.relatches).toBe(0);
    l.retarget({ address: "192.0.2.9", port: 6000 });
    expect(l.observe("::FFFF:192.0.2.1", 4000, 1550)).toBe("latched_elsewhere"); // the old stream, still in flight
    expect(l.latched).toBe(false);
    expect(l.observe("192.0.2.9", 6000, 1570)).toBe("accepted");
    expect(l.target).toEqual({ address: "192.0.2.9", port: 6000 });
  });

  test("a hold address (0.0.0.0) allows nothing by itself", () => {
    const l = new SymmetricLatch({ address: "0.0.0.0", port: 0 });
    expect(l.observe("0.0.0.0", 4000, 0)).toBe("foreign_address");
  });
});

describe("FrameAssembler", () => {
  test("re-cuts 10 ms and 30 ms payloads into 160-byte frames", () => {
    const a = new FrameAssembler();
    const seq = (n: number, start: number) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
    expect(a.push(seq(80, 0))).toEqual([]);
    const out = a.push(seq(240, 80));
    expect(out.length).toBe(2);
    expect(out[0]).toEqual(seq(160, 0));
    expect(out[1]).toEqual(seq(160, 160));
    expect(a.buffered).toBe(0);
    const p = seq(160, 7);
    const [f] = a.push(p);
    expect(f).toEqual(p);
    p[0] = 99; // the frame is a copy
    expect(f[0]).toBe(7);
    a.push(seq(100, 0));
    a.reset();
    expect(a.buffered).toBe(0);
  });
});

describe("LatenessHistogram", () => {
  test("buckets by upper bound", () => {
    const h = new LatenessHistogram();
    for (const v of [-1, 0, 0.5, 0.7, 3, 4.2, 19, 200]) h.record(v);
    const s = h.snapshot();
    // 1 ms resolution up to 8 ms: a p99 at or under the 5 ms line shows as ≤ 5, and 6.5 reads apart from 7.9.
    expect(s.counts).toEqual([3, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1]);
    expect(s.maxMs).toBe(200);
    expect(h.quantile(0.5)).toBe(1);
    expect(h.quantile(1)).toBe(Infinity);
    expect(new LatenessHistogram().quantile(0.5)).toBe(0);
  });
});
