/**
 * Outbound calls from a real agent (in this process: UDP SIP, RTP, pacer, HTTP, SQLite) through SIPp
 * 3.6.1 playing the SIP trunk on 127.0.0.1: digest challenge, answer and BYE from the trunk, busy,
 * decline, no answer (CANCEL), an unreachable trunk, and 10 simultaneous calls the agent hangs up.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { stopAllManaged } from "../support/process.ts";
import { silenceFile, synthesizeCallerAudio } from "../support/speech.ts";
import { CANCELLED_BEFORE_RESPONSE, TRUNK_UNREACHABLE_ICMP, TRUNK_UNREACHABLE_TIMEOUT } from "../../src/outbound";
import { startTestAgent, startTrunkAgent, type TestAgent } from "./support/agent.ts";
import { flowOf, startSippUas } from "./support/sipp-uas.ts";

const hasSipp = !!Bun.which("sipp");
const CALL = { phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow." };

describe.skipIf(!hasSipp)("outbound through SIPp as the trunk", () => {
  let agent: TestAgent;
  let trunkPort: number;
  beforeAll(async () => {
    ({ agent, trunkPort } = await startTrunkAgent({
      SIP_USERNAME: "alice",
      SIP_PASSWORD: "s3cret",
      RING_TIMEOUT_S: "1",
      OUTBOUND_CALLS_PER_MINUTE: "100",
      // Ten simultaneous calls below: above the offline pipeline's MAX_CALLS default (4, from bench:load).
      MAX_CALLS: "10",
    }));
  });
  afterAll(async () => {
    await agent?.stop();
    await stopAllManaged();
  });

  test("401 challenge answered with digest; 200; the agent speaks its opening; the trunk's BYE ends the call", async () => {
    // The trunk hangs up after 12 s: the ~3.5 s opening must be over by then even on a loaded machine
    // (with 6.5 s, a busy 2-core machine once cut it short).
    const sipp = await startSippUas({ scenario: "outbound-trunk-auth", port: trunkPort, pauseMs: 12_000, keys: { user: "alice", pass: "s3cret" }, audioFile: silenceFile(13) });
    const placed = await agent.api("POST", "/outbound/call", CALL);
    expect(placed.status).toBe(201);
    const id = placed.body.call_id;
    const connected = await agent.waitForCall(id, (c) => c.status === "connected", 5000);
    expect(connected.answered_at).toBeDefined();
    const done = await agent.waitForCall(id, (c) => c.status === "completed", 25_000);
    const r = await sipp.finish(5000);
    expect(r.exitCode).toBe(0); // SIPp verified our digest (<verifyauth>) and got 200 to its BYE
    expect(flowOf(r.messages)).toEqual([
      "<< INVITE",
      ">> 401",
      "<< ACK",
      "<< INVITE",
      ">> 100",
      ">> 180",
      ">> 200",
      "<< ACK",
      ">> BYE",
      "<< 200",
    ]);
    const authInvite = r.messages.filter((m) => m.method === "INVITE")[1]!.text;
    expect(authInvite).toMatch(/Authorization: Digest username="alice", realm="sipp.trunk", nonce="[^"]+", uri="sip:\+14155550100@127\.0\.0\.1:\d+", qop=auth, nc=00000001, cnonce="[0-9a-f]+", response="[0-9a-f]{32}"/);
    expect(r.messages[0]!.text).toMatch(/^From: <sip:\+14155550123@127\.0\.0\.1>;tag=/m);
    expect(done).toMatchObject({
      status: "completed",
      end_reason: "remote_bye",
      hangup_cause: { code: null, reason: "BYE from the callee", source: "remote" },
      codec: "PCMU",
    });
    expect(done.transcript[0]).toMatchObject({ speaker: "agent", text: "Hello! I'm calling about your order. Do you have a moment?" });
    expect(done.transcript[0].latency.first_rtp_ms).toBeGreaterThanOrEqual(0);
    expect(Date.parse(done.ringing_at)).toBeLessThanOrEqual(Date.parse(done.answered_at));
    expect(done.duration_ms).toBeGreaterThan(4000);
  }, 45_000);

  test("wrong credentials: the trunk answers 403 → failed with cause 403 Forbidden", async () => {
    const sipp = await startSippUas({ scenario: "outbound-trunk-auth", port: trunkPort, keys: { user: "alice", pass: "another" }, audioFile: silenceFile(1) });
    const id = (await agent.api("POST", "/outbound/call", CALL)).body.call_id;
    const done = await agent.waitForCall(id, (c) => c.status === "failed", 5000);
    expect(done.hangup_cause).toEqual({ code: 403, reason: "Forbidden", source: "remote" });
    const r = await sipp.finish(5000);
    expect(flowOf(r.messages)).toEqual(["<< INVITE", ">> 401", "<< ACK", "<< INVITE", ">> 403", "<< ACK"]);
    expect(r.exitCode).toBe(1); // SIPp's <verifyauth> refused the digest, so it counts the call as failed
  });

  for (const [code, reason, status, scenario] of [
    ["486", "Busy Here", "busy", "outbound-busy"],
    ["603", "Decline", "declined", "outbound-decline"],
  ] as const) {
    test(`${code} ${reason} → ${status}; the final response is ACKed`, async () => {
      const sipp = await startSippUas({ scenario, port: trunkPort });
      const id = (await agent.api("POST", "/outbound/call", CALL)).body.call_id;
      await agent.waitForCall(id, (c) => c.status === "ringing" || c.status === status, 5000);
      const done = await agent.waitForCall(id, (c) => c.status === status, 5000);
      expect(done.hangup_cause).toEqual({ code: Number(code), reason, source: "remote" });
      expect(done.duration_ms).toBe(0);
      const r = await sipp.finish(5000);
      expect(r.exitCode).toBe(0);
      expect(flowOf(r.messages)).toEqual(["<< INVITE", ">> 100", ">> 180", `>> ${code}`, "<< ACK"]);
    });
  }

  test("422 with Min-SE 30 (below RFC 4028 §5's 90): retried once with Session-Expires/Min-SE 90; a second 422 → failed, its cause saying so", async () => {
    const sipp = await startSippUas({ scenario: "outbound-422-low-min-se", port: trunkPort });
    const id = (await agent.api("POST", "/outbound/call", CALL)).body.call_id;
    const done = await agent.waitForCall(id, (c) => c.status === "failed", 5000);
    expect(done.hangup_cause).toEqual({ code: 422, reason: "Session Interval Too Small (again after our retry with Session-Expires 90)", source: "remote" });
    const r = await sipp.finish(5000);
    expect(r.exitCode, r.errors + r.stderr).toBe(0); // SIPp's check_it: the retry said 90 in both headers (before: 30)
    expect(flowOf(r.messages)).toEqual(["<< INVITE", ">> 422", "<< ACK", "<< INVITE", ">> 422", "<< ACK"]);
    const [first, retry] = r.messages.filter((m) => m.method === "INVITE").map((m) => m.text);
    expect(first).toMatch(/^Session-Expires: 1800/m);
    expect(retry).toMatch(/^Session-Expires: 90\r?$/m);
    expect(retry).toMatch(/^Min-SE: 90\r?$/m);
    expect(retry).toMatch(/^CSeq: 2 INVITE/m);
  });

  test("no answer within RING_TIMEOUT_S: CANCEL, 487 ACKed, status no_answer", async () => {
    const sipp = await startSippUas({ scenario: "outbound-no-answer", port: trunkPort });
    const t0 = performance.now();
    const id = (await agent.api("POST", "/outbound/call", CALL)).body.call_id;
    const done = await agent.waitForCall(id, (c) => c.status === "no_answer", 5000);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThan(950);
    expect(done).toMatchObject({ end_reason: "ring_timeout", hangup_cause: { code: 487, reason: "Request Terminated", source: "local" } }); // the 487 answers our CANCEL (was "remote")
    const r = await sipp.finish(5000);
    expect(r.exitCode).toBe(0);
    expect(flowOf(r.messages)).toEqual(["<< INVITE", ">> 100", ">> 180", "<< CANCEL", ">> 200", ">> 487", "<< ACK"]);
    const cancel = r.messages.find((m) => m.method === "CANCEL")!.text;
    const invite = r.messages.find((m) => m.method === "INVITE")!.text;
    const branch = (t: string) => /^Via: .*branch=([^;\s]+)/m.exec(t)![1];
    expect(branch(cancel)).toBe(branch(invite)); // RFC 3261 §9.1
  }, 15_000);

  test("10 simultaneous outbound calls: each is answered, hears the opening, the callee speaks, the agent says goodbye and hangs up", async () => {
    // The callee answers after 12 s of silence: ten openings synthesized at once on a loaded machine
    // once ran past 7 s, and the callee's words then interrupted them (a barge-in, not this test's topic).
    const callee = await synthesizeCallerAudio("Yes, that works for me.", { leadSilenceMs: 12_000, trailSilenceMs: 5000 });
    const sipp = await startSippUas({ scenario: "outbound-answer", port: trunkPort, calls: 10, audioFile: callee.path });
    const t0 = performance.now();
    const placed = await Promise.all(Array.from({ length: 10 }, () => agent.api("POST", "/outbound/call", CALL)));
    expect(placed.map((p) => p.status)).toEqual(Array(10).fill(201));
    const ids = placed.map((p) => p.body.call_id as string);
    expect(new Set(ids).size).toBe(10);
    const done = await Promise.all(ids.map((id) => agent.waitForCall(id, (c) => c.status === "completed", 30_000)));
    const wall = performance.now() - t0;
    const r = await sipp.finish(10_000);
    expect(r.exitCode).toBe(0);
    expect(r.messages.filter((m) => m.method === "BYE" && m.direction === "received")).toHaveLength(10);
    for (const c of done) {
      expect(c).toMatchObject({ end_reason: "end_call", outcome: "the callee confirmed", outcome_source: "end_call" });
      expect(c.transcript.map((t: any) => `${t.speaker}: ${t.text}`)).toEqual([
        "agent: Hello! I'm calling about your order. Do you have a moment?",
        "callee: Yes, that works for me.",
        "agent: Thank you. Goodbye.",
      ]);
      expect(c.transcript[2].latency.first_rtp_ms).toBeGreaterThan(0);
    }
    const v2v = done.map((c) => c.transcript[2].latency.first_rtp_ms as number).sort((a, b) => a - b);
    console.log(`10 calls: wall ${Math.round(wall)} ms; reply first RTP after end of speech: median ${v2v[5]} ms, max ${v2v[9]} ms`);
    expect(agent.server.activeCalls).toBe(0);
    // The objective is in the system instruction (models/prompts/outbound.md), the opening in the history.
    const req = agent.llm.requests[0]!;
    expect(req.system).toContain("Objective of this call:\nTell them it ships tomorrow.");
    expect(req.system).toContain("You are calling someone on the telephone");
    expect(req.history[0]).toEqual({ role: "assistant", text: "Hello! I'm calling about your order. Do you have a moment?" });
    const list = await agent.api("GET", "/outbound/calls?status=completed&limit=100");
    expect(list.body.calls.length).toBeGreaterThanOrEqual(10);
  }, 45_000);
});

describe.skipIf(!hasSipp)("outbound to an unreachable trunk", () => {
  test("nothing listens (ICMP port unreachable): failed as trunk unreachable after the first retransmission, long before Timer B", async () => {
    // Nothing listens on the trunk's port: ICMP port unreachable, no SIP response.
    const { agent, trunkPort: deadPort } = await startTrunkAgent({}, { sipT1Ms: 200, captureLogs: true });
    try {
      const t0 = performance.now();
      const id = (await agent.api("POST", "/outbound/call", CALL)).body.call_id;
      const done = await agent.waitForCall(id, (c) => c.status === "failed", 20_000);
      const elapsed = performance.now() - t0;
      // Timer B would be 64·T1 = 12.8 s; the INVITE + one retransmission (T1 = 200 ms) suffice. T1 is
      // 200 ms rather than 50 so that a loaded machine has seconds of slack, not one.
      expect(elapsed).toBeLessThan(64 * 200);
      expect(done.hangup_cause).toEqual({ code: null, reason: TRUNK_UNREACHABLE_ICMP, source: "local" });
      expect(done.end_reason).toBe("trunk_unreachable");
      expect(done.answered_at).toBeUndefined();
      const socketErrors = agent.logs().filter((l: any) => l.msg === "sip udp socket error");
      expect(socketErrors).toHaveLength(1); // once, with the real error
      expect(socketErrors[0]).toMatchObject({ code: "ECONNREFUSED", afterSendTo: `127.0.0.1:${deadPort}` });
    } finally {
      await agent.stop();
    }
  }, 15_000);

  test("a trunk that swallows the INVITE (no response, no ICMP): Timer B (64·T1, T1 = 50 ms) → failed 408, trunk unreachable", async () => {
    const hole = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 }); // receives and never answers
    const agent = await startTestAgent({ env: { SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(hole.port) }, sipT1Ms: 50 });
    try {
      const t0 = performance.now();
      const id = (await agent.api("POST", "/outbound/call", CALL)).body.call_id;
      const done = await agent.waitForCall(id, (c) => c.status === "failed", 8000);
      expect(performance.now() - t0).toBeGreaterThan(3000);
      expect(done.hangup_cause).toEqual({ code: 408, reason: TRUNK_UNREACHABLE_TIMEOUT, source: "local" });
      expect(done.end_reason).toBe("trunk_unreachable");
    } finally {
      await agent.stop();
      hole.close();
    }
  }, 20_000);

  test("hang-up through the API before any response: canceled at once, no CANCEL on the wire", async () => {
    const received: string[] = [];
    const hole = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      socket: { data: (_s, d) => void received.push(new TextDecoder().decode(d).split(" ", 1)[0]!) },
    });
    const agent = await startTestAgent({ env: { SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(hole.port) } });
    try {
      const id = (await agent.api("POST", "/outbound/call", CALL)).body.call_id;
      const t0 = performance.now();
      const r = await agent.api("POST", `/outbound/call/${id}/hangup`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ status: "canceled", end_reason: "api_cancel", hangup_cause: { reason: CANCELLED_BEFORE_RESPONSE } });
      expect(performance.now() - t0).toBeLessThan(3000); // no wait for a provisional (Timer B would be 32 s); slack for load
      await Bun.sleep(700); // a Timer A retransmission may follow (the transaction runs on); never a CANCEL
      expect(received).not.toContain("CANCEL");
      expect(received[0]).toBe("INVITE");
    } finally {
      await agent.stop();
      hole.close();
    }
  }, 15_000);
});

describe.skipIf(!hasSipp)("outbound calls when the agent stops", () => {
  test("shutdown drains: new calls get 503, the live call may go on for the drain time, then BYE; status completed", async () => {
    const { agent, trunkPort: port } = await startTrunkAgent();
    const sipp = await startSippUas({ scenario: "outbound-answer", port, audioFile: silenceFile(20) });
    const id = (await agent.api("POST", "/outbound/call", CALL)).body.call_id;
    await agent.waitForCall(id, (c) => c.status === "connected", 5000);
    const t0 = performance.now();
    const stopping = agent.server.shutdown(800);
    const refused = await agent.api("POST", "/outbound/call", CALL);
    expect(refused).toMatchObject({ status: 503, body: { error: "draining" } });
    const rec = (await agent.server.store.get(id))!;
    expect(rec.status).toBe("connected"); // still talking during the drain
    await stopping;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(750);
    const r = await sipp.finish(5000);
    expect(r.exitCode).toBe(0); // SIPp got our BYE and answered it
    expect(rec).toMatchObject({ status: "completed", endReason: "shutdown", hangupCause: { reason: "the agent shut down", source: "local" } });
    await agent.stop().catch(() => {});
  }, 20_000);
});

describe.skipIf(!hasSipp)("in-dialog requests from the trunk on an outbound call", () => {
  let agent: TestAgent;
  let trunkPort: number;
  beforeAll(async () => {
    ({ agent, trunkPort } = await startTrunkAgent({ RING_TIMEOUT_S: "5", OUTBOUND_CALLS_PER_MINUTE: "100" }));
  });
  afterAll(async () => {
    await agent?.stop();
    await stopAllManaged();
  });

  test("hold and resume by re-INVITE: answered recvonly then sendrecv with o= version +1 each; the call goes on", async () => {
    const sipp = await startSippUas({ scenario: "outbound-hold", port: trunkPort, pauseMs: 1500, audioFile: silenceFile(8) });
    const placed = await agent.api("POST", "/outbound/call", CALL);
    expect(placed.status).toBe(201);
    const done = await agent.waitForCall(placed.body.call_id, (c) => c.status === "completed", 30_000);
    const r = await sipp.finish(5000);
    expect(r.exitCode, r.errors).toBe(0);
    const oks = r.messages.filter((m) => m.direction === "received" && m.status === 200 && /^CSeq:\s*\d+ INVITE$/m.test(m.text));
    expect(oks).toHaveLength(2);
    const offer = r.messages.find((m) => m.direction === "received" && m.method === "INVITE")!.text;
    const version = (t: string) => Number(/^o=\S+ \d+ (\d+)/m.exec(t)![1]);
    expect(oks[0]!.text).toMatch(/^a=recvonly$/m);
    expect(version(oks[0]!.text)).toBe(version(offer) + 1);
    expect(oks[1]!.text).toMatch(/^a=sendrecv$/m);
    expect(version(oks[1]!.text)).toBe(version(offer) + 2);
    expect(done.end_reason).toBe("remote_bye");
  }, 60_000);
});
