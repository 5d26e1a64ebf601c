/**
 * Session timers (RFC 4028) at the UA core with a fake clock: 422 below Min-SE, the refresher stated in
 * the 200, refresh at half the interval when we refresh (UPDATE, or re-INVITE when the peer does not
 * allow UPDATE), BYE before expiry when the peer refreshes and does not, and the UAC side (422 retry,
 * the 2xx's refresher).
 */
import { describe, expect, test } from "bun:test";
import { parseMessage, parseSessionExpiresForTest, type SipRequest, type SipResponse } from "./session-timer-support.ts";
import { TRUNK_INVITE } from "./fixtures.ts";
import { ANSWER_SDP, ackFor, harness, inDialog, reply } from "./ua-harness.ts";

const withTimer = (se: string, allow = true) => {
  let t = TRUNK_INVITE.replace("Max-Forwards: 68", `Max-Forwards: 68\r\nSession-Expires: ${se}`);
  if (!allow) t = t.replace("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REFER, NOTIFY", "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS");
  return t;
};

function answered(invite: string) {
  const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
  h.send(invite);
  const inv = parseMessage(invite) as SipRequest;
  const ok = h.responses(200)[0]!;
  h.send(ackFor(inv, ok));
  return { h, ok, inv, call: h.calls[0]! };
}

