import { describe, expect, test } from "bun:test";
import type { OutboundCall, SipRequest } from "../../src/sip/index.ts";
import { ANSWER_SDP, harness, reply } from "./ua-harness.ts";
import { IN_GC_PROBE, runInFreshProcess } from "../support/gc-probe";

// What an ended outbound call leaves behind: its INVITE client transaction lives on (Timer M = 64·T1 after
// a 2xx, RFC 6026 §7.2; Timer D = 32 s after a 300-699, RFC 3261 §17.1.1.2) to ACK retransmissions, but
// must not keep the call — and with it everything the layer above hangs on the call (media, sockets,
// providers) — for that long.

const CALLEE_SDP = "v=0\r\no=callee 5 5 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const CALLEE = { host: "198.51.100.20", port: 5070 };
type H = ReturnType<typeof harness>;

function dial(h: H): OutboundCall {
  const call = h.ua.invite({ requestUri: "sip:+14155550100@198.51.100.20:5070", from: "<sip:agent@203.0.113.10>", offerSdp: ANSWER_SDP });
  const ballast = new Uint8Array(1 << 20); // what the layer above hangs on the call (media, sockets…)
  call.on("ended", () => void ballast.byteLength);
  return call;
}
const invite = (h: H): SipRequest => h.requests("INVITE").at(-1)!;
const ok = (inv: SipRequest, tag = "callee-tag") =>
  reply(inv, 200, { toTag: tag, body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });

/** Runs `play` (which ends a call) in its own job; only a WeakRef to the call leaves it. */
async function collected(play: () => OutboundCall): Promise<boolean> {
  const ref = new WeakRef(play());
  expect(ref.deref()!.state).toBe("ended");
  await Bun.sleep(0); // a WeakRef's target is kept until the end of the job that made it
  for (let i = 0; i < 10 && ref.deref(); i++) {
    Bun.gc(true);
    await Bun.sleep(i); // (a conservative scan of the stack may see a stale pointer for a while)
  }
  return ref.deref() === undefined;
}

const COLLECTABLE = "an ended outbound call is collectable at once";

test.skipIf(IN_GC_PROBE)(`${COLLECTABLE}: checked in a fresh process (tests/support/gc-probe.ts)`, async () => {
  const r = await runInFreshProcess(import.meta.path, COLLECTABLE);
  expect(r.failed, r.output).toBe(0);
  expect(r.passed, r.output).toBe(3);
});

describe.skipIf(!IN_GC_PROBE)(COLLECTABLE, () => {
  test("answered, local BYE: collected while Timer M runs; a 200 resent after the BYE is still ACKed (§13.2.2.4)", async () => {
    const h = harness();
    let answer!: ReturnType<typeof ok>;
    expect(
      await collected(() => {
        const c = dial(h);
        answer = ok(invite(h));
        h.send(answer, CALLEE);
        void c.hangup();
        h.send(reply(h.requests("BYE")[0]!, 200), CALLEE);
        return c;
      }),
    ).toBe(true); // was kept until Timer M fired, 32 s later
    expect(h.ua.layer.size).toBeGreaterThan(0); // the INVITE transaction (Accepted) lives on
    h.send(answer, CALLEE);
    const acks = h.requests("ACK");
    expect(acks).toHaveLength(2);
    expect(acks[1]!.topVia.branch).toBe(acks[0]!.topVia.branch); // the same ACK again, no new BYE
    expect(h.requests("BYE")).toHaveLength(1);
    h.send(ok(invite(h), "forked-tag"), CALLEE); // a forked 2xx: ACK and BYE that dialog (§13.2.2.4)
    expect(h.requests("ACK")).toHaveLength(3);
    expect(h.requests("BYE")).toHaveLength(2);
    h.clock.advance(64 * 500 + 10_000);
    expect(h.ua.layer.size).toBe(0);
  });

  test("CANCELed after a 180 (487), rejected (486), timed out (Timer B): collected", async () => {
    const h = harness();
    expect(
      await collected(() => {
        const c = dial(h);
        h.send(reply(invite(h), 180, { toTag: "t1" }), CALLEE);
        c.cancel();
        h.send(reply(h.requests("CANCEL").at(-1)!, 200, { toTag: "t1" }), CALLEE);
        h.send(reply(invite(h), 487, { toTag: "t1" }), CALLEE);
        return c;
      }),
    ).toBe(true);
    expect(
      await collected(() => {
        const c = dial(h);
        h.send(reply(invite(h), 486, { toTag: "busy" }), CALLEE);
        return c;
      }),
    ).toBe(true);
    expect(h.ua.layer.size).toBeGreaterThan(0); // Timer D: the 486's retransmissions are ACKed
    expect(
      await collected(() => {
        const c = dial(h);
        h.clock.advance(64 * 500);
        return c;
      }),
    ).toBe(true);
  });

  test("CANCELed before any response: collected; a late 180 still gets the CANCEL, a late 200 its ACK and BYE (§9.1, §15)", async () => {
    const h = harness();
    expect(
      await collected(() => {
        const c = dial(h);
        c.cancel();
        return c;
      }),
    ).toBe(true);
    h.send(reply(invite(h), 180, { toTag: "late" }), CALLEE);
    expect(h.requests("CANCEL")).toHaveLength(1);
    h.send(ok(invite(h), "late"), CALLEE);
    expect(h.requests("ACK")).toHaveLength(1);
    expect(h.requests("BYE")).toHaveLength(1);
    h.send(ok(invite(h), "late"), CALLEE); // resent: ACK again, no second BYE
    expect(h.requests("ACK")).toHaveLength(2);
    expect(h.requests("BYE")).toHaveLength(1);
    h.clock.advance(64 * 500 + 10_000);
    expect(h.ua.layer.size).toBe(0);
    expect(h.clock.pending).toBe(0);
  });
});
