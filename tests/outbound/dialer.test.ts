/**
 * The outbound dialer over the real SIP stack (MemoryTransport) on a FakeClock: statuses, hang-up
 * causes, ring timeout → CANCEL, Timer B, digest retry, BYE in both directions, limits, persistence.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CANCELLED_BEFORE_RESPONSE, NO_MEDIA_RECEIVED, OutboundError, TRUNK_UNREACHABLE_ICMP, TRUNK_UNREACHABLE_TIMEOUT, type PlaceCallRequest } from "../../src/outbound";
import type { ChatMessage, LlmChunk } from "../../src/providers/types";
import { SqliteCallStore } from "../../src/store";
import { RING_TIMEOUT_DRAIN_MAX_MS } from "../../src/sip";
import { CALLEE_SDP, TRUNK, dialerHarness } from "./harness";

const REQ: PlaceCallRequest = {
  phoneNumber: "+14155550100",
  openingReason: "about your dentist appointment tomorrow at 10",
  objective: "Confirm the appointment or offer to reschedule.",
  metadata: { patient: 1234 },
};

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function collect(it: AsyncIterable<LlmChunk>): Promise<LlmChunk[]> {
  const out: LlmChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe("OutboundDialer", () => {
  test("401 → INVITE again with digest; 180 ringing; 200 → ACK, connected, media; callee BYE → 200, completed", async () => {
    const h = dialerHarness();
    const rec = await h.dialer.place(REQ);
    expect(rec).toMatchObject({ direction: "outbound", status: "initiating", state: "ringing", to: "sip:+14155550100@198.51.100.1:5080" });
    expect(rec.from).toBe("sip:+14155550123@198.51.100.1");
    const inv1 = h.lastInvite();
    expect(h.transport.sent[0]!.to).toEqual(TRUNK);
    expect(inv1.uri).toBe("sip:+14155550100@198.51.100.1:5080");
    expect(inv1.bodyText).toContain("m=audio 40000 RTP/AVP 0 8 101");
    expect(inv1.bodyText).toContain("c=IN IP4 203.0.113.10");

    h.respond(inv1, 401, { headers: [["WWW-Authenticate", 'Digest realm="trunk.example", nonce="abc123", qop="auth", algorithm=MD5']] });
    const inv2 = h.lastInvite();
    expect(h.flow()).toEqual(["INVITE", "ACK", "INVITE"]); // §17.1.1.3: the 401 is ACKed on its branch
    expect(h.requests("ACK")[0]!.topVia.branch).toBe(inv1.topVia.branch);
    expect(inv2.cseq.seq).toBe(2);
    expect(inv2.callId).toBe(inv1.callId);
    expect(inv2.headers.get("Authorization")).toMatch(/^Digest username="alice", realm="trunk.example", nonce="abc123", uri="sip:\+14155550100@198.51.100.1:5080", qop=auth, nc=00000001, cnonce="[0-9a-f]+", response="[0-9a-f]{32}", algorithm=MD5$/);

    h.respond(inv2, 100);
    expect(h.store.get(rec.id)!.status).toBe("initiating");
    h.respond(inv2, 180);
    expect(rec.status).toBe("ringing");
    expect(rec.ringingAt).toBeDefined();
    const ok = h.respond(inv2, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    expect(h.flow().slice(-1)).toEqual(["ACK"]);
    expect(rec).toMatchObject({ status: "connected", state: "connected", codec: "PCMA" });
    expect(h.media).toHaveLength(1);
    const m = h.media[0]!;
    expect(m.started).toBe(1);
    expect(m.req.media).toMatchObject({ codec: "PCMA", payloadType: 8, remote: { address: "198.51.100.20", port: 30000 } });
    expect(m.req.system).toContain("SYSTEM objective=Confirm the appointment or offer to reschedule.");
    expect(m.req.system).toContain("I'm calling about your dentist appointment tomorrow at 10");

    // The opening is spoken without the model; the model continues after it.
    const first = await collect(m.req.llm.generate({ system: m.req.system, history: [], tools: [], signal: new AbortController().signal }));
    expect(first).toEqual([{ type: "text", text: "Hello! I'm calling about your dentist appointment tomorrow at 10. Do you have a moment?" }]);
    expect(h.llm.requests).toHaveLength(0);

    h.clock.advance(40_000); // past the ring timeout: no CANCEL once answered
    expect(h.requests("CANCEL")).toHaveLength(0);

    h.remoteBye(inv2, ok, 7);
    expect(h.flow().slice(-1)).toEqual(["200 BYE"]);
    expect(m.closed).toBe(1);
    expect(h.leases[0]!.releases).toBe(1);
    const done = h.store.get(rec.id)!;
    expect(done).toMatchObject({
      state: "ended",
      status: "completed",
      endReason: "remote_bye",
      hangupCause: { code: null, reason: "BYE from the callee", source: "remote" },
    });
    expect(h.dialer.activeCalls).toBe(0);
  });

  test("407 then the agent hangs up: BYE with the dialog's tags, CSeq above the INVITE's, remote target and route set; outcome from end_call", async () => {
    const h = dialerHarness();
    const rec = await h.dialer.place(REQ);
    h.respond(h.lastInvite(), 407, { headers: [["Proxy-Authenticate", 'Digest realm="proxy.example", nonce="n407", qop="auth"']] });
    const inv = h.lastInvite();
    expect(inv.cseq.seq).toBe(2);
    expect(inv.headers.get("Proxy-Authorization")).toMatch(/^Digest username="alice", realm="proxy.example"/);
    h.respond(inv, 183, { body: CALLEE_SDP });
    const ok = h.respond(inv, 200, {
      body: CALLEE_SDP,
      headers: [
        ["Record-Route", "<sip:198.51.100.2:5090;lr>"],
        ["Record-Route", "<sip:198.51.100.1:5080;lr>"],
        ["Contact", "<sip:callee@198.51.100.20:5070>"],
      ],
    });
    const m = h.media[0]!;
    const opening = await collect(m.req.llm.generate({ system: "", history: [], tools: [], signal: new AbortController().signal }));
    const text = (opening[0] as { text: string }).text;
    const history: ChatMessage[] = [
      { role: "assistant", text },
      { role: "user", text: "Yes, that works for me." },
    ];
    await collect(m.req.llm.generate({ system: "", history, tools: [], signal: new AbortController().signal }));
    expect(h.llm.requests[0]!.history).toEqual(history);
    rec.turns.push({ index: 0, speaker: "agent", text, at: new Date().toISOString() });
    m.req.onTurn(rec.turns[0]!);
    m.req.hangup("end_call");

    const bye = h.requests("BYE")[0]!;
    expect(bye.uri).toBe("sip:callee@198.51.100.20:5070"); // §12.2.1.1 remote target
    expect(bye.headers.getAll("Route")).toEqual(["<sip:198.51.100.1:5080;lr>", "<sip:198.51.100.2:5090;lr>"]); // reversed
    expect(bye.from.tag).toBe(inv.from.tag);
    expect(bye.to.tag).toBe(ok.to.tag!);
    expect(bye.callId).toBe(inv.callId);
    expect(bye.cseq).toEqual({ seq: 3, method: "BYE" }); // §12.2.1.1: above every CSeq used in the dialog (INVITE 1, 2)
    expect(h.transport.sent.at(-1)!.to).toEqual({ host: "198.51.100.1", port: 5080 }); // first route
    h.respond(bye, 200);
    const done = h.store.get(rec.id)!;
    expect(done).toMatchObject({
      status: "completed",
      endReason: "end_call",
      outcome: "appointment confirmed",
      outcomeSource: "end_call",
      hangupCause: { code: null, reason: "the agent ended the call", source: "local" },
    });
  });

  test("answered, but not one RTP packet from the callee: no_media, and the agent's opening is not reported as the outcome", async () => {
    const h = dialerHarness();
    const rec = await h.dialer.place(REQ);
    const inv = h.lastInvite();
    h.respond(inv, 180);
    h.respond(inv, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    const m = h.media[0]!;
    m.packetsReceived = 0;
    rec.turns.push({ index: 0, speaker: "agent", text: "Hi, this is the clinic calling about your appointment.", at: new Date().toISOString() });
    m.req.onTurn(rec.turns[0]!);
    m.req.hangup("rtp_timeout");
    h.respond(h.requests("BYE")[0]!, 200);
    const done = h.store.get(rec.id)!;
    expect(done).toMatchObject({ status: "no_media", endReason: "rtp_timeout", hangupCause: { code: null, source: "local" } });
    expect(done.hangupCause!.reason).toStartWith(NO_MEDIA_RECEIVED);
    expect(done.outcome).toBeUndefined();
    expect(done.outcomeSource).toBeUndefined();
  });

  test("the callee spoke, the agent ended the call without end_call: completed, no outcome (never the agent's own words)", async () => {
    const h = dialerHarness();
    const rec = await h.dialer.place(REQ);
    const inv = h.lastInvite();
    h.respond(inv, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    const m = h.media[0]!;
    m.packetsReceived = 500;
    rec.turns.push({ index: 0, speaker: "agent", text: "Goodbye!", at: new Date().toISOString() });
    m.req.onTurn(rec.turns[0]!);
    m.req.hangup("agent_goodbye");
    h.respond(h.requests("BYE")[0]!, 200);
    const done = h.store.get(rec.id)!;
    expect(done.status).toBe("completed");
    expect(done.outcome).toBeUndefined();
  });

  const finals: [number, string, string][] = [
    [486, "Busy Here", "busy"],
    [600, "Busy Everywhere", "busy"],
    [603, "Decline", "declined"],
    [480, "Temporarily Unavailable", "no_answer"],
    [404, "Not Found", "failed"],
    [503, "Service Unavailable", "failed"],
  ];
  for (const [code, reason, status] of finals) {
    test(`${code} ${reason} → ${status}, ACKed on the INVITE's branch, cause ${code}`, async () => {
      const h = dialerHarness();
      const rec = await h.dialer.place(REQ);
      const inv = h.lastInvite();
      h.respond(inv, 180);
      h.respond(inv, code);
      const ack = h.requests("ACK")[0]!;
      expect(ack.topVia.branch).toBe(inv.topVia.branch); // §17.1.1.3
      expect(ack.cseq).toEqual({ seq: inv.cseq.seq, method: "ACK" });
      expect(h.store.get(rec.id)).toMatchObject({ state: "ended", status, hangupCause: { code, reason, source: "remote" } });
      expect(h.leases[0]!.releases).toBe(1);
      expect(h.media).toHaveLength(0);
    });
  }

  test("no answer within RING_TIMEOUT_S → CANCEL after the provisional → 487 → no_answer", async () => {
    const h = dialerHarness({ ringTimeoutMs: 20_000 });
    const rec = await h.dialer.place(REQ);
    const inv = h.lastInvite();
    h.respond(inv, 180);
    h.clock.advance(19_999);
    expect(h.requests("CANCEL")).toHaveLength(0);
    h.clock.advance(1);
    const cancel = h.requests("CANCEL")[0]!;
    expect(cancel.uri).toBe(inv.uri);
    expect(cancel.topVia.branch).toBe(inv.topVia.branch); // §9.1
    expect(cancel.cseq).toEqual({ seq: inv.cseq.seq, method: "CANCEL" });
    h.respond(cancel, 200);
    h.respond(inv, 487);
    expect(h.store.get(rec.id)).toMatchObject({
      status: "no_answer",
      endReason: "ring_timeout",
      hangupCause: { code: 487, reason: "Request Terminated", source: "local" }, // the 487 answers our CANCEL: we hung up (was "remote")
    });
  });

  test("ring timeout with responses still waiting in our receive queue: the decision waits for them (a 200 there is ACKed, no CANCEL), at most RING_TIMEOUT_DRAIN_MAX_MS", async () => {
    const h = dialerHarness({ ringTimeoutMs: 20_000 });
    const held: Array<() => void> = [];
    (h.transport as { afterReceived?: (cb: () => void) => void }).afterReceived = (cb) => void held.push(cb); // a starved agent's queue
    const answered = await h.dialer.place(REQ);
    const inv = h.lastInvite();
    h.respond(inv, 180);
    h.clock.advance(20_000);
    expect(held).toHaveLength(1);
    h.respond(inv, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] }); // handled from the queue after the ring timeout fell due
    held.shift()!();
    expect(h.requests("CANCEL")).toHaveLength(0);
    expect(h.requests("ACK")).toHaveLength(1);
    expect(h.store.get(answered.id)).toMatchObject({ status: "connected" });
    // Nobody answers and the queue does not drain: the CANCEL goes out RING_TIMEOUT_DRAIN_MAX_MS after the ring timeout.
    const unanswered = await h.dialer.place(REQ);
    const inv2 = h.lastInvite();
    h.respond(inv2, 180);
    h.clock.advance(20_000 + RING_TIMEOUT_DRAIN_MAX_MS - 1);
    expect(h.requests("CANCEL")).toHaveLength(0);
    h.clock.advance(1);
    expect(h.requests("CANCEL")).toHaveLength(1);
    held.shift()!(); // the queue drains later: decided once only
    expect(h.requests("CANCEL")).toHaveLength(1);
    h.respond(h.requests("CANCEL")[0]!, 200);
    h.respond(inv2, 487);
    expect(h.store.get(unanswered.id)).toMatchObject({ status: "no_answer", endReason: "ring_timeout", hangupCause: { code: 487, source: "local" } });
  });

  test("ring timeout before any response: no CANCEL is sent (§9.1); Timer B ends it as failed, trunk unreachable", async () => {
    const h = dialerHarness({ ringTimeoutMs: 5_000 });
    const rec = await h.dialer.place(REQ);
    h.clock.advance(5_000);
    expect(h.requests("CANCEL")).toHaveLength(0);
    expect(rec.status).toBe("initiating");
    h.clock.advance(27_000); // 64·T1 = 32 s after the INVITE
    expect(h.requests("INVITE").length).toBeGreaterThan(1); // Timer A retransmissions
    expect(h.store.get(rec.id)).toMatchObject({
      status: "failed",
      endReason: "trunk_unreachable",
      hangupCause: { code: 408, reason: TRUNK_UNREACHABLE_TIMEOUT, source: "local" },
    });
    expect(h.leases[0]!.releases).toBe(1);
  });

  test("ring timeout before any response, then a late 180: the CANCEL goes out then → 487 → no_answer", async () => {
    const h = dialerHarness({ ringTimeoutMs: 5_000 });
    const rec = await h.dialer.place(REQ);
    h.clock.advance(6_000);
    const inv = h.lastInvite();
    h.respond(inv, 180);
    expect(h.requests("CANCEL")).toHaveLength(1);
    h.respond(h.requests("CANCEL")[0]!, 200);
    h.respond(inv, 487);
    expect(h.store.get(rec.id)).toMatchObject({ status: "no_answer", endReason: "ring_timeout", hangupCause: { code: 487 } });
  });

  test("ICMP unreachable for the INVITE and its retransmission: failed at once as trunk unreachable; one report is not enough", async () => {
    const h = dialerHarness();
    const rec = await h.dialer.place(REQ);
    h.transport.reportUnreachable({ host: "198.51.100.99", port: 5060 }); // another destination: ignored
    h.transport.reportUnreachable(TRUNK);
    expect(rec.status).toBe("initiating");
    h.clock.advance(500); // Timer A: the INVITE again, and again unreachable
    h.transport.reportUnreachable(TRUNK);
    expect(h.store.get(rec.id)).toMatchObject({
      status: "failed",
      endReason: "trunk_unreachable",
      hangupCause: { code: null, reason: TRUNK_UNREACHABLE_ICMP, source: "local" },
    });
    expect(h.leases[0]!.releases).toBe(1);
    const invites = h.requests("INVITE").length;
    h.clock.advance(40_000);
    expect(h.requests("INVITE")).toHaveLength(invites); // the transaction is gone: no more retransmissions
    expect(h.ua.activeCalls).toBe(0);
  });

  test("ICMP after a 100 Trying is ignored (the trunk is there)", async () => {
    const h = dialerHarness();
    const rec = await h.dialer.place(REQ);
    h.respond(h.lastInvite(), 100);
    h.transport.reportUnreachable(TRUNK);
    h.transport.reportUnreachable(TRUNK);
    expect(rec.status).toBe("initiating");
    expect(rec.state).toBe("ringing");
  });

  test("hang-up through the API before any response: canceled at once, no request; a late 180 gets the CANCEL, a late 200 ACK + one BYE", async () => {
    const h = dialerHarness();
    const a = await h.dialer.place(REQ);
    const inv = h.lastInvite();
    h.dialer.hangup(a.id);
    expect(h.store.get(a.id)).toMatchObject({
      state: "ended",
      status: "canceled",
      endReason: "api_cancel",
      hangupCause: { code: null, reason: CANCELLED_BEFORE_RESPONSE, source: "local" },
    });
    expect(h.leases[0]!.releases).toBe(1);
    expect(h.flow()).toEqual(["INVITE"]);
    h.respond(inv, 180); // §9.1: now the CANCEL may go
    expect(h.requests("CANCEL")).toHaveLength(1);
    const ok = { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] as Array<[string, string]> };
    h.respond(inv, 200, ok); // the 2xx won the race: ACK and BYE it (§15)
    expect(h.flow().slice(-2)).toEqual(["ACK", "BYE"]);
    h.respond(inv, 200, ok); // a retransmission: ACK again, no second BYE
    expect(h.requests("ACK")).toHaveLength(2);
    expect(h.requests("BYE")).toHaveLength(1);
    expect(h.media).toHaveLength(0);
    expect(h.store.get(a.id)!.status).toBe("canceled");

    const b = await h.dialer.place(REQ); // before any response, then the trunk rejects: ACKed by the transaction
    const invB = h.lastInvite();
    h.dialer.hangup(b.id);
    h.respond(invB, 486);
    expect(h.flow().slice(-1)).toEqual(["ACK"]);
    expect(h.store.get(b.id)).toMatchObject({ status: "canceled" });
  });

  test("unreachable trunk: Timer A doubles the retransmission interval, Timer B → failed with the cause", async () => {
    const h = dialerHarness();
    const rec = await h.dialer.place(REQ);
    h.clock.advance(32_000);
    const times = h.transport.sent.filter((r) => r.message.kind === "request" && r.message.method === "INVITE").map((r) => r.at);
    expect(times).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(rec.status).toBe("failed");
    expect(rec.hangupCause).toEqual({ code: 408, reason: TRUNK_UNREACHABLE_TIMEOUT, source: "local" });
  });

  test("183 with SDP is early media, not an answer; a 200 without SDP uses the early answer", async () => {
    const h = dialerHarness();
    const rec = await h.dialer.place(REQ);
    const inv = h.lastInvite();
    h.respond(inv, 183, { body: CALLEE_SDP });
    expect(rec.status).toBe("ringing");
    expect(h.media).toHaveLength(0);
    h.leases[0]!.onPacket!(new Uint8Array(172), 30000, "198.51.100.20"); // early RTP is received and dropped
    h.respond(inv, 200, { headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    expect(rec.status).toBe("connected");
    expect(h.media[0]!.req.media.remote).toEqual({ address: "198.51.100.20", port: 30000 });
    expect(h.leases[0]!.onPacket).toBeNull(); // handed over to the media
  });

  test("a retransmitted 200 is ACKed again", async () => {
    const h = dialerHarness();
    await h.dialer.place(REQ);
    const inv = h.lastInvite();
    h.respond(inv, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    h.clock.advance(500);
    h.respond(inv, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    expect(h.requests("ACK")).toHaveLength(2);
    expect(h.media).toHaveLength(1);
  });

  test("an answer without a common codec: ACK, BYE, failed with a local 488", async () => {
    const h = dialerHarness();
    const rec = await h.dialer.place(REQ);
    const inv = h.lastInvite();
    const g722 = CALLEE_SDP.replace("RTP/AVP 8 101", "RTP/AVP 9").replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:9 G722/8000");
    h.respond(inv, 200, { body: g722, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    expect(h.flow().slice(-2)).toEqual(["ACK", "BYE"]);
    h.respond(h.requests("BYE")[0]!, 200);
    expect(h.store.get(rec.id)).toMatchObject({ status: "failed", endReason: "bad_answer_sdp", hangupCause: { code: 488, source: "local" } });
    expect(h.media).toHaveLength(0);
    expect(h.leases[0]!.releases).toBe(1);
  });

  test("SIP_TRUNK_REALM: credentials answer only the pinned realm; another realm's challenge fails the call unanswered", async () => {
    const h = dialerHarness({ credentials: { username: "alice", password: "s3cret", realm: "trunk.example" } });
    const rec = await h.dialer.place(REQ);
    h.respond(h.lastInvite(), 401, { headers: [["WWW-Authenticate", 'Digest realm="evil.example", nonce="phish", qop="auth"']] });
    expect(h.requests("INVITE")).toHaveLength(1); // no second INVITE: the password never answers evil.example
    expect(h.store.get(rec.id)).toMatchObject({ status: "failed", hangupCause: { code: 401, source: "remote" } });

    const ok = await h.dialer.place(REQ); // the pinned realm (listed among others) is answered
    const inv = h.lastInvite();
    h.respond(inv, 401, {
      headers: [
        ["WWW-Authenticate", 'Digest realm="evil.example", nonce="phish", qop="auth"'],
        ["WWW-Authenticate", 'Digest realm="trunk.example", nonce="good", qop="auth"'],
      ],
    });
    expect(h.lastInvite().headers.get("Authorization")).toMatch(/^Digest username="alice", realm="trunk.example", nonce="good"/);
    expect(ok.status).toBe("initiating");
  });

  test("hang-up through the API: CANCEL before answer → canceled; BYE after → completed", async () => {
    const h = dialerHarness();
    const a = await h.dialer.place(REQ);
    const invA = h.lastInvite();
    h.respond(invA, 180);
    expect(h.dialer.hangup(a.id)!.id).toBe(a.id);
    const cancel = h.requests("CANCEL")[0]!;
    h.respond(cancel, 200);
    h.respond(invA, 487);
    expect(h.store.get(a.id)).toMatchObject({ status: "canceled", endReason: "api_cancel", hangupCause: { code: 487, source: "local" } });

    const b = await h.dialer.place(REQ);
    const invB = h.lastInvite();
    h.respond(invB, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    h.dialer.hangup(b.id);
    h.respond(h.requests("BYE")[0]!, 200);
    expect(h.store.get(b.id)).toMatchObject({ status: "completed", endReason: "api_hangup", hangupCause: { reason: "hung up through the API" } });
    expect(h.dialer.hangup("no-such-id")).toBeUndefined();
    expect(h.dialer.hangup(b.id)).toMatchObject({ status: "completed" }); // already ended: unchanged
  });

  test("limits: MAX_OUTBOUND_CALLS live calls, OUTBOUND_CALLS_PER_MINUTE per sliding minute", async () => {
    const h = dialerHarness({ maxCalls: 2, callsPerMinute: 3, ringTimeoutMs: 600_000 });
    const a = await h.dialer.place(REQ);
    await h.dialer.place(REQ);
    h.respond(h.lastInvite(), 180); // keeps ringing (no Timer B once a provisional arrived)
    const err = await h.dialer.place(REQ).catch((e) => e);
    expect(err).toBeInstanceOf(OutboundError);
    expect(err.code).toBe("at_capacity");
    h.respond(h.requests("INVITE")[0]!, 486); // a ends
    expect(h.store.get(a.id)!.status).toBe("busy");
    h.clock.advance(10_000);
    await h.dialer.place(REQ); // third start in the minute
    h.respond(h.requests("INVITE").at(-1)!, 486);
    const limited = await h.dialer.place(REQ).catch((e) => e);
    expect(limited.code).toBe("rate_limited");
    expect(limited.opts.retryAfterMs).toBe(50_000);
    h.clock.advance(50_000);
    await h.dialer.place(REQ);
    expect(h.dialer.activeCalls).toBe(2);
  });

  test("validation names the field; nothing is sent for a refused request", async () => {
    const h = dialerHarness();
    const cases: [Partial<PlaceCallRequest>, string, RegExp][] = [
      [{ phoneNumber: "4155550100" }, "phone_number", /leading "\+"/],
      [{ phoneNumber: "+1 415 555 0100" }, "phone_number", /digits only/],
      [{ phoneNumber: "+0123" }, "phone_number", /never starts with 0/],
      [{ phoneNumber: "+1234567890123456" }, "phone_number", /2 to 15 digits/],
      [{ phoneNumber: 14155550100 as never }, "phone_number", /string/],
      [{ openingReason: "  " }, "opening_reason", /empty/],
      [{ objective: undefined }, "objective", /string/],
      [{ metadata: [1, 2] as never }, "metadata", /object/],
      [{ metadata: { big: "x".repeat(9000) } }, "metadata", /8192 bytes/],
    ];
    for (const [patch, field, msg] of cases) {
      const err = await h.dialer.place({ ...REQ, ...patch }).catch((e) => e);
      expect(err).toBeInstanceOf(OutboundError);
      expect(err.code).toBe("invalid_request");
      expect(err.field).toBe(field);
      expect(err.message).toMatch(msg);
      expect(err.message.startsWith(`${field}: `)).toBe(true);
    }
    expect(h.transport.sent).toHaveLength(0);
  });

  test("shutdown cancels ringing calls and hangs up connected ones; new calls are refused", async () => {
    const h = dialerHarness();
    const ringing = await h.dialer.place(REQ);
    const invR = h.lastInvite();
    h.respond(invR, 180);
    const up = await h.dialer.place(REQ);
    const invU = h.lastInvite();
    h.respond(invU, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    const done = h.dialer.shutdown(5000);
    expect(h.requests("CANCEL")).toHaveLength(1);
    expect(h.requests("BYE")).toHaveLength(1);
    h.respond(h.requests("CANCEL")[0]!, 200);
    h.respond(invR, 487);
    h.respond(h.requests("BYE")[0]!, 200);
    await done;
    expect(h.store.get(ringing.id)!.status).toBe("canceled");
    expect(h.store.get(up.id)).toMatchObject({ status: "completed", hangupCause: { reason: "the agent shut down" } });
    expect((await h.dialer.place(REQ).catch((e) => e)).code).toBe("draining");
  });

  test("with the SQLite store every step is written as it happens", async () => {
    const dir = mkdtempSync(join(tmpdir(), "va-dialer-"));
    dirs.push(dir);
    const store = SqliteCallStore.open({ dir });
    const h = dialerHarness({ store });
    const rec = await h.dialer.place(REQ);
    expect(store.list().active[0]!.id).toBe(rec.id);
    const inv = h.lastInvite();
    h.respond(inv, 180);
    h.respond(inv, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    const { Database } = await import("bun:sqlite");
    const db = new Database(join(dir, "calls.db"), { readonly: true });
    const status = () => (db.query("SELECT status FROM calls WHERE id = ?").get(rec.id) as { status: string }).status;
    expect(status()).toBe("connected");
    const t = { index: 0, speaker: "agent" as const, text: "Hello!", at: new Date().toISOString() };
    rec.turns.push(t);
    h.media[0]!.req.onTurn(t);
    expect((db.query("SELECT text FROM turns WHERE call_id = ?").all(rec.id) as { text: string }[]).map((r) => r.text)).toEqual(["Hello!"]);
    h.media[0]!.req.hangup("end_call");
    h.respond(h.requests("BYE")[0]!, 200);
    expect(status()).toBe("completed");
    expect(store.get(rec.id)).toMatchObject({ metadata: { patient: 1234 }, objective: REQ.objective, openingReason: REQ.openingReason });
    db.close();
    store.close();
  });
});
