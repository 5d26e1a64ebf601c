/**
 * The trace of one call as the observer builds it from call events (src/call/trace-observer.ts), read
 * back from the SDK's in-memory exporter: the span tree, the turn's stages in order at the times the
 * record gives, hold and transfer spans, PII only with LOG_PII, refused calls, and every span ended.
 */
import { describe, expect, test } from "bun:test";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { traceObserver } from "../../src/call/trace-observer";
import type { CallRecord, TurnRecord } from "../../src/pipeline/call-record";
import { ProviderError } from "../../src/providers/types";

/** The time of the event being handled (as the tracing worker gets it from the call side), ms after T0. */
let eventMs = 0;

function setup(pii: boolean) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const obs = traceObserver({ tracer: provider.getTracer("test"), pii, now: () => T0 + eventMs });
  return { obs, spans: () => exporter.getFinishedSpans() };
}

const T0 = Date.parse("2026-12-05T12:00:00.000Z");
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const ms = (s: ReadableSpan, which: "startTime" | "endTime") => s[which][0] * 1000 + s[which][1] / 1e6 - T0;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

function record(): CallRecord {
  return {
    id: "call-1",
    sipCallId: "abc@127.0.0.1",
    direction: "inbound",
    from: "sip:+15551230001@127.0.0.1",
    to: "sip:+15550009999@127.0.0.1",
    state: "ringing",
    startedAt: iso(0),
    turns: [],
    bargeIns: 0,
    providers: { stt: "deepgram (nova-3)", llm: "gemini (flash)", tts: "cartesia (sonic-2)" },
  };
}

/** A call: answered at 80 ms, the caller's turn, a reply, held, a transfer refused, ended at 9000 ms. */
function playCall(obs: ReturnType<typeof traceObserver>) {
  const r = record();
  obs.callStarted(r);
  r.state = "connected";
  r.answeredAt = iso(80);
  obs.callAnswered(r);
  const caller: TurnRecord = { index: 0, speaker: "caller", text: "book a table for two", at: iso(2300) };
  r.turns.push(caller);
  obs.turn(r, caller);
  // End of speech at 2000 ms; the reply played out until 4000 ms, where it was recorded.
  const latency = { finalTranscriptMs: 200, llmStartMs: 250, firstTokenMs: 600, ttsStartMs: 610, firstAudioMs: 700, firstRtpMs: 720, llmEndMs: 900, ttsEndMs: 1100, endMs: 2000 };
  const reply: TurnRecord = { index: 1, speaker: "agent", text: "Certainly, at what time?", at: iso(4000), latency, usage: { llmInputTokens: 30, llmOutputTokens: 6, ttsChars: 24 } };
  r.turns.push(reply);
  obs.turn(r, reply);
  eventMs = 3000;
  obs.bargeIn(r);
  obs.providerError(r, new ProviderError("deepgram", "stt", "unavailable", "socket closed", true));
  r.onHold = true;
  eventMs = 5000;
  obs.callUpdated(r);
  delete r.onHold;
  eventMs = 5500;
  obs.callUpdated(r);
  r.transfer = { target: "desk", uri: "sip:desk@pbx.example", method: "refer", outcome: "pending", startedAt: iso(6000) };
  obs.callUpdated(r);
  r.transfer = { ...r.transfer, outcome: "refused", referStatus: 403, endedAt: iso(6100) };
  obs.callUpdated(r);
  obs.rtpStats(r, { packetsIn: 400, packetsOut: 410, lost: 0 });
  r.state = "ended";
  r.endedAt = iso(9000);
  obs.callEnded(r, "remote_bye");
  return r;
}

