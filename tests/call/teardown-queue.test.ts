/**
 * Calls' ends spread over the call thread's turns (src/call/teardown-queue.ts, CallSession with a queue):
 * jobs run in order, at most a slice of them per turn, each followed by a pace point (a due pacer tick
 * runs between two teardowns, and the span is in the stall log as `end`); a throwing job does not stop
 * the others; `flush` runs what is left at once. A session with a queue queues a hang-up decided by the
 * conversation whole (nothing runs in the tick or timer that decided it), its reason kept first; a BYE
 * from the far end still releases at once.
 */
import { describe, expect, test } from "bun:test";
import { CallSession, type MediaHooks, type SessionMedia } from "../../src/call/session";
import { TeardownQueue } from "../../src/call/teardown-queue";
import { storeObserver, combineObservers } from "../../src/call/observer";
import { CallStore, type CallRecord } from "../../src/pipeline/call-record";
import { FakeClock } from "../../src/util/clock";
import { silentLogger } from "../../src/util/log";
import { setPacePoint } from "../../src/util/pace-point";
import { stalls } from "../../src/util/stall-recorder";
import { recordingObserver } from "./support.ts";

/** A queue whose turns the test runs (`turn()`) on a clock the jobs move (`busy(ms)`), with the jobs' errors collected. */
function manualQueue(sliceMs = 1) {
  const turns: Array<() => void> = [];
  const errors: unknown[] = [];
  let t = 0;
  const q = new TeardownQueue({ onError: (e) => errors.push(e), sliceMs, schedule: (fn) => void turns.push(fn), now: () => t });
  return { q, errors, turn: () => turns.shift()?.(), pendingTurns: () => turns.length, busy: (ms: number) => void (t += ms) };
}

/** Holds the thread for `ms` of real time (a span the stall recorder sees). */
function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe("TeardownQueue", () => {
  test("runs jobs in order on a later turn, a slice per turn, a pace point after each; a throw does not stop the rest", () => {
    const m = manualQueue(2);
    const ran: string[] = [];
    let polls = 0;
    const unset = setPacePoint(() => void polls++);
    try {
      m.q.push(() => (ran.push("a"), m.busy(1.5), busyFor(1)));
      m.q.push(() => {
        ran.push("b");
        throw new Error("b failed");
      });
      m.q.push(() => (ran.push("c"), m.busy(1.5)));
      m.q.push(() => ran.push("d"));
      expect(ran).toEqual([]); // nothing at once
      expect(m.q.size).toBe(4);
      expect(m.pendingTurns()).toBe(1); // one turn asked for, however many jobs
      const before = performance.now();
      m.turn();
      // a (1.5 ms), b, c: the slice (2 ms) is used up after c; d waits for the next turn.
      expect(ran).toEqual(["a", "b", "c"]);
      expect(String(m.errors[0])).toContain("b failed");
      expect(polls).toBe(3);
      expect(stalls.explain(before, performance.now()).busy.end).toBeGreaterThanOrEqual(0.9); // a's real 1 ms at least
      expect(m.pendingTurns()).toBe(1);
      m.turn();
      expect(ran).toEqual(["a", "b", "c", "d"]);
      expect(m.q.size).toBe(0);
      expect(m.pendingTurns()).toBe(0);
    } finally {
      unset();
    }
  });

  test("flush runs everything now; the turn asked for before finds nothing to do", () => {
    const m = manualQueue();
    const ran: number[] = [];
    for (let i = 0; i < 5; i++) m.q.push(() => ran.push(i));
    m.q.flush();
    expect(ran).toEqual([0, 1, 2, 3, 4]);
    m.turn();
    expect(ran).toEqual([0, 1, 2, 3, 4]);
    m.q.push(() => ran.push(5)); // a new push asks for a turn again
    m.turn();
    expect(ran).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("with the default schedule (setImmediate) a job runs after the current turn", async () => {
    const q = new TeardownQueue({ onError: () => {} });
    let ran = false;
    q.push(() => (ran = true));
    expect(ran).toBe(false);
    await new Promise((r) => setImmediate(r));
    await Bun.sleep(1);
    expect(ran).toBe(true);
  });
});

function record(): CallRecord {
  return { id: crypto.randomUUID(), sipCallId: "c1", direction: "inbound", from: "sip:a@h", to: "sip:b@h", state: "connected", startedAt: new Date(Date.now() - 5000).toISOString(), answeredAt: new Date(Date.now() - 4000).toISOString(), turns: [], bargeIns: 0 };
}

/** A session on a manual queue, its media started, told to the test's observer and an in-memory store. */
function sessionWithQueue(m = manualQueue(50), store = new CallStore()) {
  const observer = recordingObserver();
  const rec = record();
  let hangups = 0;
  const session = new CallSession({
    record: rec,
    observer: combineObservers(silentLogger, observer, storeObserver(store)),
    log: silentLogger,
    clock: new FakeClock(),
    sip: { hangup: () => (hangups++, Promise.resolve()) },
    teardown: m.q,
  });
  session.holdLease({ port: 40000, host: "127.0.0.1", socket: null as never, onPacket: null, onError: null, released: false, release() {} });
  let hooks: MediaHooks | undefined;
  const media: SessionMedia = { start() {}, close() {}, session: { stats: { packetsIn: 1, packetsOut: 1, lost: 0 } } };
  session.startMedia((_lease, h) => ((hooks = h), media));
  return { m, observer, store, rec, session, hooks: hooks!, hangups: () => hangups };
}

describe("CallSession with a teardown queue", () => {
  test("the conversation's hang-up (end_call, RTP timeout…) is queued whole; its reason stays first when a BYE comes before the job", async () => {
    const x = sessionWithQueue();
    x.hooks.hangup("rtp_timeout");
    expect(x.session.isReleased).toBe(false); // nothing at once inside the tick that decided it
    expect(x.hangups()).toBe(0);
    expect(x.rec.endReason).toBe("rtp_timeout");
    x.session.release("remote_bye"); // the far end's BYE crossed our decision: released at once
    expect(x.observer.events).toEqual(["started inbound", "rtp-stats", "ended rtp_timeout"]);
    x.m.turn();
    await Bun.sleep(0);
    expect(x.store.get(x.rec.id)!.endReason).toBe("rtp_timeout");
    expect(x.observer.events.filter((e) => e.startsWith("ended")).length).toBe(1);
  });

  test("fifty calls timing out in one tick: nothing runs in it; the queue ends each once, with its BYE, reason and duration", () => {
    const m = manualQueue(1000);
    const store = new CallStore();
    const calls = Array.from({ length: 50 }, () => sessionWithQueue(m, store));
    for (const c of calls) c.hooks.hangup("rtp_timeout");
    expect(store.list().active.length).toBe(50);
    expect(calls.every((c) => c.hangups() === 0)).toBe(true);
    m.q.flush();
    const { active, recent } = store.list();
    expect(active.length).toBe(0);
    expect(recent.length).toBe(50);
    expect(calls.every((c) => c.hangups() === 1)).toBe(true);
    for (const r of recent) {
      expect(r.endReason).toBe("rtp_timeout");
      expect(r.durationMs).toBe(Date.parse(r.endedAt!) - Date.parse(r.answeredAt!));
    }
  });
});
