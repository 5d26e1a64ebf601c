/**
 * Record-Route the other way: the agent ends an inbound call that came through Kamailio (MAX_CALL_S
 * reached: a goodbye, then BYE). Its BYE follows the route set learnt from the INVITE's Record-Route
 * (RFC 3261 §12.1.1, §12.2.1.1): it goes to Kamailio, which relays it to the caller.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { waitFor } from "../e2e/agent.ts";
import { startFleet, type Fleet } from "./support.ts";

const ready = !!Bun.which("kamailio") && !!Bun.which("sipp") && !!Bun.which("kamcmd");
let fleet: Fleet;
beforeAll(async () => {
  if (!ready) return;
  fleet = await startFleet({ agents: 1, maxCalls: 4, env: { MAX_CALL_S: "10" } });
  await waitFor(async () => (await fleet.flags()).get(0)?.startsWith("A"), 15_000, "agent active");
}, 60_000);
afterAll(async () => {
  await fleet?.stop();
});

describe.skipIf(!ready)("the agent's BYE through Kamailio", () => {
  test("the agent hangs up an inbound call: its BYE reaches the caller through Kamailio", async () => {
    const r = await runSipp({ scenario: "agent-hangup", target: `127.0.0.1:${fleet.port}`, audioFile: silenceFile(20), timeoutMs: 40_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const bye = r.messages.find((m) => m.direction === "received" && m.method === "BYE")!;
    // Relayed by Kamailio: its Via on top, the agent's below.
    const vias = [...bye.text.matchAll(/^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:(\d+)/gim)].map((m) => Number(m[1]));
    expect(vias[0]).toBe(fleet.port);
    expect(vias).toContain(fleet.slots[0]!.sipPort);
    const rec = await waitFor(async () => (await fleet.get(0, "/calls")).recent[0], 10_000, "the record");
    expect(rec.endReason).toBe("agent_goodbye");
  }, 60_000);
});
