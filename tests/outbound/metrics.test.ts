/**
 * Outbound calls in /metrics: a real agent (in this process) places a call through SIPp playing the
 * trunk (digest challenge, 200, ACK, the trunk's BYE after a pause). While the call is up
 * `voice_agent_active_calls` is 1; afterwards it is 0, `voice_agent_calls_total{direction="outbound"}`
 * counts the call by its result, and the call's RTP packets are in `voice_agent_rtp_packets_total`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { stopAllManaged } from "../support/process.ts";
import { silenceFile } from "../support/speech.ts";
import { parseExposition, valueOf } from "../metrics/exposition-parser.ts";
import { startTestAgent, startTrunkAgent, type TestAgent } from "./support/agent.ts";
import { startSippUas } from "./support/sipp-uas.ts";

const hasSipp = !!Bun.which("sipp");
const CALL = { phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow." };

describe.skipIf(!hasSipp)("outbound calls in /metrics (dialer, SIPp as the trunk)", () => {
  let agent: TestAgent;
  let trunkPort: number;
  beforeAll(async () => {
    ({ agent, trunkPort } = await startTrunkAgent({ SIP_USERNAME: "alice", SIP_PASSWORD: "s3cret" }));
  });
  afterAll(async () => {
    await agent?.stop();
    await stopAllManaged();
  });

  const metrics = async () => {
    const res = await fetch(`${agent.baseUrl}/metrics`, { headers: { authorization: "Bearer outbound-test-token-0123456789" } });
    expect(res.status).toBe(200);
    return parseExposition(await res.text());
  };

  test("active while the call is up; counted by direction and result, with its RTP packets, once it ended", async () => {
    const before = await metrics();
    expect(valueOf(before, "voice_agent_active_calls")).toBe(0);
    const outBefore = valueOf(before, "voice_agent_rtp_packets_total", { direction: "out" });
    const sipp = await startSippUas({ scenario: "outbound-trunk-auth", port: trunkPort, pauseMs: 6000, keys: { user: "alice", pass: "s3cret" }, audioFile: silenceFile(6) });
    const placed = await agent.api("POST", "/outbound/call", CALL);
    expect(placed.status).toBe(201);
    const id = placed.body.call_id;
    // Ringing (INVITE sent) already counts as active.
    expect(valueOf(await metrics(), "voice_agent_active_calls")).toBe(1);
    await agent.waitForCall(id, (c) => c.status === "connected", 5000);
    const during = await metrics(); // the trunk hangs up 6 s after its 200

    expect(valueOf(during, "voice_agent_active_calls")).toBe(1);
    const done = await agent.waitForCall(id, (c) => c.status === "completed", 15_000);
    expect(done.end_reason).toBe("remote_bye");
    expect((await sipp.finish(5000)).exitCode).toBe(0);
    const after = await metrics();
    expect(valueOf(after, "voice_agent_active_calls")).toBe(0);
    expect(valueOf(after, "voice_agent_calls_total", { direction: "outbound", result: "remote_bye" })).toBe(1);
    // The call's RTP: SIPp streamed ~6 s of 20 ms frames to us; we sent the opening and silence. (The agent
    // runs in this test process with flite synthesising on its thread, so on a busy machine the pacer
    // may skip ticks: only "some" is asserted for our side, the exact pacing is the benchmarks' job.)
    expect(valueOf(after, "voice_agent_rtp_packets_total", { direction: "in" })).toBeGreaterThan(50);
    expect(valueOf(after, "voice_agent_rtp_packets_total", { direction: "out" }) - outBefore).toBeGreaterThan(10);
  }, 30_000);

  test("a refusal at capacity is counted as busy without touching active_calls", async () => {
    const small = await startTestAgent({ env: { SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(trunkPort), MAX_OUTBOUND_CALLS: "1" } });
    try {
      const sipp = await startSippUas({ scenario: "outbound-no-answer", port: trunkPort });
      expect((await small.api("POST", "/outbound/call", CALL)).status).toBe(201);
      const refused = await small.api("POST", "/outbound/call", CALL);
      expect(refused.status).toBe(429);
      const res = await fetch(`${small.baseUrl}/metrics`, { headers: { authorization: "Bearer outbound-test-token-0123456789" } });
      const m = parseExposition(await res.text());
      expect(valueOf(m, "voice_agent_active_calls")).toBe(1);
      expect(valueOf(m, "voice_agent_calls_total", { direction: "outbound", result: "busy" })).toBe(1);
      await sipp.finish(1000);
    } finally {
      await small.stop();
    }
  }, 30_000);
});
