import { afterEach, describe, expect, test } from "bun:test";
import { RtpPortPool, type RtpPortLease } from "../../src/rtp/port-pool.ts";
import { configureRtpReceiveBudget, ReceiveBudget, type ReceiveBudgetOptions, rtpReceiveDeferTotals } from "../../src/rtp/receive-budget.ts";
import { waitFor } from "./helpers.ts";

/** Holds the thread `ms` (a handler's work, or the thread busy while datagrams pile up in the kernel). */
function spin(ms: number): void {
  const t = performance.now();
  while (performance.now() - t < ms) {}
}

/** A 172-byte datagram (a 20 ms G.711 RTP packet's size) carrying `socketIndex` and `seq` in its first bytes. */
function datagram(socketIndex: number, seq: number): Uint8Array {
  const d = new Uint8Array(172);
  d[0] = socketIndex;
  d[1] = seq;
  return d;
}

afterEach(() => {
  configureRtpReceiveBudget({}); // the defaults, for the next test file in this process
});

interface BurstResult {
  /** "rtp" per RTP datagram handled, "sip" when the other socket's datagram was handled, in order. */
  events: string[];
  /** Per RTP socket, the sequence numbers in the order handled. */
  seqs: number[][];
  /** Each RTP datagram's `arrivedAt` as its handler got it. */
  arrivals: (number | undefined)[];
  queued: number;
}

/**
 * `n` RTP sockets of a real pool get `per` datagrams each while the thread is busy, then one datagram
 * reaches another socket (standing in for SIP: read in its data callback, handled on a setImmediate as
 * the SIP receive queue does, src/sip/transport/receive-queue.ts). `otherFirst`: that socket was bound
 * before the RTP sockets (the agent's SIP socket is; Bun then reads it first in a poll), else after.
 */
async function burst(budgetMs: number, otherFirst: boolean, n = 20, per = 10, workMs = 0.5): Promise<BurstResult> {
  return burstWith({ budgetMs }, otherFirst, n, per, workMs);
}

async function burstWith(o: ReceiveBudgetOptions, otherFirst = true, n = 20, per = 10, workMs = 0.5): Promise<BurstResult> {
  configureRtpReceiveBudget(o);
  const pool = new RtpPortPool(30000, 39999, "127.0.0.1");
  const leases: RtpPortLease[] = [];
  const r: BurstResult = { events: [], seqs: Array.from({ length: n }, () => []), arrivals: [], queued: 0 };
  const bindOther = () =>
    Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array", socket: { data: () => void setImmediate(() => r.events.push("sip")) } });
  const other = otherFirst ? await bindOther() : undefined;
  const sender = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  let other2: Awaited<ReturnType<typeof bindOther>> | undefined;
  try {
    for (let i = 0; i < n; i++) {
      const l = await pool.allocate();
      l.onPacket = (data, _port, _address, arrivedAt) => {
        spin(workMs);
        r.seqs[data[0]!]!.push(data[1]!);
        r.arrivals.push(arrivedAt);
        r.events.push("rtp");
      };
      leases.push(l);
    }
    other2 = other ?? (await bindOther());
    const queuedBefore = rtpReceiveDeferTotals.queued;
    // All of it arrives while the thread is busy: one poll finds every RTP datagram and the other one.
    for (let s = 0; s < per; s++) for (let i = 0; i < n; i++) sender.send(datagram(i, s), leases[i]!.port, "127.0.0.1");
    sender.send(new Uint8Array([1]), other2.port, "127.0.0.1");
    spin(50);
    await waitFor(() => r.events.length === n * per + 1, 10_000);
    r.queued = rtpReceiveDeferTotals.queued - queuedBefore;
    return r;
  } finally {
    for (const l of leases) l.release();
    other2?.close();
    sender.close();
  }
}

