/**
 * SIP over TCP: one source's connections share one read budget, and the process has one across
 * sources (src/sip/transport/stream-budget.ts). Real sockets on 127.0.0.0/8, each source its own
 * loopback address (node:net's localAddress): many connections from 127.0.0.2 bursting pipelined
 * OPTIONS, a second source's OPTIONS beside them.
 */
import { afterEach, expect, test } from "bun:test";
import net from "node:net";
import type { SipMessage } from "../../src/sip/message/index.ts";
import { StreamBudget, StreamTransport, sipRefusedTotals } from "../../src/sip/transport/index.ts";
import { TRUNK_OPTIONS } from "./fixtures.ts";

const cleanup: Array<() => void> = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

/** `n` pipelined OPTIONS, CSeq 1..n, as one block of bytes (~300 B each). */
const burst = (n: number) => Array.from({ length: n }, (_, i) => TRUNK_OPTIONS.replace("CSeq: 10 OPTIONS", `CSeq: ${i + 1} OPTIONS`)).join("");
const cseqOf = (m: SipMessage) => Number(/^\d+/.exec(m.headers.get("CSeq") ?? "")?.[0]);

const until = async (f: () => boolean, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await Bun.sleep(10);
};

/** A connection from `from` (a loopback address) to the listener. */
async function connectFrom(from: string, port: number) {
  const state = { closed: false };
  const s = net.connect({ host: "127.0.0.1", port, localAddress: from });
  s.on("close", () => void (state.closed = true));
  s.on("error", () => {});
  await new Promise<void>((r, j) => {
    s.once("connect", () => r());
    s.once("error", j);
  });
  cleanup.push(() => s.destroy());
  return { s, state };
}

/** Messages delivered, as CSeq lists by "host:port" of the connection they came on. */
function record(tcp: StreamTransport) {
  const by = new Map<string, number[]>();
  let n = 0;
  tcp.onMessage = (m, src) => {
    const k = `${src.host}:${src.port}`;
    by.set(k, [...(by.get(k) ?? []), cseqOf(m)]);
    n++;
  };
  return { by, count: () => n, from: (host: string) => [...by.entries()].filter(([k]) => k.startsWith(`${host}:`)) };
}

test("a source bursting on 8 connections is paused as a whole past its mark; every message arrives in order; a second source is still read", async () => {
  // Per-connection marks as shipped (256 KB); the source's marks low, so the shared budget is what pauses.
  const budget = new StreamBudget({ sourcePauseBytes: 64 * 1024, sourceResumeBytes: 16 * 1024 });
  const tcp = await StreamTransport.listen({ host: "127.0.0.1", port: 0, budget });
  cleanup.push(() => tcp.close());
  const got = record(tcp);
  const bytes = burst(700); // ~210 KB per connection: under one connection's own pause mark
  expect(bytes.length).toBeLessThan(256 * 1024);
  const heavy = await Promise.all(Array.from({ length: 8 }, () => connectFrom("127.0.0.2", tcp.local.port)));
  await until(() => tcp.connections === 8, 5000);
  for (const c of heavy) c.s.write(bytes);
  // Wait until the source is over its mark and being paused, then the second source speaks.
  await until(() => tcp.backpressure.pauses > 0, 10_000);
  expect(tcp.backpressure.pauses).toBeGreaterThan(0);
  const light = await connectFrom("127.0.0.3", tcp.local.port);
  light.s.write(burst(3));
  await until(() => got.from("127.0.0.3").some(([, l]) => l.length === 3));
  const heavyDoneWhenLightDone = got.from("127.0.0.2").reduce((a, [, l]) => a + l.length, 0);
  await until(() => got.count() === 8 * 700 + 3);
  // The second source was served before the first one's 5,600 messages were all handled.
  expect(heavyDoneWhenLightDone).toBeLessThan(8 * 700);
  const fromHeavy = got.from("127.0.0.2");
  expect(fromHeavy.length).toBe(8);
  for (const [, l] of fromHeavy) expect(l).toEqual(Array.from({ length: 700 }, (_, i) => i + 1));
  expect(heavy.every((c) => !c.state.closed)).toBe(true);
  // Everything handled: nothing is left counted.
  expect(budget.total).toBe(0);
  expect(budget.heldBy("127.0.0.2")).toBe(0);
}, 60_000);

