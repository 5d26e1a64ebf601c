/**
 * The SIP receive queue (src/sip/transport/receive-queue.ts): datagrams handled in order, at most one
 * slice (ms) per turn of the event loop, a bounded backlog whose overflow is refused, not queued. Time
 * and the event-loop turn are injected, so the slicing is exact.
 */
import { describe, expect, test } from "bun:test";
import { RECEIVE_MAX_AGE_MS, RECEIVE_ORDINARY_SHARE, RECEIVE_ORDINARY_WINDOW_MS, ReceiveQueue } from "../../src/sip/transport/receive-queue.ts";

/** A fake event loop: `schedule` records turns, `turn()` runs the next one. */
function loop() {
  let t = 0;
  const turns: Array<() => void> = [];
  return {
    now: () => t,
    advance: (ms: number) => void (t += ms),
    schedule: (fn: () => void) => void turns.push(fn),
    pending: () => turns.length,
    turn: () => turns.shift()!(),
  };
}

describe("ReceiveQueue", () => {
  test("handles nothing inline: one turn later, in order", () => {
    const l = loop();
    const seen: number[] = [];
    const q = new ReceiveQueue<number>((n) => seen.push(n), { schedule: l.schedule, now: l.now });
    q.push(1);
    q.push(2);
    expect(seen).toEqual([]);
    expect(l.pending()).toBe(1); // one drain scheduled, not one per item
    l.turn();
    expect(seen).toEqual([1, 2]);
    expect(l.pending()).toBe(0);
  });

  test("a backlog is handled at most sliceMs per turn, the event loop gets a turn between slices", () => {
    const l = loop();
    const seen: number[] = [];
    // Each item costs 0.3 ms of (fake) time: a 1 ms slice handles 4 (the 4th starts at 0.9 ms).
    const q = new ReceiveQueue<number>((n) => (seen.push(n), l.advance(0.3)), { schedule: l.schedule, now: l.now, sliceMs: 1 });
    for (let i = 0; i < 10; i++) q.push(i);
    l.turn();
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(l.pending()).toBe(1);
    l.turn();
    expect(seen).toHaveLength(8);
    l.turn();
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(l.pending()).toBe(0);
  });

  test("a handler slower than the slice still handles one item per turn", () => {
    const l = loop();
    const seen: number[] = [];
    const q = new ReceiveQueue<number>((n) => (seen.push(n), l.advance(5)), { schedule: l.schedule, now: l.now, sliceMs: 1 });
    q.push(1);
    q.push(2);
    l.turn();
    expect(seen).toEqual([1]);
    l.turn();
    expect(seen).toEqual([1, 2]);
  });

  test("bounded: past `max` waiting, push refuses (the caller counts the drop); room again once drained", () => {
    const l = loop();
    const seen: number[] = [];
    const q = new ReceiveQueue<number>((n) => seen.push(n), { schedule: l.schedule, now: l.now, max: 3 });
    expect([q.push(1), q.push(2), q.push(3), q.push(4)]).toEqual([true, true, true, false]);
    expect(q.length).toBe(3);
    l.turn();
    expect(seen).toEqual([1, 2, 3]);
    expect(q.push(5)).toBe(true);
  });

  test("urgent lane: handled before the ordinary backlog, with room of its own when that is full", () => {
    const l = loop();
    const seen: string[] = [];
    const q = new ReceiveQueue<string>((x) => seen.push(x), { schedule: l.schedule, now: l.now, max: 2, maxUrgent: 1 });
    expect([q.push("a"), q.push("b"), q.push("c")]).toEqual([true, true, false]); // ordinary lane full
    expect(q.push("BYE", true)).toBe(true); // a live call's request still gets in
    expect(q.push("BYE2", true)).toBe(false); // the urgent lane is bounded too
    expect(q.length).toBe(3);
    l.turn();
    expect(seen).toEqual(["BYE", "a", "b"]);
  });

  test("a throwing handler does not stop the others; close drops the backlog and refuses more", () => {
    const l = loop();
    const seen: number[] = [];
    const q = new ReceiveQueue<number>(
      (n) => {
        if (n === 2) throw new Error("boom");
        seen.push(n);
      },
      { schedule: l.schedule, now: l.now },
    );
    q.push(1);
    q.push(2);
    q.push(3);
    l.turn();
    expect(seen).toEqual([1, 3]);
    q.push(4);
    q.close();
    l.turn();
    expect(seen).toEqual([1, 3]);
    expect(q.push(5)).toBe(false);
  });

  test("an ordinary item that waited longer than maxAgeMs is dropped unhandled and reported with its wait; fresher ones are handled, in order", () => {
    const l = loop();
    const seen: number[] = [];
    const expired: Array<[number, number]> = [];
    // Each item costs 400 ms of (fake) time: a starved agent working through a burst.
    const q = new ReceiveQueue<number>((n) => (seen.push(n), l.advance(400)), {
      schedule: l.schedule,
      now: l.now,
      sliceMs: 1,
      maxAgeMs: 1000,
      onExpired: (n, waited) => expired.push([n, waited]),
    });
    for (let i = 0; i < 5; i++) q.push(i, i === 4); // the last one urgent: it goes first
    for (let t = 0; t < 10 && l.pending() > 0; t++) l.turn();
    expect(seen).toEqual([4, 0, 1]); // handled at 0, 400, 800 ms after queueing
    expect(expired).toEqual([[2, 1200], [3, 1200]]); // 1,200 ms > 1,000: dropped without their cost
    q.push(5);
    l.turn();
    expect(seen).toEqual([4, 0, 1, 5]); // a new item waits for nothing of the old backlog
  });

  test("an urgent item is never dropped for age: handled after 2.5 s with its wait, while an ordinary one as old is dropped", () => {
    const l = loop();
    const seen: Array<[string, number]> = [];
    const expired: Array<[string, number]> = [];
    const q = new ReceiveQueue<string>((s, waited) => seen.push([s, waited]), {
      schedule: l.schedule,
      now: l.now,
      onExpired: (s, waited) => expired.push([s, waited]),
    });
    q.push("flood INVITE");
    q.push("200 OK to our INVITE", true);
    l.advance(2500); // the agent starved: its event loop did not turn for 2.5 s (default maxAgeMs 2,000)
    l.turn();
    expect(seen).toEqual([["200 OK to our INVITE", 2500]]);
    expect(expired).toEqual([["flood INVITE", 2500]]);
  });

  test("stale urgent items are set aside: a fresh urgent item behind them goes first, then they, then the ordinary lane", () => {
    const l = loop();
    const seen: string[] = [];
    const q = new ReceiveQueue<string>((s) => seen.push(s), { schedule: l.schedule, now: l.now, sliceMs: 1000 });
    q.push("200 copy 1", true);
    q.push("200 copy 2", true);
    q.push("OPTIONS");
    l.advance(2500); // starved: the first copies are stale
    q.push("200 copy 3", true);
    q.push("fresh OPTIONS");
    l.turn();
    expect(seen).toEqual(["200 copy 3", "200 copy 1", "200 copy 2", "fresh OPTIONS"]); // the stale OPTIONS dropped
  });

  test("afterUrgent: runs at once when no urgent item waits, else right after the urgent items queued by then (stale ones too), not later ones nor the ordinary lane", () => {
    const l = loop();
    const seen: string[] = [];
    const q = new ReceiveQueue<string>((s) => seen.push(s), { schedule: l.schedule, now: l.now, sliceMs: 1000 });
    let done = 0;
    q.push("OPTIONS");
    q.afterUrgent(() => done++);
    expect(done).toBe(1); // nothing urgent waits: at once
    q.push("180 to our INVITE", true);
    l.advance(2500); // starved: it is stale now
    q.push("200 to our INVITE", true);
    q.afterUrgent(() => seen.push("ring timeout decides"));
    q.push("BYE of a live call", true); // after the wait began: not waited for
    expect(seen).toEqual([]);
    l.turn();
    expect(seen).toEqual(["200 to our INVITE", "BYE of a live call", "180 to our INVITE", "ring timeout decides"]); // (the stale OPTIONS dropped)
    expect(q.urgentLength).toBe(0);
  });

  test("afterUrgent: close runs the waiting callbacks; a throwing callback does not stop the drain", () => {
    const l = loop();
    const seen: string[] = [];
    const q = new ReceiveQueue<string>((s) => seen.push(s), { schedule: l.schedule, now: l.now, sliceMs: 1000 });
    q.push("a", true);
    q.afterUrgent(() => {
      throw new Error("boom");
    });
    q.push("b", true);
    l.turn();
    expect(seen).toEqual(["a", "b"]);
    q.push("c", true);
    let ran = false;
    q.afterUrgent(() => (ran = true));
    q.close();
    expect(ran).toBe(true);
    expect(seen).toEqual(["a", "b"]);
  });

  test("the default maxAgeMs is under T4 (5 s: RFC 3261 Table 4, a message's longest life in the network)", () => {
    expect(RECEIVE_MAX_AGE_MS).toBeLessThan(5000);
    expect(RECEIVE_MAX_AGE_MS).toBeGreaterThan(500); // above T1: a sender resends before we drop
  });

  test("real event loop: a timer due during a long backlog runs between slices, not after the whole backlog", async () => {
    const order: string[] = [];
    const q = new ReceiveQueue<number>(
      () => {
        const end = performance.now() + 0.5;
        while (performance.now() < end) {
          /* 0.5 ms of work per datagram */
        }
        order.push("d");
      },
      { sliceMs: 1, maxAgeMs: 60_000 }, // about slicing: no item expires on a starved machine
    );
    setTimeout(() => order.push("timer"), 0);
    for (let i = 0; i < 200; i++) q.push(i); // ~100 ms of work
    for (let waited = 0; q.length > 0 && waited < 10_000; waited += 20) await Bun.sleep(20); // slack for a busy machine
    expect(order.filter((x) => x === "d")).toHaveLength(200);
    expect(order.indexOf("timer")).toBeLessThan(50);
  });

  test("the ordinary lane takes at most its share of each window; urgent items do not wait for it", () => {
    // s22 fresheyes2: 200 sources each under SIP_RATE_LIMIT (20,000 INVITEs/s in all) kept the call thread
    // 89 % busy answering 503s. Each ordinary item costs 1 ms here.
    const l = loop();
    const delays: Array<{ fn: () => void; ms: number }> = [];
    const seen: string[] = [];
    const q = new ReceiveQueue<string>((x) => (seen.push(x), x.startsWith("n") && l.advance(1)), {
      schedule: l.schedule,
      now: l.now,
      delay: (fn, ms) => void delays.push({ fn, ms }),
      max: 1000,
    });
    const budget = RECEIVE_ORDINARY_SHARE * RECEIVE_ORDINARY_WINDOW_MS; // 25 ms of a 100 ms window
    for (let i = 0; i < 200; i++) q.push(`n${i}`);
    while (l.pending() > 0) l.turn();
    expect(seen.length).toBe(budget);
    expect(delays.length).toBe(1); // one timer for the next window
    expect(delays[0]!.ms).toBe(RECEIVE_ORDINARY_WINDOW_MS - budget);
    // More ordinary pushes while it waits: no second timer. An urgent item is handled on the next turn.
    q.push("n-late");
    q.push("u1", true);
    while (l.pending() > 0) l.turn();
    expect(seen.at(-1)).toBe("u1");
    expect(seen.length).toBe(budget + 1);
    expect(delays.length).toBe(1);
    // The next window: another share.
    l.advance(delays[0]!.ms);
    delays.shift()!.fn();
    while (l.pending() > 0) l.turn();
    expect(seen.length).toBe(2 * budget + 1);
    expect(seen.slice(budget + 1, budget + 3)).toEqual([`n${budget}`, `n${budget + 1}`]); // in order
    expect(delays.length).toBe(1);
  });

  test("ordinaryShare 1: no bound (every item of a turn's slice, as before)", () => {
    const l = loop();
    const seen: number[] = [];
    const q = new ReceiveQueue<number>((n) => (seen.push(n), l.advance(1)), { schedule: l.schedule, now: l.now, sliceMs: 1000, ordinaryShare: 1, delay: () => { throw new Error("no delay expected"); } });
    for (let i = 0; i < 200; i++) q.push(i);
    l.turn();
    expect(seen.length).toBe(200);
  });
});
