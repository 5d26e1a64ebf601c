/**
 * Blind transfer by REFER (RFC 3515) through the compiled agent, SIPp as the trunk side of an inbound
 * call (tests/scenarios/transfer-*.xml), the scripted action `transfer_call` chosen by a key press:
 * REFER with Refer-To/Referred-By → 202 → NOTIFY sipfrag 200 → our BYE; NOTIFY 486 → the call goes on
 * and the caller hears the agent's explanation; NOTIFY without Event → 400, other package → 489.
 * The successful one is also watched as the call page sees it (live states over SSE) and traced
 * (OTLP/HTTP to a local collector: the `transfer` span).
 */
import { expect, test } from "bun:test";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { missingTools } from "../support/process.ts";
import { attr, startOtlpCollector } from "../support/otlp-collector.ts";
import { startAgent, waitFor } from "./agent.ts";
import { watchLiveStates } from "./live-states.ts";

const missing = missingTools(["sipp"]);
const ENV = { SCRIPT_FILE: "tests/fixtures/transfer-menu.json", LLM_PROVIDER: "scripted", TRANSFER_TARGETS: "sales=sip:sales@127.0.0.1:5999, desk=+14155550123" };

test.skipIf(missing.length > 0)(
  "REFER → 202 → NOTIFY sipfrag 200: the agent hangs up; the record keeps the transfer",
  async () => {
    const collector = startOtlpCollector();
    const agent = await startAgent({ ...ENV, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "200" });
    const live = await watchLiveStates(agent);
    try {
      const r = await runSipp({ scenario: "transfer-ok", target: `127.0.0.1:${agent.sipPort}`, timeoutMs: 40_000 });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const refer = r.messages.find((m) => m.direction === "received" && /^REFER /.test(m.text))!;
      expect(refer.text).toMatch(/^Refer-To: <sip:sales@127\.0\.0\.1:5999>\r?$/m);
      expect(refer.text).toMatch(/^Referred-By: <sip:[^>]+>\r?$/m);
      const { recent } = await agent.get("/calls");
      const rec = await agent.get(`/calls/${recent[0].id}`);
      expect(rec.transfer, JSON.stringify(rec)).toMatchObject({ target: "sales", uri: "sip:sales@127.0.0.1:5999", method: "refer", outcome: "transferred", referStatus: 202, finalStatus: 200 });
      expect(Date.parse(rec.transfer.endedAt)).toBeGreaterThanOrEqual(Date.parse(rec.transfer.startedAt));
      expect(rec.turns.map((t: any) => t.text)).toContain("Transferring you to sales now.");
      // The live list showed the transfer while it was under way.
      expect(await live.stop()).toEqual(["ringing", "talking", "transferring", "ended"]);
      const spans = await waitFor(() => (collector.spans().some((x) => x.name === "call") ? collector.spans() : undefined), 10_000, "the call's trace");
      const transfer = spans.find((x) => x.name === "transfer")!;
      expect(attr(transfer, "voice_agent.transfer.outcome")).toBe("transferred");
      expect(attr(transfer, "voice_agent.transfer.target")).toBe("sales");
      expect(BigInt(transfer.startTimeUnixNano)).toBe(BigInt(Date.parse(rec.transfer.startedAt)) * 1_000_000n);
      expect(transfer.parentSpanId).toBe(spans.find((x) => x.name === "call")!.spanId);
    } finally {
      await live.stop();
      await agent.stop();
      collector.stop();
    }
  },
  60_000,
);

test.skipIf(missing.length > 0)(
  "NOTIFY sipfrag 486: the call goes on and the agent explains; bad NOTIFYs get 400 and 489",
  async () => {
    const agent = await startAgent(ENV);
    try {
      const r = await runSipp({ scenario: "transfer-busy", target: `127.0.0.1:${agent.sipPort}`, pauseMs: 6000, timeoutMs: 40_000 });
      // SIPp fails on an unexpected BYE: the agent did not hang up after the failed transfer.
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const { recent } = await agent.get("/calls");
      const rec = await agent.get(`/calls/${recent[0].id}`);
      expect(rec.transfer, JSON.stringify(rec)).toMatchObject({ target: "sales", outcome: "failed", referStatus: 202, finalStatus: 486 });
      const said = rec.turns.filter((t: any) => t.speaker === "agent").map((t: any) => t.text);
      expect(said, JSON.stringify(said)).toContain("I am sorry, I could not transfer you right now. Is there anything else I can help you with?");
    } finally {
      await agent.stop();
    }
  },
  60_000,
);
