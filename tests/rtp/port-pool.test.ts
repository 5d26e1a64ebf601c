import { describe, expect, test } from "bun:test";
import { RtpPortPoolError } from "../../src/rtp/errors.ts";
import { RtpPortPool, type RtpPortLease } from "../../src/rtp/port-pool.ts";
import { RtpSession } from "../../src/rtp/session.ts";
import { holdEvenPort, rtpReceiver, waitFor } from "./helpers.ts";

async function poolError(p: Promise<unknown>): Promise<RtpPortPoolError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RtpPortPoolError) return e;
    throw e;
  }
  throw new Error("expected RtpPortPoolError");
}

describe("RtpPortPool", () => {
  test("only even ports whose odd RTCP partner fits the range", () => {
    expect(new RtpPortPool(21001, 21010, "127.0.0.1").size).toBe(4); // 21002 … 21008
    expect(new RtpPortPool(21000, 21001, "127.0.0.1").size).toBe(1);
    expect(() => new RtpPortPool(21000, 21000)).toThrow(RtpPortPoolError);
    expect(() => new RtpPortPool(21001, 21001)).toThrow(RtpPortPoolError);
  });

  test("skips a port another process holds; exhausted when none is left; release returns ports", async () => {
    const blocker = await holdEvenPort();
    const pool = new RtpPortPool(blocker.port, blocker.port + 3, "127.0.0.1"); // even ports P (held) and P+2
    try {
      expect([pool.size, pool.free, pool.inUse]).toEqual([2, 2, 0]);
      const a = await pool.allocate();
      expect(a.port).toBe(blocker.port + 2);
      expect(a.port % 2).toBe(0);
      expect([pool.free, pool.inUse]).toEqual([1, 1]);
      const e = await poolError(pool.allocate()); // P is still held by the blocker
      expect(e.code).toBe("exhausted");
      expect(e.retryable).toBe(true);
      expect([pool.free, pool.inUse]).toEqual([1, 1]);
      blocker.close();
      const b = await pool.allocate();
      expect(b.port).toBe(blocker.port);
      expect(pool.free).toBe(0);
      a.release();
      a.release(); // harmless
      expect([pool.free, pool.inUse]).toEqual([1, 1]);
      expect(a.released).toBe(true);
      expect(a.socket.closed).toBe(true);
      b.release();
      expect([pool.free, pool.inUse]).toEqual([2, 0]);
    } finally {
      blocker.close();
      pool.releaseAll();
    }
  });

  test("no file descriptor left (EMFILE/ENFILE) is no_descriptors, retryable; another bind error stays bind_failed", async () => {
    const failing = (code: string) => async () => {
      throw Object.assign(new Error(code), { code });
    };
    for (const code of ["EMFILE", "ENFILE"]) {
      const e = await poolError(new RtpPortPool(21000, 21003, "127.0.0.1", failing(code)).allocate());
      expect([e.code, e.retryable]).toEqual(["no_descriptors", true]);
    }
    const e = await poolError(new RtpPortPool(21000, 21003, "127.0.0.1", failing("EADDRNOTAVAIL")).allocate());
    expect([e.code, e.retryable]).toEqual(["bind_failed", false]);
  });

  test("concurrent allocations never get the same port", async () => {
    const base = await holdEvenPort();
    const start = base.port;
    base.close();
    const pool = new RtpPortPool(start, start + 39, "127.0.0.1");
    const leases = await Promise.all(Array.from({ length: 8 }, () => pool.allocate()));
    expect(new Set(leases.map((l) => l.port)).size).toBe(8);
    expect(pool.inUse).toBe(8);
    pool.releaseAll();
    expect(pool.inUse).toBe(0);
  });

  test("ports are drawn at random, not in order: consecutive leases are not predictable", async () => {
    const pool = new RtpPortPool(27000, 27399, "127.0.0.1"); // 200 even ports
    const ports: number[] = [];
    for (let i = 0; i < 20; i++) {
      const l = await pool.allocate();
      ports.push(l.port);
      l.release(); // released at once: round-robin would still hand out 27000, 27002, 27004, ...
    }
    const steps = ports.slice(1).map((p, i) => p - ports[i]!);
    // Round-robin gives 19 steps of +2; 20 uniform draws from 200 ports give at most a few by chance.
    expect(steps.filter((d) => d === 2).length).toBeLessThan(5);
    expect(new Set(ports).size).toBeGreaterThan(15);
    expect(ports.every((p) => p % 2 === 0 && p >= 27000 && p + 1 <= 27399)).toBe(true);
    expect(pool.inUse).toBe(0);
  });

  test("a host that is not local fails with bind_failed (not retryable)", async () => {
    const pool = new RtpPortPool(40000, 40009, "192.0.2.123");
    const e = await poolError(pool.allocate());
    expect(e.code).toBe("bind_failed");
    expect(e.retryable).toBe(false);
    expect(pool.inUse).toBe(0);
  });

  test("datagrams reach lease.onPacket with the sender's address", async () => {
    const pool = new RtpPortPool(26000, 26199, "127.0.0.1");
    const lease = await pool.allocate();
    const got: [number, string, number][] = [];
    lease.onPacket = (d, port, address) => got.push([d.length, address, port]);
    const rx = await rtpReceiver();
    rx.socket.send(new Uint8Array(5), lease.port, "127.0.0.1");
    await waitFor(() => got.length === 1);
    expect(got[0]).toEqual([5, "127.0.0.1", rx.port]);
    rx.socket.close();
    lease.release();
  });

  test("100 sessions from the pool, each sending; all released → pool full, no socket left", async () => {
    const pool = new RtpPortPool(26400, 26799, "127.0.0.1");
    const rx = await rtpReceiver();
    const leases: RtpPortLease[] = [];
    const sessions: RtpSession[] = [];
    for (let i = 0; i < 100; i++) {
      const lease = await pool.allocate();
      leases.push(lease);
      sessions.push(new RtpSession({ lease, remote: { address: "127.0.0.1", port: rx.port }, codec: "PCMU", payloadType: 0 }));
    }
    expect(pool.inUse).toBe(100);
    expect(pool.free).toBe(pool.size - 100);
    expect(new Set(leases.map((l) => l.port)).size).toBe(100);
    expect(leases.every((l) => l.port % 2 === 0 && l.port >= 26400 && l.port < 26799)).toBe(true);
    for (const s of sessions) s.sendFrame(new Uint8Array(160).fill(0xff), true);
    await waitFor(() => rx.got.length === 100);
    expect(new Set(rx.got.map((g) => g.from.port)).size).toBe(100);
    expect(new Set(rx.got.map((g) => g.packet.ssrc)).size).toBe(100);
    for (const s of sessions) s.close();
    for (const s of sessions) s.close(); // twice: harmless
    expect([pool.inUse, pool.free]).toEqual([0, pool.size]);
    expect(leases.every((l) => l.socket.closed)).toBe(true);
    // The ports are really free: each can be bound again right away.
    for (const l of leases) {
      const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: l.port });
      s.close();
    }
    rx.socket.close();
  });
});
