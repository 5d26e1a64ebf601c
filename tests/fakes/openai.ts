/**
 * A local fake of an OpenAI-compatible chat-completions server (what OpenAI, Ollama, llama.cpp server and
 * vLLM expose), on 127.0.0.1 with a dynamic port.
 *
 * Speaks the protocol (https://platform.openai.com/docs/api-reference/chat/create,
 * https://platform.openai.com/docs/api-reference/chat-streaming): `POST /v1/chat/completions`,
 * `Authorization: Bearer <key>`, with `stream: true` an SSE body of `data: <chat.completion.chunk>` events
 * ending with `data: [DONE]`; tool calls streamed as `delta.tool_calls[{index, id, function{name,
 * arguments}}]` fragments, `finish_reason: "tool_calls"`. Errors as `{ error: { message, type, code } }`.
 *
 * Records every request and can be told to answer 401/429/500…, be slow, stall, send an error event
 * mid-stream or drop the connection mid-stream.
 */

import type { Server } from "bun";
import { fakeLlmServer, faultySseBody, noFaults, watchClient, type FakeLlmServer, type FaultMode, type StreamProgress } from "./sse.ts";

export interface FakeOpenAiDelta {
  content?: string;
  tool_calls?: { index: number; id?: string; type?: "function"; function: { name?: string; arguments?: string } }[];
}

export interface FakeOpenAiOptions {
  /** Accepted bearer key; null = accept anything (like a local server without a key). Default "test-key". */
  apiKey?: string | null;
  /** The reply as deltas, one SSE event each. */
  reply?: FakeOpenAiDelta[];
}

/** Faults (tests/fakes/sse.ts); `errorAfter.type`/`code`: the fields of the in-band `{error:{…}}` event. */
export type FakeOpenAiMode = FaultMode<{ type: string; code: string }>;

export interface FakeOpenAiRequest extends StreamProgress {
  path: string;
  headers: Record<string, string>;
  body: {
    model?: string;
    stream?: boolean;
    messages?: { role: string; content: string }[];
    tools?: { type: string; function: { name: string; description?: string; parameters?: unknown } }[];
    [k: string]: unknown;
  };
}

/** `url`: the base URL for OPENAI_BASE_URL, including /v1. */
export type FakeOpenAi = FakeLlmServer<FakeOpenAiMode, FakeOpenAiDelta[], FakeOpenAiRequest>;

/** A tool call split into `pieces` argument fragments, the way OpenAI streams it. */
export function toolCallDeltas(index: number, id: string, name: string, args: Record<string, unknown>, pieces = 3): FakeOpenAiDelta[] {
  const json = JSON.stringify(args);
  const out: FakeOpenAiDelta[] = [{ tool_calls: [{ index, id, type: "function", function: { name, arguments: "" } }] }];
  const step = Math.ceil(json.length / pieces);
  for (let i = 0; i < json.length; i += step) out.push({ tool_calls: [{ index, function: { arguments: json.slice(i, i + step) } }] });
  return out;
}

const ERROR_TYPES: Record<number, [string, string]> = {
  400: ["invalid_request_error", "bad_request"],
  401: ["invalid_request_error", "invalid_api_key"],
  403: ["invalid_request_error", "permission_denied"],
  404: ["invalid_request_error", "model_not_found"],
  429: ["requests", "rate_limit_exceeded"],
  500: ["server_error", "internal_error"],
  503: ["server_error", "overloaded"],
};

export function startFakeOpenAi(opts: FakeOpenAiOptions = {}): FakeOpenAi {
  const apiKey = opts.apiKey === undefined ? "test-key" : opts.apiKey;
  let reply: FakeOpenAiDelta[] = opts.reply ?? [{ content: "Hello" }, { content: " there." }];
  const mode: FakeOpenAiMode = noFaults();
  const requests: FakeOpenAiRequest[] = [];
  const err = (status: number, message: string): Response => {
    const [type, code] = ERROR_TYPES[status] ?? ["server_error", "error"];
    return Response.json({ error: { message, type, param: null, code } }, { status });
  };

  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const u = new URL(req.url);
      if (req.method !== "POST" || u.pathname !== "/v1/chat/completions") return err(404, `no route ${u.pathname}`);
      const rec: FakeOpenAiRequest = {
        path: u.pathname,
        headers: Object.fromEntries(req.headers),
        body: (await req.json()) as FakeOpenAiRequest["body"],
        chunksSent: 0,
        clientGone: false,
        finished: false,
      };
      requests.push(rec);
      watchClient(req, rec);
      if (mode.headersDelayMs > 0) await Bun.sleep(mode.headersDelayMs);
      if (apiKey !== null && req.headers.get("authorization") !== `Bearer ${apiKey}`) return err(401, "Incorrect API key provided.");
      if (mode.status !== null) return err(mode.status, `fake error ${mode.status}`);
      if (rec.body.stream !== true) return err(400, "this fake only streams");

      const plan = reply;
      const hasTools = plan.some((d) => d.tool_calls);
      const id = `chatcmpl-${crypto.randomUUID()}`;
      const created = Math.floor(Date.now() / 1000);
      const chunk = (delta: FakeOpenAiDelta, finish: string | null): string =>
        `data: ${JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model: rec.body.model,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        })}\n\n`;
      const body = faultySseBody(
        req,
        rec,
        mode,
        (i) => {
          // The first event carries the role, as OpenAI's does.
          const first = i === 0 ? [chunk({ role: "assistant", content: "" } as FakeOpenAiDelta, null)] : [];
          if (i >= plan.length) return { events: [...first, chunk({}, hasTools ? "tool_calls" : "stop"), "data: [DONE]\n\n"], done: true };
          return { events: [...first, chunk(plan[i]!, null)], done: false };
        },
        ({ type, code }) => `data: ${JSON.stringify({ error: { message: "fake mid-stream error", type, code } })}\n\n`,
      );
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  });

  return fakeLlmServer(server, `http://127.0.0.1:${server.port}/v1`, requests, mode, (r: FakeOpenAiDelta[]) => (reply = r));
}
