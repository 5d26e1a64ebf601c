/**
 * voice_agent_trace_spans_total{result="exported"|"dropped"}: what became of the trace spans (accepted
 * by the OTLP collector; dropped because the queue was full or the collector unreachable or refusing).
 * Kept apart from src/metrics/trace-export.ts so that the main thread counts without loading the SDK.
 */
import { Counter, type Registry } from "prom-client";

/** Span totals since start. */
export interface TraceExportCounts {
  exported: number;
  dropped: number;
}

/** Adds the counter to `registry`, read from `counts` at each scrape. */
export function registerTraceCounter(registry: Registry, counts: TraceExportCounts): void {
  new Counter({
    name: "voice_agent_trace_spans_total",
    help: "Trace spans by what became of them: exported (accepted by the OTLP collector) or dropped (queue full, collector unreachable or refusing)",
    labelNames: ["result"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: "exported" }, counts.exported);
      this.inc({ result: "dropped" }, counts.dropped);
    },
  });
}
