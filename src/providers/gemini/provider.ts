/**
 * Gemini LLM: REST `POST /{version}/models/{model}:streamGenerateContent?alt=sse`
 * (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent), spoken directly
 * (rest.ts says why not through @google/genai).
 *
 * Request: `systemInstruction` (https://ai.google.dev/gemini-api/docs/text-generation#system-instructions),
 * `contents` with roles "user"/"model" built from the history (history.ts), and
 * `tools: [{ functionDeclarations }]` with each ToolSpec's JSON schema as `parametersJsonSchema`
 * (https://ai.google.dev/gemini-api/docs/function-calling). Reply chunks carry
 * `candidates[0].content.parts[]`: `text` parts become text chunks (parts flagged `thought` are skipped),
 * `functionCall {name, args}` parts become tool_call chunks (Gemini sends a call whole, in one part).
 *
 * One generate() is exactly one HTTP request: retry belongs to the pipeline.
 */

import { SystemClock, type Clock } from "../../util/clock";
import { httpError, networkError, protocolError, type ErrorSource } from "../errors";
import { ProviderError, type LlmChunk, type LlmProvider, type LlmRequest, type ToolSpec } from "../types";
import { normalizeTurns } from "./history";
import { GEMINI_DEFAULTS, type GeminiOptions } from "./options";
import { GeminiApiError, streamGenerateContent, type GeminiContent, type GeminiRequestBody, type GeminiResponse, type StreamTarget } from "./rest";
import { StreamGuard } from "./stream-guard";

export class GeminiLlm implements LlmProvider {
  readonly name = "gemini";
  private readonly src: ErrorSource = { provider: "gemini", kind: "llm" };
  private readonly target: StreamTarget;
  private readonly clock: Clock;

  constructor(private readonly opts: GeminiOptions) {
    this.target = {
      baseUrl: (opts.baseUrl ?? GEMINI_DEFAULTS.baseUrl).replace(/\/+$/, ""),
      version: opts.apiVersion ?? GEMINI_DEFAULTS.apiVersion,
      model: opts.model ?? GEMINI_DEFAULTS.model,
      apiKey: opts.apiKey,
    };
    this.clock = opts.clock ?? new SystemClock();
  }

  /** Opens the connection the next request will use (Bun's `fetch.preconnect`; a no-op when one is pooled). */
  prepare(): void {
    try {
      (fetch as typeof fetch & { preconnect?: (url: string) => void }).preconnect?.(this.target.baseUrl);
    } catch {
      // an unusable base URL: the request itself reports it
    }
  }

  /**
   * Streams the reply as text and tool_call chunks. Throws ProviderError (before or mid-stream):
   * "auth" (401/403, or 400 API_KEY_INVALID), "rate_limited" (429), "unavailable" (5xx, network),
   * "bad_request" (other 4xx), "protocol" (an event that is not JSON, a call without a name),
   * "timeout" (no chunk for idleTimeoutMs), "aborted" (req.signal; thrown at once, even while the
   * server is silent).
   */
  async *generate(req: LlmRequest): AsyncGenerator<LlmChunk> {
    const guard = new StreamGuard(req.signal, this.clock, this.opts.idleTimeoutMs ?? GEMINI_DEFAULTS.idleTimeoutMs, this.src);
    try {
      const it = streamGenerateContent(this.target, requestBody(req, this.opts), guard.signal);
      // Each streamed response carries the totals so far (usageMetadata); the last one is the request's.
      let usage: LlmChunk | undefined;
      for (;;) {
        const r = await guard.race(it.next());
        if (r.done) break;
        guard.bump();
        const u = r.value.usageMetadata;
        if (u) usage = { type: "usage", inputTokens: u.promptTokenCount ?? 0, outputTokens: u.candidatesTokenCount ?? 0 };
        for (const chunk of chunksOf(r.value, this.src)) {
          yield chunk;
          if (guard.reason) throw guard.reason;
        }
      }
      if (usage) yield usage;
    } catch (e) {
      throw guard.reason ?? mapGeminiError(this.src, e);
    } finally {
      guard.dispose();
    }
  }
}

