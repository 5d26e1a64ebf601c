/**
 * OpenTelemetry traces over OTLP/HTTP (JSON body, `POST {endpoint}/v1/traces`, OTLP specification
 * "OTLP/HTTP"), with the official SDK packages: `@opentelemetry/sdk-trace` (TracerProvider,
 * BatchSpanProcessor) and `@opentelemetry/exporter-trace-otlp-http`. The spans themselves are built by
 * src/call/trace-observer.ts from the call events; this file only owns the export.
 *
 *   const t = createTraceExport(cfg.tracing, log);     // cfg from src/cli/otel-config.ts
 *   t.tracer.startSpan("call", { startTime });          // …
 *   registerTraceCounter(metrics.registry, t.counts);    // src/metrics/trace-counter.ts
 *   await t.shutdown(2000);                              // last batch, bounded
 *
 * In the agent this runs in the tracing worker thread (src/cli/trace-worker.ts), so span building,
 * serialization and HTTP never run on the thread that paces RTP. Ended spans go into a bounded queue
 * (`maxQueueSize`; overflow = the new span is dropped and counted), are handed to the SDK on a later turn
 * of the event loop than the event that ended them, and are sent in batches of at most
 * `maxExportBatchSize` every `scheduledDelayMs` (sooner when a batch is full). A batch is serialized
 * synchronously (measured on 2 loaded cores: 16 spans ≈ 0.12 ms, 64 spans 3–5 ms at p50), so batches
 * are small by default (16). An unreachable or failing collector costs the batch: its spans are counted
 * as dropped (`voice_agent_trace_spans_total{result="dropped"}`), never retried beyond the exporter's
 * own bounded retry within `timeoutMs`.
 */
import type { Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { TraceExportCounts } from "./trace-counter";
import { BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace";

/** Where export failures are reported (a Logger, or the tracing worker's channel to the main thread). */
export interface TraceLog {
  warn(obj: object, msg: string): void;
}

/** What the export needs (read from the standard OTEL_* variables by src/cli/otel-config.ts). */
export interface TracingConfig {
  /** The full traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, or OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces". */
  url: string;
  /** Extra request headers (OTEL_EXPORTER_OTLP_HEADERS / _TRACES_HEADERS), e.g. an API key. */
  headers: Record<string, string>;
  /** One export request's limit, ms (OTEL_EXPORTER_OTLP_TIMEOUT, default 10000). */
  timeoutMs: number;
  /** service.name (OTEL_SERVICE_NAME, default "voice-agent"). */
  serviceName: string;
  /** Other resource attributes (OTEL_RESOURCE_ATTRIBUTES: key=value,…). */
  resourceAttributes: Record<string, string>;
  /** Delay between two batches, ms (OTEL_BSP_SCHEDULE_DELAY, default 1000). */
  scheduledDelayMs: number;
  /** Ended spans waiting for export at most; more are dropped (OTEL_BSP_MAX_QUEUE_SIZE, default 2048). */
  maxQueueSize: number;
  /** Spans in one export request at most (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 16: see the file comment). */
  maxExportBatchSize: number;
}

export type { TraceExportCounts } from "./trace-counter";

export interface TraceExport {
  readonly tracer: Tracer;
  readonly counts: TraceExportCounts;
  /** Sends what is queued now (tests, shutdown); resolves when the requests finished or `ms` passed. */
  flush(ms?: number): Promise<void>;
  /** Sends the last batch and stops; bounded by `ms`. */
  shutdown(ms?: number): Promise<void>;
}

/** Resolves after `ms` at most (a stuck collector never holds the shutdown). */
function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([p.then(() => {}, () => {}), limit]).finally(() => clearTimeout(timer));
}

/**
 * Wraps the OTLP exporter to count what each request did with its spans. The SDK's result codes:
 * 0 SUCCESS, 1 FAILED (network error, non-retryable status, retries exhausted within the timeout).
 */
function countingExporter(inner: SpanExporter, counts: TraceExportCounts, log: TraceLog, pending: { n: number }): SpanExporter {
  let failures = 0;
  return {
    export(spans, done) {
      inner.export(spans, (result) => {
        pending.n -= spans.length;
        if (result.code === 0) counts.exported += spans.length;
        else {
          counts.dropped += spans.length;
          // One warning per run of failures, not one per batch (a collector down for an hour).
          if (failures++ === 0) log.warn({ spans: spans.length, err: String(result.error ?? "export failed") }, "trace export failed; spans dropped");
        }
        if (result.code === 0) failures = 0;
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

/**
 * Bounds the queue itself, so that a drop is counted here (the SDK's own overflow only logs): an ended
 * span enters the batch processor only while fewer than `maxQueueSize` wait for export. And keeps the
 * export off the caller's path: the SDK serializes a batch synchronously inside `onEnd` once a batch is
 * full, so ended spans are handed over on a later turn of the event loop (`setTimeout` 0), never inside
 * the call event that ended them; each later turn serializes at most one batch.
 */
function boundedProcessor(inner: SpanProcessor, maxQueueSize: number, counts: TraceExportCounts, pending: { n: number }): SpanProcessor {
  let ended: ReadableSpan[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const handOver = () => {
    timer = undefined;
    const spans = ended;
    ended = [];
    for (const span of spans) inner.onEnd(span);
  };
  return {
    onStart: (span, ctx) => inner.onStart(span, ctx),
    onEnd(span: ReadableSpan) {
      if (pending.n >= maxQueueSize) {
        counts.dropped++;
        return;
      }
      pending.n++;
      ended.push(span);
      timer ??= setTimeout(handOver, 0);
    },
    forceFlush() {
      if (timer !== undefined) clearTimeout(timer);
      handOver();
      return inner.forceFlush();
    },
    shutdown() {
      if (timer !== undefined) clearTimeout(timer);
      handOver();
      return inner.shutdown();
    },
  };
}

/** Creates the tracer provider and its OTLP/HTTP export. No request is made before the first batch. */
export function createTraceExport(cfg: TracingConfig, log: TraceLog): TraceExport {
  const counts: TraceExportCounts = { exported: 0, dropped: 0 };
  const pending = { n: 0 };
  const exporter = countingExporter(
    new OTLPTraceExporter({ url: cfg.url, headers: cfg.headers, timeoutMillis: cfg.timeoutMs }),
    counts,
    log,
    pending,
  );
  const batch = new BatchSpanProcessor({
    exporter,
    scheduledDelayMillis: cfg.scheduledDelayMs,
    // Our own bound (boundedProcessor) is the one that drops; the SDK's is never reached.
    maxQueueSize: cfg.maxQueueSize + 1,
    maxExportBatchSize: Math.min(cfg.maxExportBatchSize, cfg.maxQueueSize),
    exportTimeoutMillis: cfg.timeoutMs,
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ ...cfg.resourceAttributes, "service.name": cfg.serviceName }),
    spanProcessors: [boundedProcessor(batch, cfg.maxQueueSize, counts, pending)],
  });
  const tracer = provider.getTracer("voice-agent");
  return {
    tracer,
    counts,
    flush: (ms = cfg.timeoutMs) => bounded(provider.forceFlush(), ms),
    shutdown: (ms = cfg.timeoutMs) => bounded(provider.shutdown(), ms),
  };
}
