/**
 * The OTLP/HTTP export (src/metrics/trace-export.ts): spans reach a collector as OTLP JSON with the
 * configured headers and service.name; an unreachable collector or a full queue costs only counted drops
 * (voice_agent_trace_spans_total{result="dropped"}), and ending a span never waits for the network.
 */
import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { createTraceExport, type TracingConfig } from "../../src/metrics/trace-export";
import { registerTraceCounter } from "../../src/metrics/trace-counter";
import { silentLogger } from "../../src/util/log";
import { freeTcpPort } from "../support/ports.ts";

const config = (url: string, over: Partial<TracingConfig> = {}): TracingConfig => ({
  url,
  headers: { authorization: "Bearer k" },
  timeoutMs: 2000,
  serviceName: "va-unit",
  resourceAttributes: { "deployment.environment": "test" },
  scheduledDelayMs: 50,
  maxQueueSize: 2048,
  maxExportBatchSize: 16,
  ...over,
});

describe("createTraceExport", () => {
  test("a collector gets the spans as OTLP JSON in batches, with the headers and resource; counted as exported", async () => {
    const bodies: any[] = [];
    const auth: (string | null)[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        auth.push(req.headers.get("authorization"));
        bodies.push(await req.json());
        return Response.json({});
      },
    });
    try {
      const t = createTraceExport(config(`http://127.0.0.1:${server.port}/v1/traces`), silentLogger);
      for (let i = 0; i < 100; i++) t.tracer.startSpan(`s${i}`).end();
      await t.flush();
      const spans = bodies.flatMap((b) => b.resourceSpans[0].scopeSpans[0].spans);
      expect(spans).toHaveLength(100);
      expect(bodies.length).toBeGreaterThanOrEqual(7); // batches of at most 16
      expect(bodies.every((b) => b.resourceSpans[0].scopeSpans[0].spans.length <= 16)).toBe(true);
      expect(auth.every((a) => a === "Bearer k")).toBe(true);
      const res = bodies[0].resourceSpans[0].resource.attributes;
      expect(res).toEqual(expect.arrayContaining([{ key: "service.name", value: { stringValue: "va-unit" } }, { key: "deployment.environment", value: { stringValue: "test" } }]));
      expect(t.counts).toEqual({ exported: 100, dropped: 0 });
      await t.shutdown();
    } finally {
      server.stop(true);
    }
  });

  test("an unreachable collector: spans end at once, the batch is dropped and counted, the metric says so", async () => {
    const port = await freeTcpPort(); // nothing listens there
    const t = createTraceExport(config(`http://127.0.0.1:${port}/v1/traces`), silentLogger);
    const registry = new Registry();
    registerTraceCounter(registry, t.counts);
    for (let i = 0; i < 200; i++) t.tracer.startSpan(`s${i}`).end();
    expect(t.counts).toEqual({ exported: 0, dropped: 0 }); // ending a span never waits for the network
    // Each batch fails on its own (after the exporter's bounded retries): wait until all are accounted for.
    const until = Date.now() + 20_000;
    await t.flush(1000);
    while (t.counts.dropped < 200 && Date.now() < until) await Bun.sleep(50);
    expect(t.counts).toEqual({ exported: 0, dropped: 200 });
    const text = await registry.metrics();
    expect(text).toContain('voice_agent_trace_spans_total{result="dropped"} 200');
    expect(text).toContain('voice_agent_trace_spans_total{result="exported"} 0');
    await t.shutdown(1000);
  });

  test("a full queue drops the newest spans and counts them", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        await req.text();
        await held; // a slow collector: the first batch is in flight, the rest queue up
        return Response.json({});
      },
    });
    try {
      const t = createTraceExport(config(`http://127.0.0.1:${server.port}/v1/traces`, { maxQueueSize: 10, maxExportBatchSize: 5, scheduledDelayMs: 10_000 }), silentLogger);
      for (let i = 0; i < 25; i++) t.tracer.startSpan(`s${i}`).end();
      expect(t.counts.dropped).toBe(15);
      release();
      await t.flush();
      expect(t.counts).toEqual({ exported: 10, dropped: 15 });
      await t.shutdown();
    } finally {
      server.stop(true);
    }
  });
});
