/**
 * An outbound call the callee answers but never sends audio on, against the compiled agent: SIPp as the
 * trunk answers 200 and stays mute (tests/scenarios/outbound-answer-silent.xml). The agent speaks its
 * opening to nobody, RTP_TIMEOUT_S ends the call, and the API reports it truthfully: status no_media,
 * the cause says no audio came from the callee, and no outcome (never the agent's own opening line).
 * Its OpenTelemetry trace (local OTLP collector) is an outbound one: a CLIENT root span with the status.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { NO_MEDIA_RECEIVED } from "../../src/outbound";
import { startSippUas } from "../outbound/support/sipp-uas.ts";
import { attr, startOtlpCollector } from "../support/otlp-collector.ts";
import { freeUdpPort } from "../support/ports.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const hasSipp = !!Bun.which("sipp");
let agent: RunningAgent | undefined;
const collector = startOtlpCollector();
afterAll(async () => {
  await agent?.stop();
  collector.stop();
}, 20_000);

describe.skipIf(!hasSipp)("outbound call with no media from the callee (compiled agent)", () => {
  test("answered, mute callee: status no_media, cause names it, no outcome", async () => {
    const trunkPort = await freeUdpPort();
    agent = await startAgent(
      { SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(trunkPort), SIP_CALLER_ID: "+14155550123", RTP_TIMEOUT_S: "3", IDLE_PROMPT_S: "3600", OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "200" },
      ["--mode", "outbound"],
    );
    const sipp = await startSippUas({ scenario: "outbound-answer-silent", port: trunkPort });
    const res = await fetch(`http://127.0.0.1:${agent.httpPort}/outbound/call`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow." }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const id = ((await res.json()) as { call_id: string }).call_id;
    const done = await waitFor(
      async () => {
        const c = await agent!.get(`/outbound/call/${id}`);
        return c.ended_at ? c : undefined;
      },
      30_000,
      "the call to end",
    );
    const r = await sipp.finish(5000);
    expect(r.exitCode).toBe(0); // SIPp got the agent's BYE and answered it
    // `source` says who hung up: the agent, after RTP_TIMEOUT_S of the callee's silence (was "remote" with "BYE by the agent").
    expect(done).toMatchObject({ status: "no_media", end_reason: "rtp_timeout", hangup_cause: { code: null, source: "local" } });
    expect(done.hangup_cause.reason).toStartWith(NO_MEDIA_RECEIVED);
    expect(done.hangup_cause.reason).toEndWith("; the agent hung up: no RTP from the callee for RTP_TIMEOUT_S (rtp_timeout)");
    expect(done.answered_at).toBeDefined();
    expect(done.outcome).toBeUndefined();
    expect(done.outcome_source).toBeUndefined();
    // The agent did speak (to nobody): its words are in the transcript, not in the outcome.
    expect(done.transcript.some((t: { speaker: string }) => t.speaker === "agent")).toBe(true);
    const list = await agent.get("/outbound/calls?status=no_media");
    expect(list.calls.map((c: { call_id: string }) => c.call_id)).toEqual([id]);
    // The trace: CLIENT root (we placed the call), set-up INVITE → 200, the opening as a turn.
    const spans = await waitFor(() => (collector.spans().some((x) => x.name === "call") ? collector.spans() : undefined), 10_000, "the trace");
    const root = spans.find((x) => x.name === "call")!;
    expect(root.kind).toBe(3);
    expect(attr(root, "voice_agent.call.direction")).toBe("outbound");
    expect(attr(root, "voice_agent.call.status")).toBe("no_media");
    expect(attr(root, "voice_agent.call.end_reason")).toBe("rtp_timeout");
    const setup = spans.find((x) => x.name === "sip.setup")!;
    expect(BigInt(setup.endTimeUnixNano)).toBe(BigInt(Date.parse(done.answered_at)) * 1_000_000n);
    expect(spans.some((x) => x.name === "turn" && x.parentSpanId === root.spanId)).toBe(true);
  }, 60_000);
});