describe("UAS (inbound calls)", () => {
  test("Session-Expires below 90 s → 422 with Min-SE: 90, no call", () => {
    const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
    h.send(withTimer("30"));
    const r = h.responses(422)[0]!;
    expect(r.headers.get("Min-SE")).toBe("90");
    expect(r.reason).toBe("Session Interval Too Small"); // RFC 4028 §6 (was an empty phrase: "SIP/2.0 422 ")
    expect(h.calls).toHaveLength(0);
  });

  test("the peer refreshes (refresher=uac, Require: timer in the 200); without a refresh: BYE at 120 − 32 s", () => {
    const { h, ok, call } = answered(withTimer("120"));
    expect(ok.headers.get("Session-Expires")).toBe("120;refresher=uac");
    expect(ok.headers.get("Require")).toBe("timer");
    expect(ok.headers.get("Supported")).toBe("timer");
    h.clock.advance(87_900);
    expect(call.state).toBe("confirmed");
    h.clock.advance(200);
    expect(call.state).toBe("ended");
    expect(call.endReason).toBe("session_expired");
    expect(h.requests("BYE")).toHaveLength(1);
  });

  test("a refresh by UPDATE at 60 s restarts the timer: no BYE at 88 s, BYE at 60 + 88 s", () => {
    const { h, ok, inv, call } = answered(withTimer("120"));
    h.clock.advance(60_000);
    const upd = inDialog(inv, ok, "UPDATE", 103, "z9hG4bKref1");
    upd.headers.append("Session-Expires", "120;refresher=uac");
    upd.headers.append("Supported", "timer");
    h.send(upd);
    const r = h.last() as SipResponse;
    expect([r.status, r.headers.get("Session-Expires")]).toEqual([200, "120;refresher=uac"]);
    h.clock.advance(30_000);
    expect(call.state).toBe("confirmed");
    h.clock.advance(58_100);
    expect(call.endReason).toBe("session_expired");
  });

  test("a refresh without Session-Expires (hold re-INVITE, UPDATE) gets the running interval in its 200, so both ends keep one timer (§9, §7.2)", () => {
    const { h, ok, inv, call } = answered(withTimer("120"));
    h.clock.advance(60_000);
    // With Supported: timer: the refresher stays the peer, Require: timer; the timer restarts.
    const upd = inDialog(inv, ok, "UPDATE", 103, "z9hG4bKnose1");
    upd.headers.append("Supported", "timer");
    h.send(upd);
    let r = h.last() as SipResponse;
    expect([r.status, r.headers.get("Session-Expires"), r.headers.get("Require")]).toEqual([200, "120;refresher=uac", "timer"]);
    h.clock.advance(60_000);
    expect(call.state).toBe("confirmed");
    // Without Supported: timer (a PBX's hold re-INVITE): we become the refresher, no Require, and we
    // refresh at half the interval instead of sending BYE at its expiry.
    const hold = inDialog(inv, ok, "INVITE", 104, "z9hG4bKnose2", ANSWER_SDP.replace("a=sendrecv", "a=sendonly"));
    h.send(hold);
    r = h.responses(200).at(-1)!;
    expect(r.cseq.seq).toBe(104);
    expect([r.headers.get("Session-Expires"), r.headers.get("Require")]).toEqual(["120;refresher=uas", undefined]);
    h.send(ackFor(hold, r));
    const before = h.requests("UPDATE").length + h.requests("INVITE").length;
    h.clock.advance(60_100);
    expect(call.state).toBe("confirmed");
    expect(h.requests("UPDATE").length + h.requests("INVITE").length).toBe(before + 1);
    expect(h.requests("BYE")).toHaveLength(0);
  });

  test("refresher=uas: we send UPDATE with Session-Expires at half the interval, and again after its 200", () => {
    const { h, call } = answered(withTimer("120;refresher=uas"));
    expect(h.responses(200)[0]!.headers.get("Session-Expires")).toBe("120;refresher=uas");
    // RFC 4028 §9: refresher 'uas' and 'timer' in the INVITE's Supported → Require: timer (was missing).
    expect(h.responses(200)[0]!.headers.get("Require")).toBe("timer");
    h.clock.advance(59_900);
    expect(h.requests("UPDATE")).toHaveLength(0);
    h.clock.advance(200);
    const u = h.requests("UPDATE")[0]!;
    expect(u.headers.get("Session-Expires")).toBe("120;refresher=uac");
    expect(u.body.length).toBe(0);
    h.send(reply(u, 200, { headers: [["Session-Expires", "120;refresher=uac"]] }));
    h.clock.advance(60_000);
    expect(h.requests("UPDATE").map((x) => x.cseq.seq)).toEqual([1, 2]);
    expect(call.state).toBe("confirmed");
  });

  test("refresher=uas and the peer does not allow UPDATE: re-INVITE with our unchanged SDP, ACK on its 200", () => {
    const { h } = answered(withTimer("120;refresher=uas", false));
    h.clock.advance(60_100);
    const re = h.requests("INVITE").at(-1)!;
    expect(re.to.tag).toBeDefined();
    expect(re.bodyText).toBe(ANSWER_SDP);
    h.send(reply(re, 200, { body: ANSWER_SDP, headers: [["Session-Expires", "120;refresher=uac"], ["Contact", "<sip:x@52.9.254.127>"]] }));
    const ack = h.requests("ACK").at(-1)!;
    expect(ack.cseq).toEqual({ seq: re.cseq.seq, method: "ACK" });
  });

  test("our refresh answered 481 → BYE, ended session_expired", () => {
    const { h, call } = answered(withTimer("120;refresher=uas"));
    h.clock.advance(60_100);
    h.send(reply(h.requests("UPDATE")[0]!, 481));
    expect(call.endReason).toBe("session_expired");
    expect(h.requests("BYE")).toHaveLength(1);
  });

  test("a proxy-inserted Session-Expires from a UAC without timer support: refresher=uas, no Require", () => {
    const inv = withTimer("1800").replace("Supported: timer, path, replaces", "Supported: path, replaces");
    const { ok } = answered(inv);
    expect(ok.headers.get("Session-Expires")).toBe("1800;refresher=uas");
    expect(ok.headers.get("Require")).toBeUndefined();
  });

  test("a malformed Session-Expires → 400 with a Warning naming it (RFC 3261 §21.4.1), no call; before: answered 200 as if absent", () => {
    for (const [se, detail] of [
      ["abc", "malformed Session-Expires 'abc'"],
      ["-5;refresher=uac", "malformed Session-Expires '-5;refresher=uac'"],
      ["1e5", "malformed Session-Expires '1e5'"],
    ] as const) {
      const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
      h.send(withTimer(se));
      const r = h.responses(400)[0]!;
      expect(r.headers.get("Warning")).toBe(`399 voice-agent "${detail}"`);
      expect(h.calls).toHaveLength(0);
    }
    const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
    h.send(withTimer("1800").replace("Session-Expires: 1800", "Session-Expires: 1800\r\nx: 900"));
    expect(h.responses(400)[0]!.headers.get("Warning")).toBe('399 voice-agent "more than one Session-Expires"');
  });

  test("a Session-Expires of any number of digits (RFC 3261 §25 delta-seconds = 1*DIGIT) is reduced to 86400, not refused", () => {
    for (const se of ["99999999999", "0000000001800", "9".repeat(400)]) {
      const { ok } = answered(withTimer(`${se};refresher=uac`));
      expect(ok.headers.get("Session-Expires")).toBe(se.startsWith("0") ? "1800;refresher=uac" : "86400;refresher=uac");
    }
  });

  test("a Session-Expires beyond a day is reduced to 86400 in the 200 (§9 MAY reduce): no timer past 2^31 ms firing at once", () => {
    // 4294968 s · 1000 / 2 > 2^31 − 1 ms: a JS timer that long fires after 1 ms (a refresh storm).
    const { h, ok, call } = answered(withTimer("4294968;refresher=uac"));
    expect(ok.headers.get("Session-Expires")).toBe("86400;refresher=uac");
    h.clock.advance((86_400 - 32) * 1000 - 100);
    expect(call.state).toBe("confirmed");
    h.clock.advance(200);
    expect(call.endReason).toBe("session_expired");
  });

  test("a re-INVITE with a malformed Session-Expires gets 400, the call and its timer go on", () => {
    const { h, ok, inv, call } = answered(withTimer("120"));
    const re = inDialog(inv, ok, "INVITE", 103, "z9hG4bKre", ANSWER_SDP);
    re.headers.append("Session-Expires", "soon");
    h.send(re);
    expect((h.last() as SipResponse).status).toBe(400);
    expect(call.state).toBe("confirmed");
    h.clock.advance(88_100);
    expect(call.endReason).toBe("session_expired"); // the running 120 s timer, not restarted
  });

  test("a re-INVITE with Supported: timer and Session-Expires below 90 s gets 422, the call goes on", () => {
    const { h, ok, inv, call } = answered(withTimer("120"));
    const re = inDialog(inv, ok, "INVITE", 103, "z9hG4bKre", ANSWER_SDP);
    re.headers.append("Session-Expires", "60");
    re.headers.append("Supported", "timer");
    h.send(re);
    expect((h.last() as SipResponse).status).toBe(422);
    expect(call.state).toBe("confirmed");
  });

  test("a malformed, repeated or over-a-day Min-SE → 400 with a Warning naming it, no call; before: ignored, answered 200", () => {
    for (const [minSe, detail] of [
      ["soon", "malformed Min-SE 'soon'"],
      ["-90", "malformed Min-SE '-90'"],
      ["90\r\nMin-SE: 120", "more than one Min-SE"],
      ["86401", "Min-SE 86401 above the longest session interval we run (86400 s)"],
      ["123456789012", "Min-SE 4294967295 above the longest session interval we run (86400 s)"],
    ] as const) {
      const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
      h.send(withTimer("1800").replace("Session-Expires: 1800", `Session-Expires: 1800\r\nMin-SE: ${minSe}`));
      const r = h.responses(400)[0]!;
      expect(r.headers.get("Warning")).toBe(`399 voice-agent "${detail}"`);
      expect(h.calls).toHaveLength(0);
    }
  });

  test("Session-Expires below the request's own Min-SE (§5 'the smallest value of the session interval that can be used') → 422 with that Min-SE; equal or above → 200 with it", () => {
    const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
    h.send(withTimer("300").replace("Session-Expires: 300", "Session-Expires: 300\r\nMin-SE: 600;x=1"));
    const r = h.responses(422)[0]!;
    expect(r.headers.get("Min-SE")).toBe("600"); // the larger of ours (90) and the request's
    expect(h.calls).toHaveLength(0);
    const { ok } = answered(withTimer("600;refresher=uac").replace("Session-Expires: 600;refresher=uac", "Session-Expires: 600;refresher=uac\r\nMin-SE: 600"));
    expect(ok.headers.get("Session-Expires")).toBe("600;refresher=uac");
  });

  test("a re-INVITE with Supported: timer and Session-Expires below its Min-SE gets 422 with that Min-SE, the call goes on", () => {
    const { h, ok, inv, call } = answered(withTimer("1800"));
    const re = inDialog(inv, ok, "INVITE", 103, "z9hG4bKre", ANSWER_SDP);
    re.headers.append("Session-Expires", "120");
    re.headers.append("Min-SE", "900");
    re.headers.append("Supported", "timer");
    h.send(re);
    const r = h.last() as SipResponse;
    expect([r.status, r.headers.get("Min-SE")]).toEqual([422, "900"]);
    expect(call.state).toBe("confirmed");
  });
});