/** The request body for `req`: history as contents, the system instruction, tools and generation settings. */
export function requestBody(req: LlmRequest, opts: Pick<GeminiOptions, "prompts" | "temperature" | "maxOutputTokens"> = {}): GeminiRequestBody {
  const generationConfig = {
    ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
    ...(opts.maxOutputTokens !== undefined ? { maxOutputTokens: opts.maxOutputTokens } : {}),
  };
  return {
    contents: toContents(req, opts),
    ...(req.system ? { systemInstruction: { parts: [{ text: req.system }] } } : {}),
    ...(req.tools.length ? { tools: [{ functionDeclarations: req.tools.map(toDeclaration) }] } : {}),
    ...(Object.keys(generationConfig).length ? { generationConfig } : {}),
  };
}

/** History → Gemini `contents` (roles "user" and "model"). */
export function toContents(req: Pick<LlmRequest, "history">, opts: Pick<GeminiOptions, "prompts"> = {}): GeminiContent[] {
  return normalizeTurns(req.history, opts.prompts).map((m) => ({
    role: m.role === "assistant" ? "model" : "user",
    parts: [{ text: m.text }],
  }));
}

/** ToolSpec → FunctionDeclaration, the JSON schema passed through unchanged. */
export function toDeclaration(t: ToolSpec): { name: string; description: string; parametersJsonSchema: unknown } {
  return { name: t.name, description: t.description, parametersJsonSchema: t.parameters };
}

/** The text and function-call parts of one streamed response, in order. */
export function chunksOf(resp: GeminiResponse, src: ErrorSource): LlmChunk[] {
  const out: LlmChunk[] = [];
  const parts = resp.candidates?.[0]?.content?.parts ?? [];
  for (const p of parts) {
    if (p.functionCall) {
      const name = p.functionCall.name;
      if (!name) throw protocolError(src, "functionCall without a name");
      const args = p.functionCall.args;
      out.push({ type: "tool_call", name, args: args && typeof args === "object" ? (args as Record<string, unknown>) : {} });
    } else if (typeof p.text === "string" && p.text.length > 0 && !p.thought) {
      out.push({ type: "text", text: p.text });
    }
  }
  return out;
}

/**
 * Failures → ProviderError: an API error answer by its status (a 400 API_KEY_INVALID is "auth"), an
 * event that is not JSON → "protocol", anything else (refused, reset, DNS) → "unavailable".
 */
export function mapGeminiError(src: ErrorSource, e: unknown): ProviderError {
  if (e instanceof ProviderError) return e;
  if (e instanceof GeminiApiError) {
    // Gemini answers an invalid key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID: that is auth.
    if (e.status === 400 && /API_KEY_INVALID|API key not valid/i.test(e.body)) {
      return new ProviderError(src.provider, src.kind, "auth", `${src.provider}: key rejected (HTTP 400 API_KEY_INVALID)`, false, 400, {
        cause: e,
      });
    }
    return httpError(src, e.status, googleErrorMessage(e.body), e);
  }
  if (e instanceof SyntaxError) return protocolError(src, `unreadable stream event: ${e.message}`, e);
  const err = e as { message?: string };
  return networkError(src, err?.message ?? String(e), e);
}

/** The `error.message` inside Google's JSON error body. */
function googleErrorMessage(raw: string): string {
  const i = raw.indexOf("{");
  if (i >= 0) {
    try {
      const j = JSON.parse(raw.slice(i)) as { error?: { message?: unknown; status?: unknown } };
      if (j.error && typeof j.error.message === "string") {
        return typeof j.error.status === "string" ? `${j.error.status}: ${j.error.message}` : j.error.message;
      }
    } catch {
      // not JSON: keep the raw text
    }
  }
  return raw;
}

/** Factory used by the wiring: `createGeminiLlm({ apiKey, model?, baseUrl?, ... })`. */
export function createGeminiLlm(opts: GeminiOptions): GeminiLlm {
  return new GeminiLlm(opts);
}