describe("RTP receive budget per event-loop turn (real sockets)", () => {
  for (const otherFirst of [true, false]) {
    test(`a datagram on another socket is handled before a burst waiting in 20 RTP sockets is; each socket's order kept (other socket bound ${otherFirst ? "first" : "last"})`, async () => {
      const r = await burst(4, otherFirst);
      const at = r.events.indexOf("sip");
      // Past the first turn's 4 ms budget (~8 datagrams of 0.5 ms) the RTP datagrams wait for later
      // slices; the other socket's work runs between them, not after all 200 (~100 ms).
      expect(at).toBeGreaterThanOrEqual(0);
      expect(at).toBeLessThan(100);
      for (const s of r.seqs) expect(s).toEqual(Array.from({ length: 10 }, (_, k) => k));
      expect(r.queued).toBeGreaterThan(100);
      // Queued datagrams carry their arrival time (for the jitter buffer); those handled at once do not.
      expect(r.arrivals.some((a) => a === undefined)).toBe(true);
      expect(r.arrivals.filter((a) => a !== undefined).every((a) => a! <= performance.now())).toBe(true);
    });
  }

  test("arrivalTimes (the agent's SystemClock): every datagram handled at once carries its performance.now() reading", async () => {
    for (const budgetMs of [0, 4]) {
      const before = performance.now();
      const r = await burstWith({ budgetMs, arrivalTimes: true });
      const after = performance.now();
      expect(r.arrivals.length).toBe(200);
      expect(r.arrivals.every((a) => a !== undefined && a >= before && a <= after)).toBe(true);
      // Handled in arrival order (one FIFO): the times never go backwards.
      expect(r.arrivals).toEqual([...r.arrivals].sort((x, y) => x! - y!));
    }
  });

  test("budget 0 (the control: the behaviour before): the other socket's work waits for the whole burst", async () => {
    const r = await burst(0, true);
    expect(r.events.indexOf("sip")).toBe(200);
    expect(r.queued).toBe(0);
  });

  test("past `max` waiting the oldest are dropped and counted; the newest are handled, in order", async () => {
    configureRtpReceiveBudget({ budgetMs: 1, max: 8 });
    const pool = new RtpPortPool(30000, 39999, "127.0.0.1");
    const l = await pool.allocate();
    const sender = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const got: number[] = [];
    const droppedBefore = rtpReceiveDeferTotals.dropped;
    try {
      l.onPacket = (data) => (spin(2), void got.push(data[1]!)); // each over the budget: one per slice
      for (let s = 0; s < 40; s++) sender.send(datagram(0, s), l.port, "127.0.0.1");
      spin(30);
      await waitFor(() => got.length + (rtpReceiveDeferTotals.dropped - droppedBefore) === 40 && got.includes(39), 10_000);
      const dropped = rtpReceiveDeferTotals.dropped - droppedBefore;
      expect(dropped).toBeGreaterThan(0);
      expect(got.length).toBe(40 - dropped);
      expect(got).toEqual([...got].sort((a, b) => a - b));
      expect(got.at(-1)).toBe(39);
      expect(got.length).toBeLessThanOrEqual(40 - 31 + 8); // one per poll handled at once, at most 8 waiting
    } finally {
      l.release();
      sender.close();
    }
  });
});

describe("ReceiveBudget (stepped by hand)", () => {
  test("whenDrained waits for the datagrams queued before it, not for later ones", () => {
    const slices: (() => void)[] = [];
    const rx = new ReceiveBudget({ budgetMs: 1, schedule: (fn) => void slices.push(fn) });
    const got: number[] = [];
    const h = (d: Uint8Array) => (spin(1.5), void got.push(d[1]!));
    rx.admit(h, datagram(0, 0), 1, "a"); // opens the turn, over its budget
    rx.admit(h, datagram(0, 1), 1, "a");
    rx.admit(h, datagram(0, 2), 1, "a");
    expect(got).toEqual([0]);
    expect(rx.pending).toBe(2);
    let drained = false;
    rx.whenDrained(() => (drained = true));
    rx.admit(h, datagram(0, 3), 1, "a"); // queued after the waiter
    slices.shift()!();
    expect([got, drained]).toEqual([[0, 1], false]);
    slices.shift()!();
    expect([got, drained]).toEqual([[0, 1, 2], true]);
    slices.shift()!();
    expect(got).toEqual([0, 1, 2, 3]);
    expect(rx.pending).toBe(0);
    let now = false;
    rx.whenDrained(() => (now = true));
    expect(now).toBe(true);
  });

  test("a slice goes on past its budget (up to sliceMaxMs) while the oldest waiting is older than catchUpMs", () => {
    const slices: (() => void)[] = [];
    const rx = new ReceiveBudget({ budgetMs: 1, catchUpMs: 20, sliceMaxMs: 200, schedule: (fn) => void slices.push(fn) });
    const got: number[] = [];
    const h = (d: Uint8Array) => (spin(1.5), void got.push(d[1]!));
    for (let k = 0; k < 6; k++) rx.admit(h, datagram(0, k), 1, "a");
    expect(got).toEqual([0]);
    slices.shift()!(); // young: one datagram, then the budget is spent
    expect(got).toEqual([0, 1]);
    spin(25); // the oldest waiting is now over 20 ms old: the slice catches up
    slices.shift()!();
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("a handler that throws is reported; the datagrams after it are still handled", () => {
    const slices: (() => void)[] = [];
    const errors: unknown[] = [];
    const rx = new ReceiveBudget({ budgetMs: 1, schedule: (fn) => void slices.push(fn), onError: (e) => void errors.push(e) });
    const got: number[] = [];
    const h = (d: Uint8Array) => {
      if (d[1] === 1) throw new Error("bad");
      spin(0.1);
      got.push(d[1]!);
    };
    rx.admit((d) => (spin(1.5), h(d)), datagram(0, 0), 1, "a");
    rx.admit(h, datagram(0, 1), 1, "a");
    rx.admit(h, datagram(0, 2), 1, "a");
    while (slices.length > 0) slices.shift()!();
    expect(got).toEqual([0, 2]);
    expect(errors.length).toBe(1);
  });
});
