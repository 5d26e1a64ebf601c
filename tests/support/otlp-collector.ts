/**
 * A minimal OpenTelemetry collector for tests: OTLP/HTTP with JSON bodies on POST /v1/traces (OTLP
 * specification, "OTLP/HTTP"), every request kept, answered 200 with an empty JSON object.
 *
 *   const c = startOtlpCollector();     // agent env: OTEL_EXPORTER_OTLP_ENDPOINT: c.url
 *   c.spans()                           // every span received so far (flattened)
 *   attr(span, "voice_agent.call.id")   // an attribute's value
 */
export interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP SpanKind: 1 INTERNAL, 2 SERVER, 3 CLIENT. */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpAttribute[];
  events?: { name: string; attributes?: OtlpAttribute[] }[];
  status?: { code?: number; message?: string };
}
export interface OtlpRequest {
  headers: Headers;
  body: { resourceSpans: { resource: { attributes?: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
}

export function startOtlpCollector() {
  const got: OtlpRequest[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (req.method !== "POST" || new URL(req.url).pathname !== "/v1/traces") return new Response("not found", { status: 404 });
      got.push({ headers: req.headers, body: (await req.json()) as OtlpRequest["body"] });
      return Response.json({});
    },
  });
  const spans = () => got.flatMap((r) => r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)));
  return { url: `http://127.0.0.1:${server.port}`, got, spans, stop: () => server.stop(true) };
}

/** The value of a span's attribute (whatever its OTLP type), or undefined. */
export function attr(s: OtlpSpan, key: string): unknown {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
}