describe("UAS: a UAC without Supported: timer (RFC 4028 §9 allows 422 only with it; erratum 1687), and Min-SE below 90 (§5)", () => {
  const noTimer = (se: string, extra = "") =>
    withTimer(se).replace(/^Supported: .*\r\n/m, (row) => row.replace(/,\s*timer\b|timer,\s*/i, "").replace(/^Supported:\s*timer\r\n$/i, "")).replace(`Session-Expires: ${se}`, `Session-Expires: ${se}${extra}`);

  test("an INVITE without Supported: timer whose Session-Expires is below 90 s → 200 with the interval raised to 90, refresher=uas, no Require; we refresh", () => {
    const invite = noTimer("60");
    expect(invite).not.toMatch(/^(Supported|k):.*timer/im);
    const { h, ok, call } = answered(invite);
    expect(ok.headers.get("Session-Expires")).toBe("90;refresher=uas");
    expect(ok.headers.get("Require")).toBeUndefined();
    expect(h.responses(422)).toHaveLength(0);
    // §10: the refresher refreshes at half the interval (the peer allows UPDATE: an UPDATE at 45 s).
    h.clock.advance(44_000);
    expect(h.requests("UPDATE")).toHaveLength(0);
    h.clock.advance(1_100);
    expect(h.requests("UPDATE")).toHaveLength(1);
    expect(h.requests("UPDATE")[0]!.headers.get("Session-Expires")).toBe("90;refresher=uac");
    expect(call.state).toBe("confirmed");
  });

  test("…below its own Min-SE (300 < 600) → 200 with Session-Expires raised to 600", () => {
    const { ok } = answered(noTimer("300", "\r\nMin-SE: 600"));
    expect(ok.headers.get("Session-Expires")).toBe("600;refresher=uas");
  });

  test("a re-INVITE without Supported: timer and Session-Expires 60 → 200 raised to 90 (was 422), the call goes on", () => {
    const { h, ok, inv, call } = answered(withTimer("120"));
    const re = inDialog(inv, ok, "INVITE", 103, "z9hG4bKre2", ANSWER_SDP);
    re.headers.append("Session-Expires", "60");
    h.send(re);
    const r = h.last() as SipResponse;
    expect([r.status, r.headers.get("Session-Expires")]).toEqual([200, "90;refresher=uas"]);
    expect(call.state).toBe("confirmed");
  });

  test("Min-SE below 90 is read as 90, never 400: SE 1800 → 200 with 1800; SE 60 with Supported: timer → 422 with Min-SE: 90", () => {
    for (const minSe of ["30", "0", "89"]) {
      const { ok } = answered(withTimer("1800;refresher=uac").replace("Session-Expires: 1800;refresher=uac", `Session-Expires: 1800;refresher=uac\r\nMin-SE: ${minSe}`));
      expect([ok.status, ok.headers.get("Session-Expires")]).toEqual([200, "1800;refresher=uac"]);
      const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
      h.send(withTimer("60").replace("Session-Expires: 60", `Session-Expires: 60\r\nMin-SE: ${minSe}`));
      const r = h.responses(422)[0]!;
      expect(r.headers.get("Min-SE")).toBe("90");
      expect(h.calls).toHaveLength(0);
    }
  });
});

