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

export interface FakeOpenAiMode {
  status: number | null;
  headersDelayMs: number;
  chunkDelayMs: number;
  stallAfter: number | null;
  errorAfter: { chunks: number; type: string; code: string } | null;
  dropAfter: number | null;
}

export interface FakeOpenAiRequest {
  path: string;
  headers: Record<string, string>;
  body: {
    model?: string;
    stream?: boolean;
    messages?: { role: string; content: string }[];
    tools?: { type: string; function: { name: string; description?: string; parameters?: unknown } }[];
    [k: string]: unknown;
  };
  chunksSent: number;
  clientGone: boolean;
  finished: boolean;
}

export interface FakeOpenAi {
  /** Base URL for OPENAI_BASE_URL, including /v1. */
  url: string;
  requests: FakeOpenAiRequest[];
  setMode(m: Partial<FakeOpenAiMode>): void;
  setReply(r: FakeOpenAiDelta[]): void;
  close(): Promise<void>;
}

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
  const mode: FakeOpenAiMode = { status: null, headersDelayMs: 0, chunkDelayMs: 0, stallAfter: null, errorAfter: null, dropAfter: null };
  const requests: FakeOpenAiRequest[] = [];
  const enc = new TextEncoder();
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
      req.signal.addEventListener("abort", () => {
        if (!rec.finished) rec.clientGone = true;
      });
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
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          if (mode.chunkDelayMs > 0) await Bun.sleep(mode.chunkDelayMs);
          if (rec.clientGone) return;
          if (mode.errorAfter && i === mode.errorAfter.chunks) {
            const { type, code } = mode.errorAfter;
            ctl.enqueue(enc.encode(`data: ${JSON.stringify({ error: { message: "fake mid-stream error", type, code } })}\n\n`));
            rec.finished = true;
            ctl.close();
            return;
          }
          if (mode.dropAfter !== null && i === mode.dropAfter) {
            ctl.error(new Error("fake drop (intended: the test breaks the connection mid-stream)"));
            return;
          }
          if (mode.stallAfter !== null && i === mode.stallAfter) {
            await new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve(), { once: true }));
            return;
          }
          if (i === 0) ctl.enqueue(enc.encode(chunk({ role: "assistant", content: "" } as FakeOpenAiDelta, null)));
          if (i >= plan.length) {
            ctl.enqueue(enc.encode(chunk({}, hasTools ? "tool_calls" : "stop")));
            ctl.enqueue(enc.encode("data: [DONE]\n\n"));
            rec.finished = true;
            ctl.close();
            return;
          }
          ctl.enqueue(enc.encode(chunk(plan[i], null)));
          rec.chunksSent++;
          i++;
        },
        cancel() {
          if (!rec.finished) rec.clientGone = true;
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    requests,
    setMode(m) {
      Object.assign(mode, m);
    },
    setReply(r) {
      reply = r;
    },
    async close() {
      await server.stop(true);
    },
  };
}
