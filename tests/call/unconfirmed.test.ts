/**
 * Calls awaiting their ACK (src/call/unconfirmed.ts) on a fake clock: they take the MAX_CALLS places no
 * confirmed call holds; a new INVITE finding none gets 503 + Retry-After until the oldest is 8·T1 old,
 * then that one is given up for it (one BYE, never retransmitted, no more 2xx) and the INVITE is
 * answered; a confirmed call is never given up. (OPTIONS while they wait: tests/e2e/unacked-flood.test.ts.)
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ACK_GRACE_T1, ackGraceMs, PENDING_RETRY_AFTER_S, UnconfirmedCalls } from "../../src/call/unconfirmed";
import { FakeClock } from "../../src/util/clock";
import type { SipResponse } from "../../src/sip";
import { inboundHarness, invite, settle, T1 } from "./support.ts";

const GRACE_MS = ackGraceMs(T1);

describe("UnconfirmedCalls", () => {
  test("the grace is 8·T1: the 2xx's fourth transmission (7·T1) plus one T1 for its ACK", () => {
    expect(ACK_GRACE_T1).toBe(8);
    expect(ackGraceMs(500)).toBe(4000);
    expect(ackGraceMs(150)).toBe(1200);
  });

  test("gives up the call answered longest ago once it is past the grace; before that, Retry-After until it is", () => {
    const clock = new FakeClock();
    const u = new UnconfirmedCalls({ clock, graceMs: 4000 });
    const gaveUp: string[] = [];
    const add = (id: string, source: string) => u.add(id, source, () => (gaveUp.push(id), true));
    add("a", "192.0.2.1");
    add("b", "192.0.2.2");
    add("c", "192.0.2.2");
    expect(u.size).toBe(3);
    expect(u.from("192.0.2.2")).toBe(2);
    // None answered yet (still being set up): nothing to give up.
    expect(u.makeRoom()).toEqual({ freed: false, retryAfterS: PENDING_RETRY_AFTER_S });
    u.answered("b"); // b's 2xx went out first
    clock.advance(1500);
    u.answered("a");
    expect(u.makeRoom()).toEqual({ freed: false, retryAfterS: 3 }); // b is 1.5 s old: 2.5 s to go, rounded up
    clock.advance(2499);
    expect(u.makeRoom()).toEqual({ freed: false, retryAfterS: 1 });
    expect(u.reclaimable()).toBe(0);
    clock.advance(1);
    expect(u.reclaimable()).toBe(1);
    expect(u.makeRoom()).toEqual({ freed: true, id: "b", ageMs: 4000 });
    expect(gaveUp).toEqual(["b"]);
    expect(u.size).toBe(2);
    expect(u.from("192.0.2.2")).toBe(1);
    expect(u.givenUp).toBe(1);
    // a is 2.5 s old now; c never answered.
    expect(u.makeRoom()).toEqual({ freed: false, retryAfterS: 2 });
    u.done("a");
    u.done("a"); // idempotent
    expect(u.from("192.0.2.1")).toBe(0);
    expect(u.makeRoom()).toEqual({ freed: false, retryAfterS: PENDING_RETRY_AFTER_S });
  });

  test("an ACK waiting unhandled in our own receive queue (a starved agent) holds the give-up back: Retry-After 1 until it is handled", () => {
    const clock = new FakeClock();
    let acksWaiting = 1;
    const u = new UnconfirmedCalls({ clock, graceMs: 4000, acksWaiting: () => acksWaiting });
    const gaveUp: string[] = [];
    u.add("a", "192.0.2.1", () => (gaveUp.push("a"), true));
    u.answered("a");
    clock.advance(6000); // past the grace
    expect(u.reclaimable()).toBe(1);
    expect(u.makeRoom()).toEqual({ freed: false, retryAfterS: 1 });
    expect(gaveUp).toEqual([]);
    expect(u.size).toBe(1);
    acksWaiting = 0; // handled, and it was another call's
    expect(u.makeRoom()).toEqual({ freed: true, id: "a", ageMs: 6000 });
    expect(gaveUp).toEqual(["a"]);
  });
});

type H = Awaited<ReturnType<typeof inboundHarness>>;
let h: H | undefined;
afterEach(() => {
  h?.dispose();
  h = undefined;
});

/** Four forged sources (one INVITE each, so the per-source cap of MAX_CALLS/2 = 2 does not apply). */
const FORGED = [1, 2, 3, 4].map((n) => ({ host: `198.51.100.${n}`, port: 5060 }));
const REAL = { host: "203.0.113.77", port: 5060 };

function status(x: H, callId: string): { status: number; retryAfter?: string; warning?: string }[] {
  return x.transport.sent
    .map((r) => r.message)
    .filter((m): m is SipResponse => m.kind === "response" && m.callId === callId && m.cseq.method === "INVITE" && m.status >= 200)
    .map((m) => ({ status: m.status, retryAfter: m.headers.get("Retry-After"), warning: m.headers.get("Warning") }));
}