describe("UAC (outbound calls)", () => {
  const CALLEE = { host: "198.51.100.20", port: 5070 };
  const dial = (h: ReturnType<typeof harness>) =>
    h.ua.invite({ requestUri: "sip:+14155550100@198.51.100.20:5070", from: "<sip:agent@203.0.113.10>", offerSdp: ANSWER_SDP });

  test("our INVITE says Supported: timer, Session-Expires: 1800; a 422 is retried with its Min-SE", () => {
    const h = harness();
    dial(h);
    const inv = h.requests("INVITE")[0]!;
    expect(inv.headers.get("Supported")).toBe("timer");
    expect(parseSessionExpiresForTest(inv.headers.get("Session-Expires"))?.seconds).toBe(1800);
    h.send(reply(inv, 422, { toTag: "t1", headers: [["Min-SE", "3600"]] }), CALLEE);
    const again = h.requests("INVITE").at(-1)!;
    expect(again.cseq.seq).toBe(2);
    expect(again.headers.get("Session-Expires")).toBe("3600");
    expect(again.headers.get("Min-SE")).toBe("3600");
  });

  test("a 422 whose Min-SE is below 90 (§5 MUST NOT) is retried with 90, once; a second 422 ends the attempt saying so (was: retried with 30)", () => {
    const h = harness();
    const call = dial(h);
    const failed: Array<[number, string]> = [];
    call.on("failed", (code, reason) => void failed.push([code, reason]));
    const inv = h.requests("INVITE")[0]!;
    h.send(reply(inv, 422, { toTag: "t1", headers: [["Min-SE", "30"]] }), CALLEE);
    const again = h.requests("INVITE").at(-1)!;
    expect(again.cseq.seq).toBe(2);
    expect([again.headers.get("Session-Expires"), again.headers.get("Min-SE")]).toEqual(["90", "90"]);
    h.send(reply(again, 422, { toTag: "t2", headers: [["Min-SE", "30"]] }), CALLEE);
    expect(h.requests("INVITE")).toHaveLength(2); // no third attempt
    expect(failed).toEqual([[422, "Session Interval Too Small (again after our retry with Session-Expires 90)"]]);
    expect(call.endReason).toBe("rejected");
  });

  test("2xx with refresher=uac: we refresh at half the interval; refresher=uas: BYE when the callee does not", () => {
    const h = harness();
    const call = dial(h);
    const inv = h.requests("INVITE")[0]!;
    h.send(reply(inv, 200, { toTag: "c1", body: ANSWER_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"], ["Session-Expires", "100;refresher=uac"], ["Allow", "INVITE, ACK, BYE, UPDATE"]] }), CALLEE);
    h.clock.advance(50_100);
    expect(h.requests("UPDATE")).toHaveLength(1);
    expect(call.state).toBe("confirmed");

    const h2 = harness();
    const call2 = dial(h2);
    const inv2 = h2.requests("INVITE")[0]!;
    h2.send(reply(inv2, 200, { toTag: "c2", body: ANSWER_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"], ["Session-Expires", "100;refresher=uas"]] }), CALLEE);
    h2.clock.advance(100_000 - 32_000 + 100);
    expect(call2.endReason).toBe("session_expired");
  });
});

test("glare (RFC 3261 §14.2): while our refresh re-INVITE is pending, the peer's re-INVITE gets 491; after ours completes, its retry gets 200", () => {
  const { h, ok, inv } = answered(withTimer("120;refresher=uas", false));
  h.clock.advance(60_100);
  const ours = h.requests("INVITE").at(-1)!;
  expect(ours.to.tag).toBeDefined(); // our re-INVITE is out, unanswered
  const theirs = inDialog(inv, ok, "INVITE", 103, "z9hG4bKglare1", ANSWER_SDP);
  h.send(theirs);
  expect((h.last() as SipResponse).status).toBe(491);
  h.send(reply(ours, 200, { body: ANSWER_SDP, headers: [["Session-Expires", "120;refresher=uac"], ["Contact", "<sip:x@52.9.254.127>"]] }));
  expect(h.requests("ACK").at(-1)!.cseq.seq).toBe(ours.cseq.seq);
  h.send(inDialog(inv, ok, "INVITE", 104, "z9hG4bKglare2", ANSWER_SDP));
  expect((h.last() as SipResponse).status).toBe(200);
});

test("glare (RFC 3311 §5.2): while our refresh re-INVITE (an offer) is pending, the peer's UPDATE with an offer gets 491, one without a body 200; after ours completes, its offer is taken", () => {
  const { h, ok, inv } = answered(withTimer("120;refresher=uas", false));
  h.clock.advance(60_100);
  const ours = h.requests("INVITE").at(-1)!;
  expect(ours.bodyText).toBe(ANSWER_SDP); // our re-INVITE carries our SDP: an offer, unanswered
  const held = ANSWER_SDP.replace("a=sendrecv", "a=sendonly");
  // "If an UPDATE is received that contains an offer, and the UAS has generated an offer (in an UPDATE,
  // PRACK or INVITE) to which it has not yet received an answer, the UAS MUST reject the UPDATE with a 491".
  h.send(inDialog(inv, ok, "UPDATE", 103, "z9hG4bKuglare1", held));
  expect([(h.last() as SipResponse).status, (h.last() as SipResponse).cseq.method]).toEqual([491, "UPDATE"]);
  h.send(inDialog(inv, ok, "UPDATE", 104, "z9hG4bKuglare2"));
  expect([(h.last() as SipResponse).status, (h.last() as SipResponse).cseq.method]).toEqual([200, "UPDATE"]);
  h.send(reply(ours, 200, { body: ANSWER_SDP, headers: [["Session-Expires", "120;refresher=uac"], ["Contact", "<sip:x@52.9.254.127>"]] }));
  h.send(inDialog(inv, ok, "UPDATE", 105, "z9hG4bKuglare3", held));
  expect([(h.last() as SipResponse).status, (h.last() as SipResponse).cseq.method]).toEqual([200, "UPDATE"]);
});
