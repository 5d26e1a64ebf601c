/**
 * NOTIFYs inside a call against the REFER subscriptions we hold (RFC 6665 §4.1.3, RFC 3515 §2.4.4,
 * §2.4.6): only a NOTIFY of a REFER we sent is 200; one matching no subscription gets 481 "Subscription
 * does not exist". Session 19's attacker found a NOTIFY in a call without any REFER answered 200.
 */
import { describe, expect, test } from "bun:test";
import { parseMessage, type SipRequest, type SipResponse } from "../../src/sip/index.ts";
import type { ReferNotify } from "../../src/sip/ua/refer.ts";
import { TRUNK_INVITE } from "./fixtures.ts";
import { ANSWER_SDP, ackFor, harness, inDialog, reply } from "./ua-harness.ts";

function call() {
  const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
  h.send(TRUNK_INVITE);
  const inv = parseMessage(TRUNK_INVITE) as SipRequest;
  const ok = h.responses(200)[0]!;
  h.send(ackFor(inv, ok));
  const notes: ReferNotify[] = [];
  h.calls[0]!.on("referNotify", (n) => notes.push(n));
  let seq = 200;
  /** Sends a NOTIFY with `event` (and Subscription-State `state`) in the dialog; returns our status. */
  const notify = (event: string, state = "active;expires=60") => {
    const n = inDialog(inv, ok, "NOTIFY", ++seq, `z9hG4bKnotify${seq}`);
    n.headers.append("Event", event);
    n.headers.append("Subscription-State", state);
    h.send(n);
    const r = h.last() as SipResponse;
    expect(r.cseq).toEqual({ seq, method: "NOTIFY" });
    return r.status;
  };
  return { h, notes, notify, agent: h.calls[0]! };
}

describe("NOTIFY in a call (RFC 6665 §4.1.3)", () => {
  test("no REFER sent: a `refer` NOTIFY gets 481 Subscription does not exist; the call goes on, nothing reported", () => {
    const { h, notes, notify, agent } = call();
    expect(notify("refer", "terminated;reason=noresource")).toBe(481);
    expect(h.responses(481, "NOTIFY")[0]!.reason).toBe("Subscription does not exist");
    expect(notify("refer;id=1")).toBe(481);
    expect(notify("presence")).toBe(489); // another package: still 489 (RFC 6665 §8.3.1)
    expect(notes).toHaveLength(0);
    expect(agent.state).toBe("confirmed");
  });

  test("after our REFER: its id (the REFER's CSeq) or no id → 200; another id → 481; after `terminated` → 481", () => {
    const { h, notes, notify } = call();
    void h.calls[0]!.refer("sip:+14155550199@203.0.113.10");
    const refer = h.requests("REFER")[0]!;
    const id = refer.cseq.seq;
    expect(notify(`refer;id=${id + 7}`)).toBe(481); // a NOTIFY may beat the 202; a wrong id never matches
    expect(notify(`refer;id=${id}`)).toBe(200); // before the 202: the subscription exists already
    h.send(reply(refer, 202));
    expect(notify("refer")).toBe(200); // §2.4.6: the id may be left out while one REFER is open
    expect(notify(`refer;id=${id}`, "terminated;reason=noresource")).toBe(200);
    expect(notes.map((n) => n.terminated)).toEqual([false, false, true]);
    expect(notify(`refer;id=${id}`)).toBe(481); // the subscription ended with the last NOTIFY
    expect(notify("refer")).toBe(481);
    expect(notes).toHaveLength(3);
  });

  test("a REFER refused (403) creates no subscription (RFC 6665 §4.1.2.1): its NOTIFY gets 481", async () => {
    const { h, notify } = call();
    const done = h.calls[0]!.refer("sip:+14155550199@203.0.113.10");
    const refer = h.requests("REFER")[0]!;
    h.send(reply(refer, 403));
    expect(await done).toBe(403);
    expect(notify(`refer;id=${refer.cseq.seq}`)).toBe(481);
  });
});