describe("a flood of INVITEs never ACKed (MAX_CALLS 4)", () => {
  test("fills the places, but a new caller waits at most the grace: the oldest is given up for it with one BYE", async () => {
    h = await inboundHarness({ capacity: 4, rtpPorts: 16 }); // ports for 8 calls: MAX_CALLS is what fills
    const forged = FORGED.map((_, i) => invite(21000 + 2 * i));
    for (let i = 0; i < 4; i++) {
      h.send(forged[i]!, FORGED[i]);
      await settle(); // each answered at its own instant on the fake clock…
      h.clock.advance(100); // …100 ms apart
    }
    for (const inv of forged) expect(h.finals(inv)).toEqual([200]);
    expect(h.inbound.unconfirmed.size).toBe(4);

    // A real caller 0.5 s after the last forged 200 (the oldest is 0.8 s old): 503, Retry-After = until it is 8·T1 old.
    h.clock.advance(100);
    const early = invite(21100);
    h.send(early, REAL);
    await settle();
    const refused = status(h, early.callId);
    expect(refused.map((r) => r.status)).toEqual([503]);
    expect(Number(refused[0]!.retryAfter)).toBe(Math.ceil((GRACE_MS - 500) / 1000));
    expect(refused[0]!.warning).toContain("4 answered calls await their ACK");
    expect(h.observer.events.filter((e) => e.startsWith("refused"))).toEqual(["refused inbound busy"]);

    // At the grace, the caller's retry is answered; the oldest forged call is given up for it.
    const byesBefore = h.requests("BYE").length;
    h.clock.advance(GRACE_MS - 500);
    const okBeforeRetry = h.responses(200).filter((r) => r.callId === forged[0]!.callId).length;
    const retry = invite(21102);
    h.send(retry, REAL);
    await settle();
    expect(h.finals(retry)).toEqual([200]);
    const byes = h.requests("BYE").filter((r) => r.callId === forged[0]!.callId);
    expect(byes).toHaveLength(1);
    expect(h.requests("BYE")).toHaveLength(byesBefore + 1);
    expect(h.observer.events).toContain("ended ack_given_up");
    expect(h.inbound.unconfirmed.givenUp).toBe(1);
    expect(h.inbound.unconfirmed.size).toBe(4); // three forged, one real
    expect(h.pool.inUse).toBe(4);

    // The real caller ACKs: confirmed, never given up. The given-up call gets nothing more: no 2xx, no BYE retransmission.
    h.ack(retry);
    await settle();
    expect(h.inbound.unconfirmed.size).toBe(3);
    h.clock.advance(64 * T1);
    expect(h.responses(200).filter((r) => r.callId === forged[0]!.callId)).toHaveLength(okBeforeRetry);
    expect(h.requests("BYE").filter((r) => r.callId === forged[0]!.callId)).toHaveLength(1);
    // The other three reached Timer H (64·T1) without a new INVITE needing them: ended no_ack as before.
    expect(h.observer.events.filter((e) => e.startsWith("ended")).sort()).toEqual(["ended ack_given_up", "ended no_ack", "ended no_ack", "ended no_ack"]);
    expect(h.inbound.size).toBe(1);
    expect(h.inbound.unconfirmed.size).toBe(0);
  });

  test("confirmed calls are never given up: full of confirmed calls stays full (503, Retry-After 30)", async () => {
    h = await inboundHarness({ capacity: 2 });
    const a = invite(21200);
    h.send(a, FORGED[0]);
    await settle();
    h.ack(a);
    const b = invite(21202);
    h.send(b, FORGED[1]);
    await settle();
    h.clock.advance(GRACE_MS); // b unconfirmed and past the grace
    const c = invite(21204);
    h.send(c, REAL);
    await settle();
    expect(h.finals(c)).toEqual([200]); // b given up, a kept
    expect(h.requests("BYE").map((r) => r.callId)).toEqual([b.callId]);
    h.ack(c);
    await settle();
    h.clock.advance(GRACE_MS);
    const d = invite(21206);
    h.send(d, FORGED[2]);
    await settle();
    expect(status(h, d.callId)).toEqual([{ status: 503, retryAfter: "30", warning: undefined }]);
    expect(h.requests("BYE")).toHaveLength(1);
  });

  test("every RTP port held by calls awaiting their ACK (a port range for fewer calls than MAX_CALLS): the oldest past the grace is given up the same way", async () => {
    h = await inboundHarness({ capacity: 10 }); // the harness pool has ports for 4 calls
    const forged = FORGED.map((_, i) => invite(21300 + 2 * i));
    for (let i = 0; i < 4; i++) h.send(forged[i]!, FORGED[i]);
    await settle();
    for (const inv of forged) expect(h.finals(inv)).toEqual([200]);
    expect(h.pool.free).toBe(0);
    const early = invite(21400);
    h.send(early, REAL);
    await settle();
    // Degraded (no free RTP port), none old enough yet: Retry-After until the oldest is.
    expect(status(h, early.callId)).toEqual([{ status: 503, retryAfter: String(GRACE_MS / 1000), warning: undefined }]);
    h.clock.advance(GRACE_MS);
    const retry = invite(21402);
    h.send(retry, REAL);
    await settle();
    expect(h.finals(retry)).toEqual([200]);
    expect(h.inbound.unconfirmed.givenUp).toBe(1);
    expect(h.requests("BYE")).toHaveLength(1);
  });
});
