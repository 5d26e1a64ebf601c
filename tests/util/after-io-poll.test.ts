import { describe, expect, test } from "bun:test";
import { AfterIoPoll } from "../../src/util/after-io-poll.ts";

/** A scheduler stepped by hand: `step()` runs what was scheduled before it (one event-loop turn). */
function manual() {
  let turn: (() => void)[] = [];
  return {
    schedule: (fn: () => void) => void turn.push(fn),
    step() {
      const now = turn;
      turn = [];
      for (const f of now) f();
    },
  };
}

describe("AfterIoPoll", () => {
  test("callbacks run once, on the second turn after the first defer, all in one batch", () => {
    const m = manual();
    const gate = new AfterIoPoll(m.schedule);
    const ran: string[] = [];
    gate.defer(() => ran.push("a"));
    gate.defer(() => ran.push("b"));
    expect(gate.pending).toBe(2);
    m.step();
    expect(ran).toEqual([]);
    m.step();
    expect(ran).toEqual(["a", "b"]);
    m.step();
    m.step();
    expect(ran).toEqual(["a", "b"]);
    // Deferred from inside a batch: the next batch, two turns later.
    gate.defer(() => gate.defer(() => ran.push("d")));
    m.step();
    m.step();
    expect(ran).toEqual(["a", "b"]);
    m.step();
    m.step();
    expect(ran).toEqual(["a", "b", "d"]);
  });

  test("a callback that throws is reported and the rest of its batch still runs", () => {
    const m = manual();
    const errs: unknown[] = [];
    const gate = new AfterIoPoll(m.schedule, (e) => errs.push(e));
    const ran: number[] = [];
    gate.defer(() => ran.push(1));
    gate.defer(() => {
      throw new Error("one call failed");
    });
    gate.defer(() => ran.push(3));
    m.step();
    m.step();
    expect(ran).toEqual([1, 3]);
    expect(errs.map((e) => (e as Error).message)).toEqual(["one call failed"]);
  });

  test("with Bun's setImmediate: datagrams waiting in sockets while the thread was busy are delivered before the callback", async () => {
    // The property src/rtp/missing-media.ts relies on, on real UDP sockets (loopback): deferred from a
    // timer callback that kept the thread busy while 3 datagrams per socket arrived.
    const N = 20;
    let got = 0;
    const socks = await Promise.all(Array.from({ length: N }, () => Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: () => void got++ } })));
    const tx = await Bun.udpSocket({ hostname: "127.0.0.1" });
    const gate = new AfterIoPoll();
    try {
      const seen = await new Promise<{ atDefer: number; atRun: number }>((resolve) =>
        setTimeout(() => {
          for (const s of socks) for (let k = 0; k < 3; k++) tx.send(new Uint8Array(172), s.port, "127.0.0.1");
          const until = performance.now() + 20; // busy: the datagrams wait in the kernel
          while (performance.now() < until);
          const atDefer = got;
          gate.defer(() => resolve({ atDefer, atRun: got }));
        }, 5),
      );
      expect(seen.atDefer).toBe(0);
      expect(seen.atRun).toBe(3 * N);
    } finally {
      for (const s of socks) s.close();
      tx.close();
    }
  });
});