describe("traceObserver", () => {
  test("one trace: call → sip.setup, stt.session, turn (stages in order, LLM and TTS requests), hold, transfer", () => {
    const { obs, spans } = setup(false);
    playCall(obs);
    const all = spans();
    expect(new Set(all.map((s) => s.spanContext().traceId)).size).toBe(1);
    const root = all.find((s) => s.name === "call")!;
    expect(parentOf(root)).toBeUndefined();
    const byName = (n: string) => all.find((s) => s.name === n)!;
    for (const n of ["sip.setup", "stt.session", "turn", "hold", "transfer"]) expect(parentOf(byName(n))).toBe(root.spanContext().spanId);
    expect([ms(byName("sip.setup"), "startTime"), ms(byName("sip.setup"), "endTime")]).toEqual([0, 80]);
    expect([ms(byName("stt.session"), "startTime"), ms(byName("stt.session"), "endTime")]).toEqual([80, 9000]);
    const turn = byName("turn");
    expect([ms(turn, "startTime"), ms(turn, "endTime")]).toEqual([2000, 4000]);
    const inTurn = all.filter((s) => parentOf(s) === turn.spanContext().spanId);
    const stages = inTurn.filter((s) => s.name.startsWith("stage.")).map((s) => [s.name, ms(s, "startTime"), ms(s, "endTime")]);
    expect(stages).toEqual([
      ["stage.final_transcript", 2000, 2200],
      ["stage.first_token", 2200, 2600],
      ["stage.first_audio", 2600, 2700],
      ["stage.first_rtp", 2700, 2720],
    ]);
    const llm = byName("llm.request");
    expect([ms(llm, "startTime"), ms(llm, "endTime")]).toEqual([2250, 2900]);
    expect(llm.attributes).toMatchObject({ "voice_agent.provider": "gemini (flash)", "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 6 });
    const tts = byName("tts.request");
    expect([ms(tts, "startTime"), ms(tts, "endTime")]).toEqual([2610, 3100]);
    const transfer = byName("transfer");
    expect(transfer.attributes).toMatchObject({ "voice_agent.transfer.target": "desk", "voice_agent.transfer.outcome": "refused", "voice_agent.transfer.refer_status": 403 });
    expect(transfer.status.code).toBe(2); // ERROR: refused
    expect([ms(transfer, "startTime"), ms(transfer, "endTime")]).toEqual([6000, 6100]);
    expect(root.events.map((e) => e.name)).toEqual(["barge-in", "provider error"]);
    expect(root.events[0]!.time[0] * 1000 + root.events[0]!.time[1] / 1e6 - T0).toBe(3000);
    expect([ms(byName("hold"), "startTime"), ms(byName("hold"), "endTime")]).toEqual([5000, 5500]);
    expect(root.attributes).toMatchObject({ "voice_agent.call.end_reason": "remote_bye", "rtp.packets_in": 400, "sip.call_id": "abc@127.0.0.1" });
    expect(ms(root, "endTime")).toBe(9000);
    expect(all.every((s) => s.ended)).toBe(true);
  });

  test("pii=false: no number, URI, transcript or reply anywhere; pii=true: all of them on their spans", () => {
    const closed = setup(false);
    playCall(closed.obs);
    const text = JSON.stringify(closed.spans().map((s) => [s.attributes, s.events]));
    for (const secret of ["+15551230001", "+15550009999", "book a table", "Certainly", "sip:desk@pbx.example"]) expect(text).not.toContain(secret);
    const open = setup(true);
    playCall(open.obs);
    const spans = open.spans();
    expect(spans.find((s) => s.name === "call")!.attributes).toMatchObject({ "sip.from": "sip:+15551230001@127.0.0.1", "sip.to": "sip:+15550009999@127.0.0.1" });
    expect(spans.find((s) => s.name === "turn")!.attributes).toMatchObject({ "voice_agent.turn.caller_text": "book a table for two", "voice_agent.turn.agent_text": "Certainly, at what time?" });
    expect(spans.find((s) => s.name === "transfer")!.attributes["voice_agent.transfer.uri"]).toBe("sip:desk@pbx.example");
  });

  test("a call never answered: sip.setup ends with an error at the end; spans still open are ended; a refused call is one span", () => {
    const { obs, spans } = setup(false);
    const r = record();
    obs.callStarted(r);
    r.state = "ended";
    r.endedAt = iso(500);
    obs.callEnded(r, "canceled");
    obs.callRefused("inbound", "busy");
    const setupSpan = spans().find((s) => s.name === "sip.setup")!;
    expect(setupSpan.status).toMatchObject({ code: 2, message: "not answered: canceled" });
    expect(ms(setupSpan, "endTime")).toBe(500);
    expect(spans().map((s) => s.name).sort()).toEqual(["call", "call.refused", "sip.setup"]);
    expect(spans().find((s) => s.name === "call.refused")!.attributes).toMatchObject({ "voice_agent.call.end_reason": "busy" });
  });

  test("the greeting (no caller turn): stages start at the reply's start; events of unknown calls are ignored", () => {
    const { obs, spans } = setup(false);
    const r = record();
    obs.callStarted(r);
    const greeting: TurnRecord = { index: 0, speaker: "agent", text: "Hello.", at: iso(1500), latency: { llmStartMs: 5, firstTokenMs: 100, ttsStartMs: 101, firstAudioMs: 150, firstRtpMs: 160, endMs: 1000 } };
    obs.turn(r, greeting);
    obs.turn({ ...r, id: "other" }, greeting);
    obs.bargeIn({ ...r, id: "other" });
    const stages = spans().filter((s) => s.name.startsWith("stage.")).map((s) => [s.name, ms(s, "startTime"), ms(s, "endTime")]);
    expect(stages).toEqual([
      ["stage.first_token", 500, 600],
      ["stage.first_audio", 600, 650],
      ["stage.first_rtp", 650, 660],
    ]);
  });
});
