/**
 * OpenAI-compatible LLM (OpenAI, Ollama, llama.cpp server, vLLM) through the `openai` package:
 * `chat.completions.create({ stream: true, tools })`
 * (https://platform.openai.com/docs/api-reference/chat/create). Text deltas (`choices[0].delta.content`)
 * become text chunks at once; tool-call deltas are assembled (tool-calls.ts) and emitted as one tool_call
 * chunk per call when the choice finishes (`finish_reason`) or the stream ends.
 *
 * The SDK's retries are off (`maxRetries: 0`): one generate() is one request; retry is the pipeline's.
 */

import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { SystemClock, type Clock } from "../../util/clock";
import { abortedError, httpError, networkError, type ErrorSource } from "../errors";
import { normalizeTurns } from "../gemini/history";
import { StreamGuard } from "../gemini/stream-guard";
import { ProviderError, type LlmChunk, type LlmProvider, type LlmRequest, type ToolSpec } from "../types";
import { OPENAI_DEFAULTS, type OpenAiOptions } from "./options";
import { ToolCallAssembler } from "./tool-calls";

export class OpenAiLlm implements LlmProvider {
  readonly name = "openai";
  private readonly src: ErrorSource = { provider: "openai", kind: "llm" };
  private readonly client: OpenAI;
  private readonly clock: Clock;

  constructor(private readonly opts: OpenAiOptions) {
    this.client = new OpenAI({
      apiKey: opts.apiKey || OPENAI_DEFAULTS.placeholderApiKey,
      baseURL: opts.baseUrl ?? OPENAI_DEFAULTS.baseUrl,
      maxRetries: 0,
    });
    this.clock = opts.clock ?? new SystemClock();
  }

  /**
   * Streams the reply. Throws ProviderError (before or mid-stream): "auth" (401/403), "rate_limited"
   * (429), "unavailable" (5xx, network, error event mid-stream), "bad_request" (other 4xx), "protocol"
   * (tool-call arguments that are not a JSON object), "timeout" (no chunk for idleTimeoutMs), "aborted"
   * (req.signal, at once).
   */
  async *generate(req: LlmRequest): AsyncGenerator<LlmChunk> {
    const guard = new StreamGuard(req.signal, this.clock, this.opts.idleTimeoutMs ?? OPENAI_DEFAULTS.idleTimeoutMs, this.src);
    const calls = new ToolCallAssembler(this.src);
    let usage: LlmChunk | undefined;
    try {
      const stream = await guard.race(
        this.client.chat.completions.create(
          {
            model: this.opts.model,
            messages: toMessages(req, this.opts),
            stream: true,
            // The last chunk then carries `usage` (prompt and completion tokens) with empty `choices`.
            stream_options: { include_usage: true },
            ...(req.tools.length ? { tools: req.tools.map(toTool) } : {}),
            ...(this.opts.temperature !== undefined ? { temperature: this.opts.temperature } : {}),
            ...(this.opts.maxTokens !== undefined ? { max_tokens: this.opts.maxTokens } : {}),
          },
          { signal: guard.signal },
        ),
      );
      const it = stream[Symbol.asyncIterator]();
      for (;;) {
        const r = await guard.race(it.next());
        if (r.done) {
          guard.finished();
          break;
        }
        guard.bump();
        const u = r.value.usage;
        if (u) usage = { type: "usage", inputTokens: u.prompt_tokens ?? 0, outputTokens: u.completion_tokens ?? 0 };
        const choice = r.value.choices?.[0];
        if (!choice) continue; // e.g. the usage-only chunk
        const d = choice.delta;
        if (d?.content) {
          yield { type: "text", text: d.content };
          if (guard.reason) throw guard.reason;
        }
        if (d?.tool_calls?.length) calls.add(d.tool_calls);
        if (choice.finish_reason && calls.pending > 0) {
          for (const c of calls.take()) yield c;
        }
      }
      for (const c of calls.take()) yield c;
      if (usage) yield usage;
    } catch (e) {
      throw guard.reason ?? mapOpenAiError(this.src, e);
    } finally {
      guard.dispose();
    }
  }
}

/** System prompt + normalised history → chat messages. */
export function toMessages(req: Pick<LlmRequest, "system" | "history">, opts: Pick<OpenAiOptions, "prompts"> = {}): ChatCompletionMessageParam[] {
  const msgs: ChatCompletionMessageParam[] = [];
  if (req.system) msgs.push({ role: "system", content: req.system });
  for (const m of normalizeTurns(req.history, opts.prompts)) msgs.push({ role: m.role, content: m.text });
  return msgs;
}

export function toTool(t: ToolSpec): ChatCompletionTool {
  return { type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } };
}

/** SDK errors → ProviderError: by HTTP status when there is one, else by the error body's type/code. */
export function mapOpenAiError(src: ErrorSource, e: unknown): ProviderError {
  if (e instanceof ProviderError) return e;
  if (e instanceof OpenAI.APIUserAbortError) return abortedError(src, e);
  if (e instanceof OpenAI.APIConnectionTimeoutError) {
    return new ProviderError(src.provider, src.kind, "timeout", `${src.provider}: request timed out`, true, undefined, { cause: e });
  }
  if (e instanceof OpenAI.APIConnectionError) return networkError(src, e.message, e);
  if (e instanceof OpenAI.APIError) {
    const body = (e.error ?? {}) as { message?: unknown; type?: unknown; code?: unknown };
    const detail = typeof body.message === "string" ? body.message : e.message;
    if (typeof e.status === "number") return httpError(src, e.status, detail, e);
    // An error object inside the stream (no HTTP status): classify by its type/code.
    const tag = `${String(body.type ?? "")} ${String(body.code ?? "")}`.toLowerCase();
    if (tag.includes("rate_limit")) return new ProviderError(src.provider, src.kind, "rate_limited", `${src.provider}: ${detail}`, true, undefined, { cause: e });
    if (tag.includes("invalid_api_key") || tag.includes("authentication")) {
      return new ProviderError(src.provider, src.kind, "auth", `${src.provider}: key rejected: ${detail}`, false, undefined, { cause: e });
    }
    return networkError(src, `error in stream: ${detail}`, e);
  }
  const m = e as { name?: string; message?: string };
  if (m && m.name === "AbortError") return abortedError(src, e);
  return networkError(src, m?.message ?? String(e), e);
}

/** Factory used by the wiring: `createOpenAiLlm({ model, baseUrl?, apiKey?, ... })`. */
export function createOpenAiLlm(opts: OpenAiOptions): OpenAiLlm {
  return new OpenAiLlm(opts);
}
