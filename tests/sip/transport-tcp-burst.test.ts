/**
 * SIP over TCP: one connection's burst of pipelined messages is handled in slices, so the call thread
 * (the one that paces RTP) gets its turns in between (src/sip/transport/tcp.ts); a connection that
 * holds more unhandled bytes than the pause mark stops being read until its backlog drains (read
 * backpressure), and one past the hard cap is closed. Real sockets on 127.0.0.1.
 */
import { afterEach, expect, test } from "bun:test";
import type { SipMessage } from "../../src/sip/message/index.ts";
import { STREAM_SLICE_MESSAGES, SourceGate, StreamTransport, sipRefusedTotals } from "../../src/sip/transport/index.ts";
import { TRUNK_OPTIONS } from "./fixtures.ts";

const cleanup: Array<() => void> = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

/** `n` pipelined OPTIONS, CSeq 1..n, as one block of bytes (~300 B each). */
const burst = (n: number) => Array.from({ length: n }, (_, i) => TRUNK_OPTIONS.replace("CSeq: 10 OPTIONS", `CSeq: ${i + 1} OPTIONS`)).join("");

async function connect(port: number) {
  const state = { closed: false };
  const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data: () => {}, close: () => void (state.closed = true) } });
  cleanup.push(() => s.end());
  return { s, state };
}

const cseqOf = (m: SipMessage) => Number(/^\d+/.exec(m.headers.get("CSeq") ?? "")?.[0]);

const until = async (f: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await Bun.sleep(10);
};

test("a 2,000-message burst on one connection yields to the event loop between slices, in order", async () => {
  const tcp = await StreamTransport.listen({ host: "127.0.0.1", port: 0, limits: { maxBufferedBytes: 4 << 20 } });
  cleanup.push(() => tcp.close());
  const cseqs: number[] = [];
  let timerSawAt = -1;
  // Messages handled between two turns of the event loop (a setImmediate ticker runs once per turn).
  let sinceTick = 0;
  let mostPerTurn = 0;
  let ticking = true;
  const tick = () => {
    sinceTick = 0;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  cleanup.push(() => void (ticking = false));
  tcp.onMessage = (m) => {
    cseqs.push(cseqOf(m));
    mostPerTurn = Math.max(mostPerTurn, ++sinceTick);
    if (cseqs.length === 1) setTimeout(() => void (timerSawAt = cseqs.length), 0);
  };
  const c = await connect(tcp.local.port);
  const bytes = burst(2000);
  expect(bytes.length).toBeGreaterThan(500_000);
  c.s.write(bytes);
  await until(() => cseqs.length === 2000);
  expect(cseqs.length).toBe(2000);
  expect(cseqs).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1)); // order kept
  // A timer scheduled at the first message fired while most of the burst was still unhandled.
  expect(timerSawAt).toBeGreaterThan(0);
  expect(timerSawAt).toBeLessThan(2000);
  // At most one slice per turn (plus one begun by a newly read chunk when the backlog was empty).
  expect(mostPerTurn).toBeLessThanOrEqual(2 * STREAM_SLICE_MESSAGES);
  expect(c.state.closed).toBe(false);
});

test("a peer pipelining faster than it is served is slowed, not cut: reading pauses past the mark, every message is delivered in order", async () => {
  const tcp = await StreamTransport.listen({ host: "127.0.0.1", port: 0, limits: { pauseBufferedBytes: 32 * 1024, resumeBufferedBytes: 8 * 1024 } });
  cleanup.push(() => tcp.close());
  const cseqs: number[] = [];
  tcp.onMessage = (m) => void cseqs.push(cseqOf(m));
  const before = sipRefusedTotals.tcp_backlog;
  const c = await connect(tcp.local.port);
  const bytes = burst(5000); // ~1.5 MB, in one write
  expect(bytes.length).toBeGreaterThan(1_400_000);
  c.s.write(bytes);
  await until(() => cseqs.length === 5000 || c.state.closed);
  expect(c.state.closed).toBe(false);
  expect(cseqs).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
  expect(sipRefusedTotals.tcp_backlog - before).toBe(0);
  expect(tcp.backpressure.pauses).toBeGreaterThan(0);
  // What the connection held never came near the burst: the pause mark plus about one read.
  expect(tcp.backpressure.peakBufferedBytes).toBeLessThan(bytes.length / 2);
  // The connection still serves requests after the burst.
  c.s.write(burst(1));
  await until(() => cseqs.length === 5001);
  expect(cseqs.length).toBe(5001);
});

test("bytes arriving past the hard cap (the pause did not hold: here the mark is above the cap) close the connection (tcp_backlog)", async () => {
  const tcp = await StreamTransport.listen({ host: "127.0.0.1", port: 0, limits: { pauseBufferedBytes: 4 << 20, maxBufferedBytes: 32 * 1024 } });
  cleanup.push(() => tcp.close());
  let handled = 0;
  tcp.onMessage = () => void handled++;
  const before = sipRefusedTotals.tcp_backlog;
  const c = await connect(tcp.local.port);
  await until(() => tcp.connections === 1, 3000);
  c.s.write(burst(5000)); // ~1.5 MB
  await until(() => c.state.closed);
  expect(c.state.closed).toBe(true);
  expect(tcp.connections).toBe(0);
  expect(sipRefusedTotals.tcp_backlog - before).toBe(1); // voice_agent_sip_refused_total{reason="tcp_backlog"}
  expect(handled).toBeLessThan(5000);
  // The listener still serves others.
  const other = await connect(tcp.local.port);
  other.s.write(burst(3));
  await until(() => handled >= 3);
  expect(tcp.connections).toBe(1);
});

test("over the source's rate, pipelined requests are dropped by the gate before they are parsed", async () => {
  const gate = new SourceGate({ ratePerSecond: 1, burst: 20, now: () => 0 }); // a frozen clock: no refill
  const tcp = await StreamTransport.listen({ host: "127.0.0.1", port: 0, gate, limits: { maxBufferedBytes: 4 << 20 } });
  cleanup.push(() => tcp.close());
  const cseqs: number[] = [];
  tcp.onMessage = (m) => void cseqs.push(cseqOf(m));
  const rated = sipRefusedTotals.rate_limited;
  const malformed = sipRefusedTotals.malformed_rejected;
  const c = await connect(tcp.local.port);
  // 500 requests, then 100 whose CSeq does not parse: over the rate, none of them is parsed (no 400s).
  const broken = TRUNK_OPTIONS.replace("CSeq: 10 OPTIONS", "CSeq: x OPTIONS").repeat(100);
  c.s.write(burst(500) + broken);
  await until(() => sipRefusedTotals.rate_limited - rated + sipRefusedTotals.malformed_rejected - malformed + cseqs.length >= 600);
  expect(cseqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  expect(sipRefusedTotals.rate_limited - rated).toBe(580);
  expect(sipRefusedTotals.malformed_rejected - malformed).toBe(0);
});
