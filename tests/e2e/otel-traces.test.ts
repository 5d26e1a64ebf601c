/**
 * OpenTelemetry traces from the compiled binary (the SDK bundled by `bun build --compile`): a local
 * OTLP/HTTP receiver (JSON bodies on POST /v1/traces, as the OTLP specification's "OTLP/HTTP" section
 * describes) gets one trace per real SIPp call, with SIP set-up, the STT session and each turn with its
 * stages in order (end of speech → final transcript → first token → first audio → first RTP) and the
 * LLM/TTS requests; numbers and transcripts only with LOG_PII=true. Three agents (LOG_PII=false, true,
 * and one whose collector is unreachable) take one call each, at the same time, so the file costs one
 * call's time. Cloud providers are the
 * local protocol fakes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freeUdpPortRange } from "../support/ports.ts";
import { missingTools } from "../support/process.ts";
import { describeSipp, runSipp, type SippResult } from "../support/sipp.ts";
import { synthesizeCallerAudio } from "../support/speech.ts";
import { attr, startOtlpCollector, type OtlpSpan } from "../support/otlp-collector.ts";
import { repeatLine, startCloudFakes, type CloudFakes } from "./cloud-support.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const CALLER_LINE = "I would like to book a table for two";
const CALLEE = "+15550001111";
const skip = missingTools(["sipp", "flite"]).length > 0;

const ns = (t: string) => BigInt(t);

interface Run {
  collector: ReturnType<typeof startOtlpCollector>;
  agent: RunningAgent;
  sipp?: SippResult;
  record?: any;
  spans: OtlpSpan[];
}
let fakes: CloudFakes;
const runs: Record<"private" | "open", Run> = {} as never;

/** An agent whose collector is gone (its port closed): the call must not notice. */
let dark: Run;

async function callOnce(run: Run, audioPath: string, durationMs: number): Promise<void> {
  const media = await freeUdpPortRange(4);
  run.sipp = await runSipp({
    scenario: "inbound-call",
    target: `127.0.0.1:${run.agent.sipPort}`,
    service: CALLEE,
    mediaPort: media,
    audioFile: audioPath,
    pauseMs: durationMs + 200,
    timeoutMs: durationMs + 20_000,
  });
  const { recent } = await waitFor(async () => {
    const l = await run.agent.get("/calls");
    return l.recent?.length ? l : undefined;
  }, 5000, "the ended call");
  run.record = await run.agent.get(`/calls/${recent[0].id}`);
  if (run === dark) return;
  // The root span is sent when the call ends (batches every 200 ms here).
  run.spans = await waitFor(() => {
    const s = run.collector.spans();
    return s.some((x) => x.name === "call" && attr(x, "voice_agent.call.id") === run.record.id) ? s : undefined;
  }, 10_000, "the call's root span at the collector");
}

beforeAll(async () => {
  if (skip) return;
  fakes = startCloudFakes({ script: repeatLine(CALLER_LINE, 10), reply: ["Hello, thank you for calling. ", "How can I help you today?"] });
  const gone = startOtlpCollector();
  gone.stop();
  // The three agents start at the same time.
  const started = (["private", "open"] as const).map(async (name) => {
    const collector = startOtlpCollector();
    const agent = await startAgent({
      ...fakes.env(),
      LOG_PII: name === "open" ? "true" : "false",
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_HEADERS: "x-collector-key=abc%20123",
      OTEL_SERVICE_NAME: `voice-agent-${name}`,
      OTEL_BSP_SCHEDULE_DELAY: "200",
    });
    runs[name] = { collector, agent, spans: [] };
  });
  const darkAgent = startAgent({ ...fakes.env(), OTEL_EXPORTER_OTLP_ENDPOINT: gone.url, OTEL_EXPORTER_OTLP_TIMEOUT: "1500", OTEL_BSP_SCHEDULE_DELAY: "200" });
  try {
    await Promise.all(started);
  } finally {
    dark = { collector: gone, agent: await darkAgent, spans: [] }; // stopped by afterAll whatever happened
  }
  const audio = await synthesizeCallerAudio([`${CALLER_LINE}.`], { leadSilenceMs: 2500, trailSilenceMs: 3000 });
  await Promise.all([...Object.values(runs), dark].map((r) => callOnce(r, audio.path, audio.durationMs)));
}, 90_000);

afterAll(async () => {
  for (const r of [...Object.values(runs), dark]) {
    await r?.agent?.stop();
    r?.collector?.stop();
  }
  await fakes?.close();
});

