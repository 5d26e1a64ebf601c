/**
 * The tracing worker thread (a Bun Worker; an extra entry point of the compiled binary, scripts/build.ts):
 * it owns the OpenTelemetry SDK, builds each call's spans from the call events the main thread posts
 * (src/call/trace-observer.ts) and exports them over OTLP/HTTP (src/metrics/trace-export.ts). Nothing of
 * it runs on the thread that paces RTP.
 *
 * Protocol (src/cli/tracing.ts is the other side):
 *   main → worker  { kind: "init", cfg, pii }   once, first
 *                  { kind: "event", m, a, at }  a CallObserver method, its arguments (records without turns), epoch ms
 *                  { kind: "stop", id, ms }     send what is queued and stop (bounded by ms)
 *   worker → main  { kind: "counts", counts }   exported/dropped span totals, when they changed (≤ 1/s)
 *                  { kind: "log", obj, msg }    a warning for the agent's log
 *                  { kind: "stopped", id }
 */
import type { CallObserver } from "../call/observer";
import { traceObserver } from "../call/trace-observer";
import { createTraceExport, type TraceExport, type TraceExportCounts, type TracingConfig } from "../metrics/trace-export";

export type TraceRequest =
  | { kind: "init"; cfg: TracingConfig; pii: boolean }
  | { kind: "event"; m: keyof CallObserver; a: unknown[]; at: number }
  | { kind: "stop"; id: number; ms: number };

export type TraceReply =
  | { kind: "counts"; counts: TraceExportCounts }
  | { kind: "log"; obj: object; msg: string }
  | { kind: "stopped"; id: number };

declare const self: Worker;

let exporter: TraceExport | undefined;
let observer: CallObserver | undefined;
/** When the event being handled happened (posted by the call side), epoch ms. */
let eventAt = Date.now();
let sent = "";
const post = (m: TraceReply) => self.postMessage(m);
const reportCounts = () => {
  if (!exporter) return;
  const now = JSON.stringify(exporter.counts);
  if (now === sent) return;
  sent = now;
  post({ kind: "counts", counts: { ...exporter.counts } });
};

self.onmessage = async (ev: MessageEvent<TraceRequest>) => {
  const m = ev.data;
  if (m.kind === "init") {
    exporter = createTraceExport(m.cfg, { warn: (obj, msg) => post({ kind: "log", obj, msg }) });
    observer = traceObserver({ tracer: exporter.tracer, pii: m.pii, now: () => eventAt });
    setInterval(reportCounts, 1000);
  } else if (m.kind === "event") {
    eventAt = m.at;
    try {
      (observer?.[m.m] as ((...a: unknown[]) => void) | undefined)?.(...m.a);
    } catch (err) {
      post({ kind: "log", obj: { event: m.m, err: String(err) }, msg: "trace observer failed" });
    }
  } else if (m.kind === "stop") {
    await exporter?.shutdown(m.ms);
    reportCounts();
    post({ kind: "stopped", id: m.id });
  }
};
