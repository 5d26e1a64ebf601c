/**
 * A local fake of the Gemini API's streaming endpoint
 * (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent), on 127.0.0.1 with a
 * dynamic port, for provider tests and end-to-end calls.
 *
 * Speaks the protocol: `POST /{v1|v1beta}/models/{model}:streamGenerateContent?alt=sse`, key in
 * `x-goog-api-key` (a wrong key gets Google's real answer: 400 INVALID_ARGUMENT, reason
 * API_KEY_INVALID), SSE body of `data: <GenerateContentResponse JSON>\r\n\r\n` events whose parts are
 * `text` or `functionCall`, the last with `finishReason: "STOP"`. Errors use Google's JSON error body
 * `{ error: { code, message, status } }`, before the stream (HTTP status) or inside it (an SSE event).
 *
 * Records every request (path, model, headers, parsed body, whether the client went away) and can be told
 * to answer 401/403/429/500/503, be slow, stall, fail mid-stream, or drop the connection mid-stream.
 */

import type { Server } from "bun";
import { fakeLlmServer, faultySseBody, noFaults, watchClient, type FakeLlmServer, type FaultMode, type StreamProgress } from "./sse.ts";

export type FakeGeminiPart = { text: string } | { functionCall: { name: string; args: Record<string, unknown> } };

export interface FakeGeminiOptions {
  /** Key accepted in `x-goog-api-key`. Default "test-key". */
  apiKey?: string;
  /** The reply: one array of parts per SSE event. Default: two text chunks. */
  reply?: FakeGeminiPart[][];
}

/** Faults (tests/fakes/sse.ts); `errorAfter.status`: the code of Google's in-band `{error:{…}}` event. */
export type FakeGeminiMode = FaultMode<{ status: number }>;

export interface FakeGeminiRequest extends StreamProgress {
  path: string;
  /** The client's TCP port: equal ports on consecutive requests = one kept-alive connection. */
  remotePort: number | undefined;
  version: string;
  model: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: {
    contents?: { role?: string; parts?: { text?: string }[] }[];
    systemInstruction?: { role?: string; parts?: { text?: string }[] };
    tools?: { functionDeclarations?: { name: string; description?: string; parametersJsonSchema?: unknown; parameters?: unknown }[] }[];
    generationConfig?: Record<string, unknown>;
  };
}

/** `url`: the base URL for GEMINI_BASE_URL, e.g. "http://127.0.0.1:41234". */
export type FakeGemini = FakeLlmServer<FakeGeminiMode, FakeGeminiPart[][], FakeGeminiRequest>;

const STATUS_NAMES: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

export function googleError(code: number, message: string, reason?: string): Record<string, unknown> {
  return {
    error: {
      code,
      message,
      status: STATUS_NAMES[code] ?? "UNKNOWN",
      ...(reason ? { details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "googleapis.com" }] } : {}),
    },
  };
}

export function startFakeGemini(opts: FakeGeminiOptions = {}): FakeGemini {
  const apiKey = opts.apiKey ?? "test-key";
  let reply: FakeGeminiPart[][] = opts.reply ?? [[{ text: "Hello, " }], [{ text: "how can I help?" }]];
  const mode: FakeGeminiMode = noFaults();
  const requests: FakeGeminiRequest[] = [];

  const jsonError = (code: number, message: string, reason?: string): Response =>
    new Response(JSON.stringify(googleError(code, message, reason)), { status: code, headers: { "content-type": "application/json; charset=UTF-8" } });

  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const u = new URL(req.url);
      const m = /^\/(v1|v1beta)\/models\/([^/:]+):streamGenerateContent$/.exec(u.pathname);
      if (req.method !== "POST" || !m) return jsonError(404, `no route ${req.method} ${u.pathname}`);
      const rec: FakeGeminiRequest = {
        path: u.pathname,
        remotePort: server.requestIP(req)?.port,
        version: m[1],
        model: m[2],
        query: Object.fromEntries(u.searchParams),
        headers: Object.fromEntries(req.headers),
        body: (await req.json()) as FakeGeminiRequest["body"],
        chunksSent: 0,
        clientGone: false,
        finished: false,
      };
      requests.push(rec);
      watchClient(req, rec);
      if (mode.headersDelayMs > 0) await Bun.sleep(mode.headersDelayMs);
      if (req.headers.get("x-goog-api-key") !== apiKey) {
        return jsonError(400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID");
      }
      if (mode.status !== null) return jsonError(mode.status, `fake error ${mode.status}`);
      if (u.searchParams.get("alt") !== "sse") return jsonError(400, "this fake only streams SSE (alt=sse)");

      const plan = reply;
      const event = (json: unknown) => `data: ${JSON.stringify(json)}\r\n\r\n`;
      const body = faultySseBody(
        req,
        rec,
        mode,
        (i) => {
          if (i >= plan.length) return { events: [], done: true };
          const last = i === plan.length - 1;
          const resp = {
            candidates: [{ content: { role: "model", parts: plan[i] }, index: 0, ...(last ? { finishReason: "STOP" } : {}) }],
            usageMetadata: { promptTokenCount: 10, candidatesTokenCount: i + 1, totalTokenCount: 11 + i },
            modelVersion: rec.model,
          };
          return { events: [event(resp)], done: false };
        },
        (fault) => event(googleError(fault.status, "fake mid-stream error")),
      );
      return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    },
  });

  return fakeLlmServer(server, `http://127.0.0.1:${server.port}`, requests, mode, (r: FakeGeminiPart[][]) => (reply = r));
}
