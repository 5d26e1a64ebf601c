/**
 * Gemini LLM through @google/genai: `models.generateContentStream`, i.e. REST
 * `POST /{version}/models/{model}:streamGenerateContent?alt=sse`
 * (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent).
 *
 * Request: `systemInstruction` (https://ai.google.dev/gemini-api/docs/text-generation#system-instructions),
 * `contents` with roles "user"/"model" built from the history (history.ts), and
 * `tools: [{ functionDeclarations }]` with each ToolSpec's JSON schema as `parametersJsonSchema`
 * (https://ai.google.dev/gemini-api/docs/function-calling). Reply chunks carry
 * `candidates[0].content.parts[]`: `text` parts become text chunks (parts flagged `thought` are skipped),
 * `functionCall {name, args}` parts become tool_call chunks (Gemini sends a call whole, in one part).
 *
 * The SDK's own retry is off (no `retryOptions`) and so is its "automatic continuation" (3.x), so one
 * generate() is exactly one HTTP request; retry belongs to the pipeline.
 */

import { GoogleGenAI, type Content, type GenerateContentResponse } from "@google/genai";
import { SystemClock, type Clock } from "../../util/clock";
import { httpError, networkError, protocolError, type ErrorSource } from "../errors";
import { ProviderError, type LlmChunk, type LlmProvider, type LlmRequest, type ToolSpec } from "../types";
import { normalizeTurns } from "./history";
import { GEMINI_DEFAULTS, type GeminiOptions } from "./options";
import { StreamGuard } from "./stream-guard";

export class GeminiLlm implements LlmProvider {
  readonly name = "gemini";
  private readonly src: ErrorSource = { provider: "gemini", kind: "llm" };
  private readonly ai: GoogleGenAI;
  private readonly clock: Clock;

  constructor(private readonly opts: GeminiOptions) {
    this.ai = new GoogleGenAI({
      apiKey: opts.apiKey,
      httpOptions: {
        ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
        ...(opts.apiVersion ? { apiVersion: opts.apiVersion } : {}),
      },
    });
    this.clock = opts.clock ?? new SystemClock();
  }

  /**
   * Opens the connection the next request will use while the call is still being set up (Bun's
   * `fetch.preconnect`: DNS, TCP and TLS done ahead; a no-op when the keep-alive pool holds one). The
   * SDK sends through the global `fetch`, so its request takes that pooled connection.
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
      const stream = await guard.race(
        this.ai.models.generateContentStream({
          model: this.opts.model ?? GEMINI_DEFAULTS.model,
          contents: toContents(req, this.opts),
          config: {
            systemInstruction: req.system,
            ...(req.tools.length ? { tools: [{ functionDeclarations: req.tools.map(toDeclaration) }] } : {}),
            ...(this.opts.temperature !== undefined ? { temperature: this.opts.temperature } : {}),
            ...(this.opts.maxOutputTokens !== undefined ? { maxOutputTokens: this.opts.maxOutputTokens } : {}),
            abortSignal: guard.signal,
            automaticContinuation: false,
          },
        }),
      );
      const it = stream[Symbol.asyncIterator]();
      // Each streamed response carries the totals so far (usageMetadata); the last one is the request's.
      let usage: LlmChunk | undefined;
      for (;;) {
        const r = await guard.race(it.next());
        if (r.done) {
          guard.finished();
          break;
        }
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

/** History → Gemini `contents` (roles "user" and "model"). */
export function toContents(req: Pick<LlmRequest, "history">, opts: Pick<GeminiOptions, "prompts"> = {}): Content[] {
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
export function chunksOf(resp: GenerateContentResponse, src: ErrorSource): LlmChunk[] {
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

/** SDK errors → ProviderError. `ApiError` carries the HTTP status (also for an error event mid-stream). */
export function mapGeminiError(src: ErrorSource, e: unknown): ProviderError {
  if (e instanceof ProviderError) return e;
  const err = e as { name?: string; status?: unknown; message?: string };
  if (err && err.name === "ApiError" && typeof err.status === "number") {
    const detail = googleErrorMessage(err.message ?? "");
    // Gemini answers an invalid key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID: that is auth.
    if (err.status === 400 && /API_KEY_INVALID|API key not valid/i.test(err.message ?? "")) {
      return new ProviderError(src.provider, src.kind, "auth", `${src.provider}: key rejected (HTTP 400 API_KEY_INVALID)`, false, 400, {
        cause: e,
      });
    }
    return httpError(src, err.status, detail, e);
  }
  // A streamed event that is not JSON (the SDK parses each one with JSON.parse).
  if (e instanceof SyntaxError) return protocolError(src, `unreadable stream event: ${e.message}`, e);
  return networkError(src, err?.message ?? String(e), e);
}

/** The `error.message` inside Google's JSON error body (the SDK puts the whole body in the message). */
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
