/**
 * Kamailio 5.6 relaying as the trunk, with Record-Route: agent → Kamailio → baresip (auto-answer).
 * The agent's ACK and BYE must follow the route set (Route: <sip:kamailio;lr>, RFC 3261 §12.2.1.1)
 * with the callee's Contact as Request-URI; the callee's BYE reaches the agent through Kamailio too.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { stopAllManaged } from "../support/process.ts";
import { speechPcm8k } from "../support/speech.ts";
import { startBaresipCallee } from "./support/baresip.ts";
import { startKamailioRelay } from "./support/kamailio.ts";
import { startTestAgent } from "./support/agent.ts";

const ready = !!Bun.which("kamailio") && !!Bun.which("baresip");
const CALL = { phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow." };
const silence = (ms: number) => new Int16Array((ms * 8000) / 1000);

afterAll(() => stopAllManaged());

describe.skipIf(!ready)("outbound through Kamailio (Record-Route) to baresip", () => {
  test("agent hangs up: ACK and BYE carry Route to Kamailio and the callee's Contact; callee BYE comes back through it", async () => {
    const answer = await speechPcm8k("Yes, that works for me.");
    const mic = new Int16Array(silence(7000).length + answer.length + silence(9000).length);
    mic.set(answer, silence(7000).length);
    const callee = await startBaresipCallee({ user: "+14155550100", micPcm: mic });
    const kam = await startKamailioRelay({ nextHop: { host: "127.0.0.1", port: callee.port } });
    const agent = await startTestAgent({ env: { SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(kam.port) } });
    try {
      const placed = await agent.api("POST", "/outbound/call", CALL);
      expect(placed.status).toBe(201);
      const done = await agent.waitForCall(placed.body.call_id, (c) => c.status === "completed", 25_000);
      expect(done).toMatchObject({ end_reason: "end_call", hangup_cause: { source: "local" } });
      expect(done.transcript).toHaveLength(3);
      await callee.proc.waitForLine(/terminated \(duration/, { timeoutMs: 3000 });
      const reqs = kam.requests();
      const fromAgent = (m: string) => reqs.filter((r) => r.method === m && r.from === `127.0.0.1:${agent.server.sipPort}`);
      expect(fromAgent("INVITE")).toHaveLength(1);
      expect(fromAgent("INVITE")[0]!.route).toBe("");
      const ack = fromAgent("ACK")[0]!;
      const bye = fromAgent("BYE")[0]!;
      expect(ack.route).toMatch(new RegExp(`^<sip:127\\.0\\.0\\.1:${kam.port};lr(=on)?(;ftag=[^>;]+)?>$`)); // as Record-Routed
      expect(bye.route).toBe(ack.route);
      // Remote target = the callee's Contact (baresip adds an instance suffix to the user), not the trunk.
      expect(bye.ruri).toMatch(new RegExp(`^sip:\\+14155550100[^@]*@127\\.0\\.0\\.1:${callee.port}\\b`));
      expect(fromAgent("INVITE")[0]!.ruri).toBe(`sip:+14155550100@127.0.0.1:${kam.port}`);
    } finally {
      await agent.stop();
      await kam.stop();
      await callee.stop();
    }
  }, 40_000);

  test("callee hangs up: its BYE is relayed by Kamailio to the agent, answered, call completed", async () => {
    const callee = await startBaresipCallee({ user: "+14155550100", micPcm: silence(6000) });
    const kam = await startKamailioRelay({ nextHop: { host: "127.0.0.1", port: callee.port } });
    const agent = await startTestAgent({ env: { SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(kam.port) } });
    try {
      const placed = await agent.api("POST", "/outbound/call", CALL);
      const done = await agent.waitForCall(placed.body.call_id, (c) => c.status === "completed", 20_000);
      expect(done).toMatchObject({ end_reason: "remote_bye", hangup_cause: { code: null, reason: "BYE from the callee", source: "remote" } });
      const byes = kam.requests().filter((r) => r.method === "BYE");
      expect(byes).toHaveLength(1);
      expect(byes[0]!.from).toBe(`127.0.0.1:${callee.port}`);
      expect(byes[0]!.ruri).toMatch(new RegExp(`^sip:127\\.0\\.0\\.1:${agent.server.sipPort}`)); // our Contact
    } finally {
      await agent.stop();
      await kam.stop();
      await callee.stop();
    }
  }, 40_000);
});
