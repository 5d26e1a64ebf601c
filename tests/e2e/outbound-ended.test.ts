/**
 * An ended outbound call on the compiled agent, SIPp as the trunk (tests/scenarios/outbound-resent-200.xml):
 * the agent hangs up (BYE), and the trunk then re-sends its 200 to the INVITE, as a UAS whose ACK was
 * lost would. It must still get the agent's ACK — RFC 3261 §13.2.2.4 "The ACK MUST be passed to
 * the client transport every time a retransmission of the 2xx final response that triggered the ACK
 * arrives" — although the call and its media are gone (what answers is the INVITE transaction's ACK
 * keeper, src/sip/ua/uac-invite.ts, that no longer holds the call: tests/sip/ua-outbound-ended.test.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { flowOf, startSippUas } from "../outbound/support/sipp-uas.ts";
import { freeUdpPort } from "../support/ports.ts";
import { stopAllManaged } from "../support/process.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const hasSipp = !!Bun.which("sipp");
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
  await stopAllManaged();
}, 20_000);

describe.skipIf(!hasSipp)("an ended outbound call (compiled agent, SIPp trunk)", () => {
  test("the trunk's 200 re-sent after our BYE and its 200 is ACKed again, with the same ACK", async () => {
    const trunkPort = await freeUdpPort();
    agent = await startAgent({ SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(trunkPort), SIP_CALLER_ID: "+14155550123" }, ["--mode", "outbound"]);
    const sipp = await startSippUas({ scenario: "outbound-resent-200", port: trunkPort });
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`http://127.0.0.1:${agent!.httpPort}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const placed = await api("POST", "/outbound/call", { phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow." });
    expect(placed.status, await placed.clone().text()).toBe(201);
    const id = ((await placed.json()) as { call_id: string }).call_id;
    await waitFor(async () => (await agent!.get(`/outbound/call/${id}`)).answered_at, 10_000, "the answer");
    expect([200, 202]).toContain((await api("POST", `/outbound/call/${id}/hangup`)).status); // BYE sent (the call ends at once: 200)
    const r = await sipp.finish(15_000);
    expect(r.exitCode, r.errors).toBe(0); // the re-sent 200 got an ACK within 5 s
    expect(flowOf(r.messages)).toEqual(["<< INVITE", ">> 200", "<< ACK", "<< BYE", ">> 200", ">> 200", "<< ACK"]);
    const acks = r.messages.filter((m) => m.method === "ACK").map((m) => m.text);
    expect(new Set(acks.map((t) => /^Via: .*$/m.exec(t)?.[0])).size).toBe(1); // the same ACK (§13.2.2.4), not a new one
    expect(acks[1]).toMatch(/^CSeq: 1 ACK/m);
    const done = await agent.get(`/outbound/call/${id}`);
    expect(done).toMatchObject({ end_reason: "api_hangup" }); // (status no_media: this trunk sends no RTP)
  }, 30_000);
});
