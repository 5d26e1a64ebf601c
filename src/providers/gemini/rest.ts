/**
 * The Gemini API's streaming call on the wire, spoken directly with `fetch` (REST reference:
 * https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent):
 *
 *   POST {baseUrl}/{version}/models/{model}:streamGenerateContent?alt=sse
 *   x-goog-api-key: <key>                      (https://ai.google.dev/gemini-api/docs/api-key)
 *   content-type: application/json
 *   { contents, systemInstruction?, tools?, generationConfig? }
 *
 * The answer is Server-Sent Events, one `GenerateContentResponse` JSON per event; an error before the
 * stream is an HTTP status with Google's JSON error body `{ error: { code, message, status, details } }`
 * (https://ai.google.dev/gemini-api/docs/troubleshooting), an error during it is an event carrying that
 * same body.
 *
 * Why not @google/genai (used until December 2026): it is on the path from the caller's last word to the
 * agent's first. Measured on a loaded 2-core machine (load ~6; 8 requests 0.5 s apart to the local fake,
 * so the code stays as cold as it is between turns): SDK call → `fetch` 0.4–2 ms, direct 0.05–0.1 ms;
 * call → first streamed event, median 2.4–3.9 ms through the SDK, 1.0–1.6 ms direct (the SDK clones
 * its options, converts the request, builds headers, and wraps every event in a `Response` it parses
 * again). The wire format is small and stable, and the provider tests run against a fake that speaks it
 * (tests/fakes/gemini.ts). Connections are Bun's `fetch` keep-alive pool: consecutive requests reuse
 * one connection (tests/providers/cloud/gemini.test.ts checks it; it stayed up over 40 s idle).
 */
import { sseData } from "../sse-reader";

/** A Gemini `Content`: a turn with its parts. */
export interface GeminiContent {
  role: "user" | "model";
  parts: { text: string }[];
}

/** The request body of `streamGenerateContent`. */
export interface GeminiRequestBody {
  contents: GeminiContent[];
  systemInstruction?: { parts: { text: string }[] };
  tools?: { functionDeclarations: { name: string; description: string; parametersJsonSchema: unknown }[] }[];
  generationConfig?: { temperature?: number; maxOutputTokens?: number };
}

/** The fields of a streamed `GenerateContentResponse` we read. */
export interface GeminiResponse {
  candidates?: {
    content?: { parts?: { text?: string; thought?: boolean; functionCall?: { name?: string; args?: unknown } }[] };
    finishReason?: string;
  }[];
  usageMetadata?: { promptTokenCount?: number; candidatesTokenCount?: number };
}

/** An error answer of the API: the HTTP status (or the in-band `error.code`) and the body's text. */
export class GeminiApiError extends Error {
  override readonly name = "GeminiApiError";
  constructor(
    readonly status: number,
    /** Google's JSON error body, as received (or the stream event that carried it). */
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body}`);
  }
}

export interface StreamTarget {
  /** scheme://host[:port], no trailing slash. */
  baseUrl: string;
  /** Path segment, e.g. "v1". */
  version: string;
  model: string;
  apiKey: string;
}

/** The request URL (the key goes in a header, never in the URL). */
export function streamUrl(t: StreamTarget): string {
  return `${t.baseUrl}/${t.version}/models/${encodeURIComponent(t.model)}:streamGenerateContent?alt=sse`;
}

/**
 * Sends the request and yields each streamed response. Throws GeminiApiError for an error status or an
 * error event, SyntaxError for an event that is not JSON, and what `fetch`/the body throws on a network
 * failure or an abort of `signal`.
 */
export async function* streamGenerateContent(t: StreamTarget, body: GeminiRequestBody, signal: AbortSignal): AsyncGenerator<GeminiResponse> {
  const res = await fetch(streamUrl(t), {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": t.apiKey },
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw new GeminiApiError(res.status, await res.text().catch(() => ""));
  if (!res.body) return;
  for await (const data of sseData(res.body)) {
    const json = JSON.parse(data) as GeminiResponse & { error?: { code?: unknown } };
    if (json.error) throw new GeminiApiError(typeof json.error.code === "number" ? json.error.code : 500, data);
    yield json;
  }
}