describe.skipIf(skip)("OTLP/HTTP traces from the binary", () => {
  test("one trace per call: every span of the call shares the root's trace id; headers and service.name as configured", () => {
    for (const [name, r] of Object.entries(runs)) {
      expect(r.sipp!.exitCode, describeSipp(r.sipp!)).toBe(0);
      const roots = r.spans.filter((s) => s.name === "call");
      expect(roots).toHaveLength(1);
      const root = roots[0]!;
      expect(root.parentSpanId ?? "").toBe("");
      expect(attr(root, "sip.call_id")).toBe(r.record.sipCallId);
      expect(root.kind).toBe(2); // SERVER: an inbound call
      expect(new Set(r.spans.map((s) => s.traceId))).toEqual(new Set([root.traceId]));
      const children = r.spans.filter((s) => s.parentSpanId === root.spanId).map((s) => s.name);
      expect(children).toEqual(expect.arrayContaining(["sip.setup", "stt.session", "turn"]));
      expect(r.collector.got[0]!.headers.get("x-collector-key")).toBe("abc 123");
      expect(r.collector.got[0]!.headers.get("content-type")).toBe("application/json");
      const resource = r.collector.got[0]!.body.resourceSpans[0]!.resource;
      expect(resource.attributes!.find((a) => a.key === "service.name")!.value).toEqual({ stringValue: `voice-agent-${name}` });
    }
  });

  test("turn spans in order, as many as agent turns; the reply's stages in order inside it, with its LLM and TTS requests", () => {
    const r = runs.private;
    const agentTurns = r.record.turns.filter((t: any) => t.speaker === "agent");
    const turns = r.spans.filter((s) => s.name === "turn").sort((a, b) => Number(ns(a.startTimeUnixNano) - ns(b.startTimeUnixNano)));
    expect(turns.map((t) => Number(attr(t, "voice_agent.turn.index")))).toEqual(agentTurns.map((t: any) => t.index));
    const reply = turns.find((t) => attr(t, "voice_agent.latency.final_transcript_ms") !== undefined)!;
    expect(reply).toBeDefined();
    const inside = r.spans.filter((s) => s.parentSpanId === reply.spanId).sort((a, b) => Number(ns(a.startTimeUnixNano) - ns(b.startTimeUnixNano)));
    const stages = inside.filter((s) => s.name.startsWith("stage."));
    expect(stages.map((s) => s.name)).toEqual(["stage.final_transcript", "stage.first_token", "stage.first_audio", "stage.first_rtp"]);
    for (let i = 1; i < stages.length; i++) expect(ns(stages[i]!.startTimeUnixNano)).toBe(ns(stages[i - 1]!.endTimeUnixNano));
    expect(ns(stages[0]!.startTimeUnixNano)).toBe(ns(reply.startTimeUnixNano));
    expect(ns(stages.at(-1)!.endTimeUnixNano)).toBeLessThanOrEqual(ns(reply.endTimeUnixNano));
    // The first-RTP stage ends where the record says (ms from the end of speech).
    const recorded = agentTurns.find((t: any) => t.index === Number(attr(reply, "voice_agent.turn.index")));
    expect(Number(ns(stages.at(-1)!.endTimeUnixNano) - ns(reply.startTimeUnixNano)) / 1e6).toBeCloseTo(recorded.latency.firstRtpMs, 0);
    const llm = inside.find((s) => s.name === "llm.request")!;
    const tts = inside.find((s) => s.name === "tts.request")!;
    expect(attr(llm, "voice_agent.provider")).toMatch(/^gemini/);
    expect(attr(tts, "voice_agent.provider")).toMatch(/^cartesia/);
    expect(llm.kind).toBe(3); // CLIENT
    expect(ns(llm.startTimeUnixNano)).toBeLessThanOrEqual(ns(tts.startTimeUnixNano));
    // SIP set-up ends at the answer (ACK), where the STT session starts.
    const setup = r.spans.find((s) => s.name === "sip.setup")!;
    const stt = r.spans.find((s) => s.name === "stt.session")!;
    expect(setup.endTimeUnixNano).toBe(stt.startTimeUnixNano);
    expect(ns(stt.startTimeUnixNano)).toBe(BigInt(Date.parse(r.record.answeredAt)) * 1_000_000n);
  });

  test("LOG_PII=false: no number, address or words in any attribute; LOG_PII=true: numbers and transcripts present", () => {
    const values = (r: Run) => JSON.stringify(r.spans.map((s) => [s.attributes ?? [], s.events ?? []]));
    const priv = values(runs.private);
    expect(priv).not.toContain(CALLEE);
    expect(priv).not.toContain(runs.private.record.from);
    expect(priv.toLowerCase()).not.toContain("table for two");
    expect(priv).not.toContain("How can I help");
    const open = runs.open;
    const root = open.spans.find((s) => s.name === "call")!;
    expect(attr(root, "sip.to")).toContain(CALLEE);
    expect(attr(root, "sip.from")).toBe(open.record.from);
    const reply = open.spans.find((s) => s.name === "turn" && attr(s, "voice_agent.turn.caller_text") !== undefined)!;
    expect(String(attr(reply, "voice_agent.turn.caller_text")).toLowerCase()).toContain("table for two");
    expect(typeof attr(reply, "voice_agent.turn.agent_text")).toBe("string");
  });

  test("the agent counts what it exported (voice_agent_trace_spans_total)", async () => {
    // The tracing worker reports its totals to the main thread at most once a second.
    const text = await waitFor(async () => {
      const t = await (await fetch(`http://127.0.0.1:${runs.private.agent.httpPort}/metrics`)).text();
      const exported = Number(/voice_agent_trace_spans_total\{result="exported"\} (\d+)/.exec(t)?.[1]);
      return exported >= runs.private.spans.length ? t : undefined;
    }, 5000, "the exported spans counted");
    expect(text).toMatch(/voice_agent_trace_spans_total\{result="dropped"\} 0/);
  });

  test("an unreachable collector: the call goes as usual (the reply heard), the spans are dropped and counted", async () => {
    expect(dark.sipp!.exitCode, describeSipp(dark.sipp!)).toBe(0);
    const reply = dark.record.turns.find((t: any) => t.speaker === "agent" && t.latency?.finalTranscriptMs !== undefined);
    expect(reply?.latency.firstRtpMs).toBeGreaterThan(0);
    const text = await waitFor(async () => {
      const t = await (await fetch(`http://127.0.0.1:${dark.agent.httpPort}/metrics`)).text();
      return Number(/voice_agent_trace_spans_total\{result="dropped"\} (\d+)/.exec(t)?.[1]) >= 10 ? t : undefined;
    }, 10_000, "the dropped spans counted");
    expect(text).toMatch(/voice_agent_trace_spans_total\{result="exported"\} 0/);
    expect(dark.agent.logs().some((l: any) => l.msg === "trace export failed; spans dropped")).toBe(true);
  });
});