test("a chunk that would take its source past the source's cap closes that connection (tcp_backlog); another source's connection is untouched", async () => {
  // No pause at all (marks above everything), a 256 KB cap per source: the cap alone bounds what is held.
  const budget = new StreamBudget({ sourcePauseBytes: 1 << 30, totalPauseBytes: 1 << 30, sourceMaxBytes: 256 * 1024 });
  const tcp = await StreamTransport.listen({ host: "127.0.0.1", port: 0, budget, limits: { pauseBufferedBytes: 1 << 30, maxBufferedBytes: 1 << 30 } });
  cleanup.push(() => tcp.close());
  const got = record(tcp);
  const before = sipRefusedTotals.tcp_backlog;
  const light = await connectFrom("127.0.0.3", tcp.local.port);
  const heavy = await Promise.all(Array.from({ length: 8 }, () => connectFrom("127.0.0.2", tcp.local.port)));
  await until(() => tcp.connections === 9, 5000);
  const bytes = burst(1000); // 8 × ~300 KB: far over the source's 256 KB
  for (const c of heavy) c.s.write(bytes);
  await until(() => heavy.some((c) => c.state.closed));
  expect(heavy.some((c) => c.state.closed)).toBe(true);
  expect(sipRefusedTotals.tcp_backlog - before).toBeGreaterThan(0);
  expect(budget.peak.source).toBeLessThanOrEqual(256 * 1024);
  light.s.write(burst(2));
  await until(() => got.from("127.0.0.3").some(([, l]) => l.length === 2));
  expect(got.from("127.0.0.3")[0]?.[1]).toEqual([1, 2]);
  expect(light.state.closed).toBe(false);
}, 60_000);

test("over the process's mark, heavy sources pause and a source holding little is still read; over the process's cap a connection closes", async () => {
  const budget = new StreamBudget({ sourcePauseBytes: 1 << 30, sourceResumeBytes: 16 * 1024, totalPauseBytes: 64 * 1024, totalMaxBytes: 1 << 30 });
  const tcp = await StreamTransport.listen({ host: "127.0.0.1", port: 0, budget });
  cleanup.push(() => tcp.close());
  const got = record(tcp);
  const a = await Promise.all(Array.from({ length: 4 }, () => connectFrom("127.0.0.2", tcp.local.port)));
  const b = await Promise.all(Array.from({ length: 4 }, () => connectFrom("127.0.0.4", tcp.local.port)));
  await until(() => tcp.connections === 8, 5000);
  const bytes = burst(700); // under one connection's own pause mark
  for (const c of [...a, ...b]) c.s.write(bytes);
  await until(() => tcp.backpressure.pauses > 0, 10_000);
  expect(tcp.backpressure.pauses).toBeGreaterThan(0);
  const light = await connectFrom("127.0.0.3", tcp.local.port);
  light.s.write(burst(1));
  await until(() => got.from("127.0.0.3").length === 1);
  const heavyWhenLight = got.count() - 1;
  await until(() => got.count() === 8 * 700 + 1);
  expect(heavyWhenLight).toBeLessThan(8 * 700);
  expect(got.count()).toBe(8 * 700 + 1);
  expect([...a, ...b].every((c) => !c.state.closed)).toBe(true);
  expect(budget.total).toBe(0);

  // The process's hard cap: a second listener sharing the budget (TLS's, in the agent) counts into it too.
  const capped = new StreamBudget({ sourcePauseBytes: 1 << 30, totalPauseBytes: 1 << 30, totalMaxBytes: 128 * 1024 });
  const t1 = await StreamTransport.listen({ host: "127.0.0.1", port: 0, budget: capped, limits: { pauseBufferedBytes: 1 << 30, maxBufferedBytes: 1 << 30 } });
  const t2 = await StreamTransport.listen({ host: "127.0.0.1", port: 0, budget: capped, limits: { pauseBufferedBytes: 1 << 30, maxBufferedBytes: 1 << 30 } });
  cleanup.push(() => t1.close(), () => t2.close());
  const before = sipRefusedTotals.tcp_backlog;
  const conns = [...(await Promise.all([2, 3, 4].map((h) => connectFrom(`127.0.0.${h}`, t1.local.port)))), ...(await Promise.all([5, 6].map((h) => connectFrom(`127.0.0.${h}`, t2.local.port))))];
  await until(() => t1.connections + t2.connections === 5, 5000);
  for (const c of conns) c.s.write(bytes);
  await until(() => conns.some((c) => c.state.closed));
  expect(sipRefusedTotals.tcp_backlog - before).toBeGreaterThan(0);
  expect(capped.peak.total).toBeLessThanOrEqual(128 * 1024);
}, 60_000);
