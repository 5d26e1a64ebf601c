/**
 * Gemini LLM: REST `POST /{version}/models/{model}:streamGenerateContent?alt=sse`
 * (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent), spoken over `fetch`
 * by rest.ts (until session 19 through @google/genai, whose per-request CPU was 3–5× this path's).
 *
 * Request: `systemInstruction` (https://ai.google.dev/gemini-api/docs/text-generation#system-instructions),
 * `contents` with roles "user"/"model" built from the history (history.ts), and
 * `tools: [{ functionDeclarations }]` with each ToolSpec's JSON schema as `parametersJsonSchema`
 * (https://ai.google.dev/gemini-api/docs/function-calling). Reply chunks carry
 * `candidates[0].content.parts[]`: `text` parts become text chunks (parts flagged `thought` are skipped),
 * `functionCall {name, args}` parts become tool_call chunks (Gemini sends a call whole, in one part).
 *
 * One generate() is exactly one HTTP request (no retry, no "automatic continuation"); retry belongs to
 * the pipeline.
 */

import { SystemClock, type Clock } from "../../util/clock";
import { httpError, networkError, protocolError, type ErrorSource } from "../errors";
import { ProviderError, type LlmChunk, type LlmProvider, type LlmRequest, type ToolSpec } from "../types";
import { normalizeTurns } from "./history";
import { GEMINI_DEFAULTS, type GeminiOptions } from "./options";
import { GeminiHttpError, streamGenerateContent, type GeminiEndpoint, type GeminiRequestBody, type GeminiStreamEvent } from "./rest";
import { StreamGuard } from "./stream-guard";

/** The API version path segment when GeminiOptions.apiVersion is unset (what @google/genai 3.x used). */
export const GEMINI_API_VERSION = "v1";

export class GeminiLlm implements LlmProvider {
  readonly name = "gemini";
  private readonly src: ErrorSource = { provider: "gemini", kind: "llm" };
  private readonly endpoint: GeminiEndpoint;
  private readonly clock: Clock;

  constructor(private readonly opts: GeminiOptions) {
    this.endpoint = {
      baseUrl: opts.baseUrl ?? GEMINI_DEFAULTS.baseUrl,
      apiVersion: opts.apiVersion ?? GEMINI_API_VERSION,
      model: opts.model ?? GEMINI_DEFAULTS.model,
      apiKey: opts.apiKey,
    };
    this.clock = opts.clock ?? new SystemClock();
  }

  /**
   * Opens the connection the next request will use while the call is still being set up (Bun's
   * `fetch.preconnect`: DNS, TCP and TLS done ahead; a no-op when the keep-alive pool holds one). The
   * request goes through the global `fetch` (rest.ts), so it takes that pooled connection.
   */
  prepare(): void {
    try {
      (fetch as typeof fetch & { preconnect?: (url: string) => void }).preconnect?.((this.opts.baseUrl ?? GEMINI_DEFAULTS.baseUrl).replace(/\/+$/, ""));
    } catch {
      // an unusable base URL: the request itself reports it
    }
  }

  /**
   * Streams the reply as text and tool_call chunks. Throws ProviderError (before or mid-stream):
   * "auth" (401/403, or 400 API_KEY_INVALID), "rate_limited" (429), "unavailable" (5xx, network),
   * "bad_request" (other 4xx), "timeout" (no chunk for idleTimeoutMs), "aborted" (req.signal; thrown at
   * once, even while the server is silent).
   */
  async *generate(req: LlmRequest): AsyncGenerator<LlmChunk> {
    const guard = new StreamGuard(req.signal, this.clock, this.opts.idleTimeoutMs ?? GEMINI_DEFAULTS.idleTimeoutMs, this.src);
    try {
      const stream = streamGenerateContent(this.endpoint, requestBody(req, this.opts), guard.signal);
      const it = stream[Symbol.asyncIterator]();
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

/**
 * The request body: `contents` from the history, `systemInstruction`, `tools` only when there are any,
 * `generationConfig` only with temperature/maxOutputTokens set (Gemini's defaults apply otherwise).
 */
export function requestBody(req: Pick<LlmRequest, "history" | "system" | "tools">, opts: Pick<GeminiOptions, "prompts" | "temperature" | "maxOutputTokens"> = {}): GeminiRequestBody {
  const body: GeminiRequestBody = { contents: toContents(req, opts), systemInstruction: { parts: [{ text: req.system }] } };
  if (req.tools.length) body.tools = [{ functionDeclarations: req.tools.map(toDeclaration) }];
  if (opts.temperature !== undefined || opts.maxOutputTokens !== undefined) {
    body.generationConfig = {
      ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
      ...(opts.maxOutputTokens !== undefined ? { maxOutputTokens: opts.maxOutputTokens } : {}),
    };
  }
  return body;
}

/** History → Gemini `contents` (roles "user" and "model"). */
export function toContents(req: Pick<LlmRequest, "history">, opts: Pick<GeminiOptions, "prompts"> = {}): GeminiRequestBody["contents"] {
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
export function chunksOf(resp: GeminiStreamEvent, src: ErrorSource): LlmChunk[] {
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

/** rest.ts errors → ProviderError. GeminiHttpError carries the HTTP status (also for an error event mid-stream). */
export function mapGeminiError(src: ErrorSource, e: unknown): ProviderError {
  if (e instanceof ProviderError) return e;
  if (e instanceof GeminiHttpError) {
    const detail = googleErrorMessage(e.body);
    // Gemini answers an invalid key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID: that is auth.
    if (e.status === 400 && /API_KEY_INVALID|API key not valid/i.test(e.body)) {
      return new ProviderError(src.provider, src.kind, "auth", `${src.provider}: key rejected (HTTP 400 API_KEY_INVALID)`, false, 400, {
        cause: e,
      });
    }
    return httpError(src, e.status, detail, e);
  }
  // A streamed event that is not JSON (rest.ts parses each one with JSON.parse).
  if (e instanceof SyntaxError) return protocolError(src, `unreadable stream event: ${e.message}`, e);
  return networkError(src, (e as { message?: string } | null)?.message ?? String(e), e);
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
