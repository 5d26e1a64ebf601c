/**
 * The conversation on hold, through the compiled agent (offline pipeline) with SIPp as the caller
 * (tests/scenarios/hold-idle.xml): the caller holds the call (re-INVITE a=sendonly) during the greeting
 * for longer than the idle prompts would take, then resumes. On hold the conversation says nothing and
 * prompts nothing (no "are you still there", no goodbye, no BYE); on resume it goes on where it was —
 * the rest of the greeting — and only then does the idle time count. The call page's live list shows
 * "on hold" meanwhile, and the call's trace has a `hold` span at the times SIPp held and resumed.
 */
import { expect, test } from "bun:test";
import { wholeSentences } from "../../src/pipeline/heard-text.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { missingTools } from "../support/process.ts";
import { startOtlpCollector } from "../support/otlp-collector.ts";
import { startAgent, waitFor } from "./agent.ts";
import { watchLiveStates } from "./live-states.ts";

const missing = missingTools(["sipp"]);
const HOLD_MS = 6000;
/** The offline script's greeting (src/providers/scripted, the default script). */
const GREETING =
  "Hello, thank you for calling Example Medical Practice. This is the automated receptionist. May I have your name, please?";
const IDLE_PROMPT_S = 2;

test.skipIf(missing.length > 0)(
  "held during the greeting for 3× the idle time: no prompt, no goodbye; resumed: the greeting's rest, then the prompt, goodbye and BYE",
  async () => {
    const collector = startOtlpCollector();
    const agent = await startAgent({ IDLE_PROMPT_S: String(IDLE_PROMPT_S), IDLE_PROMPTS: "1", OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: "200" });
    // The call page's live list, as it sees the call: the `call` events of GET /events (SSE).
    const live = await watchLiveStates(agent);
    try {
      const r = await runSipp({
        scenario: "hold-idle",
        target: `127.0.0.1:${agent.sipPort}`,
        keys: { audio: `${silenceFile(1, "mulaw")},-1,0` },
        pauseMs: HOLD_MS,
        timeoutMs: 80_000,
      });
      // SIPp fails on a BYE it does not expect: none came while the call was held.
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const sentAt = (re: RegExp) => Date.parse(r.messages.find((x) => x.direction === "sent" && re.test(x.text))!.time.replace(" ", "T") + "Z");
      const heldAt = sentAt(/^ACK [^]*CSeq: 2 ACK/m);
      const resumedAt = sentAt(/^ACK [^]*CSeq: 3 ACK/m);
      expect(resumedAt - heldAt).toBeGreaterThanOrEqual(HOLD_MS - 100);

      const { recent } = await agent.get("/calls");
      const record = await agent.get(`/calls/${recent[0].id}`);
      const said = record.turns.filter((t: any) => t.speaker === "agent");
      const summary = `held ${new Date(heldAt).toISOString()}, resumed ${new Date(resumedAt).toISOString()}: ${JSON.stringify(said)}`;
      // Nothing was said (recorded) while the call was held.
      const duringHold = said.filter((t: any) => Date.parse(t.at) > heldAt + 200 && Date.parse(t.at) < resumedAt);
      expect(duringHold, summary).toEqual([]);
      // The hold cut the greeting (what was heard is kept); after the resume it went on from the start of
      // the sentence the hold cut (up to the last sentence generated), or — nothing heard yet — the
      // greeting generated again.
      expect(said[0].interrupted, summary).toBe(true);
      expect(GREETING.startsWith(said[0].text), summary).toBe(true);
      const continued = `${wholeSentences(said[0].text)} ${said[1].text}`.trim();
      expect(said[1].text === GREETING || (GREETING.startsWith(continued) && /[.?!]$/.test(continued)), summary).toBe(true);
      expect(Date.parse(said[1].at), summary).toBeGreaterThan(resumedAt);
      // Then the idle time counts: the prompt, the goodbye, and the agent's BYE after it.
      expect(said[2].text, summary).toBe("Are you still there?");
      expect(Date.parse(said[2].at) - resumedAt, summary).toBeGreaterThan(IDLE_PROMPT_S * 1000);
      expect(said.at(-1).text, summary).toMatch(/Goodbye/);
      expect(said.filter((t: any) => t.text === "Are you still there?"), summary).toHaveLength(1);
      const logs = agent.logs().filter((l: any) => l.callId === record.id);
      expect(logs.some((l: any) => l.msg === "conversation on hold")).toBe(true);
      // The live list showed the hold as it happened, and the resume.
      expect(await live.stop(), summary).toEqual(["ringing", "talking", "on hold", "talking", "ended"]);
      // The trace has the hold as a span, from the re-INVITE that held to the one that resumed (SIPp's clock).
      const spans = await waitFor(() => (collector.spans().some((x) => x.name === "call") ? collector.spans() : undefined), 10_000, "the trace");
      const hold = spans.find((x) => x.name === "hold")!;
      const heldMs = Number(BigInt(hold.startTimeUnixNano) / 1_000_000n);
      const resumedMs = Number(BigInt(hold.endTimeUnixNano) / 1_000_000n);
      expect(Math.abs(heldMs - heldAt), summary).toBeLessThan(500);
      expect(Math.abs(resumedMs - resumedAt), summary).toBeLessThan(500);
      expect(logs.some((l: any) => l.why === "unhold"), summary).toBe(true);
    } finally {
      await live.stop();
      await agent.stop();
      collector.stop();
    }
  },
  120_000,
);
