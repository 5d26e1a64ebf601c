/**
 * The main-thread side of tracing (src/cli/tracing.ts): call events posted to the tracing worker come
 * back from a local OTLP collector as one trace; counts are mirrored; posting never throws into the
 * call; stop is bounded. (What posting costs is measured, not asserted: see the report in src/cli/tracing.ts.)
 */
import { describe, expect, test } from "bun:test";
import { startTracing } from "../../src/cli/tracing";
import type { CallRecord, TurnRecord } from "../../src/pipeline/call-record";
import { ProviderError } from "../../src/providers/types";
import { silentLogger } from "../../src/util/log";
import { attr, startOtlpCollector } from "../support/otlp-collector.ts";

const cfg = (url: string) => ({ url: `${url}/v1/traces`, headers: {}, timeoutMs: 2000, serviceName: "va-unit", resourceAttributes: {}, scheduledDelayMs: 50, maxQueueSize: 2048, maxExportBatchSize: 16 });

describe("startTracing", () => {
  test("a call's events, posted to the worker, reach the collector as one trace; counts mirrored; stop bounded", async () => {
    const collector = startOtlpCollector();
    try {
      const tracing = startTracing(cfg(collector.url), { pii: false, log: silentLogger });
      const r: CallRecord = { id: "c1", sipCallId: "s1@h", direction: "outbound", from: "sip:+1555@h", to: "sip:+1666@h", state: "ringing", startedAt: new Date(Date.now() - 3000).toISOString(), turns: [], bargeIns: 0 };
      const o = tracing.observer;
      o.callStarted(r);
      r.answeredAt = new Date(Date.now() - 2500).toISOString();
      o.callAnswered(r);
      const turn: TurnRecord = { index: 0, speaker: "agent", text: "Hello, this is the clinic.", at: new Date(Date.now() - 1000).toISOString(), latency: { llmStartMs: 3, firstTokenMs: 90, ttsStartMs: 95, firstAudioMs: 140, firstRtpMs: 150, llmEndMs: 120, ttsEndMs: 400, endMs: 1200 } };
      r.turns.push(turn);
      o.turn(r, turn);
      o.providerError(r, new ProviderError("cartesia", "tts", "unavailable", "socket closed", true));
      o.toolCall!(r, "end_call", { reason: "done" });
      r.endedAt = new Date().toISOString();
      o.callEnded(r, "end_call");
      await tracing.stop(10_000); // resolves as soon as the worker has sent everything
      const spans = collector.spans();
      expect(spans.map((s) => s.name).sort()).toEqual(["call", "sip.setup", "stage.first_audio", "stage.first_rtp", "stage.first_token", "stt.session", "tts.request", "llm.request", "turn"].sort());
      const root = spans.find((s) => s.name === "call")!;
      expect(root.kind).toBe(3); // CLIENT: an outbound call
      expect(attr(root, "voice_agent.call.turns")).toBe(1);
      expect(root.events!.map((e) => e.name)).toEqual(["provider error", "tool call"]);
      expect(root.events![0]!.attributes).toEqual(expect.arrayContaining([{ key: "voice_agent.provider", value: { stringValue: "cartesia" } }]));
      expect(JSON.stringify(spans)).not.toContain("+1555");
      expect(tracing.counts).toEqual({ exported: spans.length, dropped: 0 });
    } finally {
      collector.stop();
    }
  });

  test("after stop, events are ignored; an uncloneable argument is logged, not thrown", async () => {
    const warned: string[] = [];
    const log = { ...silentLogger, warn: (_o: object, msg: string) => void warned.push(msg), error: () => {} } as never;
    const tracing = startTracing(cfg("http://127.0.0.1:9"), { pii: true, log });
    const r = { id: "c2", sipCallId: "s2", direction: "inbound", from: "a", to: "b", state: "ringing", startedAt: new Date().toISOString(), turns: [], bargeIns: 0, metadata: { f: () => 1 } } as unknown as CallRecord;
    expect(() => tracing.observer.callStarted(r)).not.toThrow();
    expect(warned).toEqual(["trace event not posted"]);
    await tracing.stop(500);
    expect(() => tracing.observer.callEnded(r, "x")).not.toThrow();
  });
});
