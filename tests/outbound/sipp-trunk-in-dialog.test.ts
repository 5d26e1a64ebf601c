/**
 * Renegotiation from the trunk on an outbound call (RFC 3311 UPDATE, RFC 3264 §8 re-offers, RFC 3261
 * §14.2 offer-less re-INVITE), SIPp 3.6.1 playing the trunk (tests/scenarios/outbound-in-dialog.xml)
 * against a real agent (tests/outbound/support/agent.ts). Each answer is checked in the SIP trace, and
 * the agent's RTP to the trunk (capture on lo) must switch its payload type with each change:
 * PCMU → PCMA (UPDATE) → PCMU (re-INVITE) → PCMA (answer in the ACK of the offer-less re-INVITE).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RtpCapture } from "../support/capture.ts";
import { missingTools, stopAllManaged } from "../support/process.ts";
import { silenceFile } from "../support/speech.ts";
import { startTrunkAgent, type TestAgent } from "./support/agent.ts";
import { startSippUas } from "./support/sipp-uas.ts";

const missing = missingTools(["sipp", "dumpcap"]);
const CALL = { phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow." };

describe.skipIf(missing.length > 0)("UPDATE, codec changes and an offer-less re-INVITE from the trunk on an outbound call", () => {
  let agent: TestAgent;
  let trunkPort: number;
  beforeAll(async () => {
    ({ agent, trunkPort } = await startTrunkAgent({ RING_TIMEOUT_S: "5", OUTBOUND_CALLS_PER_MINUTE: "100" }));
  });
  afterAll(async () => {
    await agent?.stop();
    await stopAllManaged();
  });

  test("each answered with the new codec and o= version +1; the agent's RTP follows: PCMU → PCMA → PCMU → PCMA", async () => {
    const sipp = await startSippUas({ scenario: "outbound-in-dialog", port: trunkPort, pauseMs: 2000, audioFile: silenceFile(12) });
    const cap = await RtpCapture.start({ portRanges: [[sipp.mediaPort, sipp.mediaPort + 3]], ports: [trunkPort] });
    const placed = await agent.api("POST", "/outbound/call", CALL);
    expect(placed.status).toBe(201);
    const done = await agent.waitForCall(placed.body.call_id, (c) => c.status === "completed", 40_000);
    const r = await sipp.finish(5000);
    const { datagrams } = await cap.stop();
    expect(r.exitCode, r.errors).toBe(0);
    expect(done.end_reason).toBe("remote_bye");

    const got = (re: RegExp) => r.messages.find((m) => m.direction === "received" && m.status === 200 && re.test(m.text))!;
    const version = (t: string) => Number(/^o=\S+ \d+ (\d+)/m.exec(t)![1]);
    const mline = (t: string) => /^m=audio \d+ RTP\/AVP ([\d ]+)$/m.exec(t)?.[1]?.trim().split(" ").map(Number);
    const offer = r.messages.find((m) => m.direction === "received" && m.method === "INVITE")!.text;
    const update = got(/^CSeq:\s*1 UPDATE$/m);
    const reinvite = got(/^CSeq:\s*2 INVITE$/m);
    const offerless = got(/^CSeq:\s*3 INVITE$/m);
    // RFC 3311 §5.2 / RFC 3264 §8: each answer takes the codec offered, in a new version of our SDP.
    expect(mline(update.text)?.[0]).toBe(8);
    expect(version(update.text)).toBe(version(offer) + 1);
    expect(mline(reinvite.text)?.[0]).toBe(0);
    expect(version(reinvite.text)).toBe(version(offer) + 2);
    // RFC 3261 §14.2: a re-INVITE without a body is answered with an offer (both our codecs), version +1.
    expect(mline(offerless.text)).toEqual(expect.arrayContaining([0, 8]));
    expect(version(offerless.text)).toBe(version(offer) + 3);

    // The agent's RTP to the trunk: the runs of payload types, in order.
    const ours = datagrams.filter((d) => d.dstPort === sipp.mediaPort && d.srcPort !== sipp.mediaPort && d.payload.length >= 12 && d.payload[1]! < 200);
    const runs: number[] = [];
    for (const d of ours) {
      const pt = d.payload[1]! & 0x7f;
      if (pt !== 0 && pt !== 8) continue;
      if (runs.at(-1) !== pt) runs.push(pt);
    }
    const count = (pt: number) => ours.filter((d) => (d.payload[1]! & 0x7f) === pt).length;
    console.log(`outbound in-dialog: agent RTP PT runs ${JSON.stringify(runs)}; PCMU ${count(0)}, PCMA ${count(8)} packets`);
    expect(runs).toEqual([0, 8, 0, 8]);
  }, 60_000);
});
