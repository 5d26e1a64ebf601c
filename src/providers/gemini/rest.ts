/**
 * The Gemini API's streaming call spoken directly over `fetch`: REST
 * `POST {baseUrl}/{version}/models/{model}:streamGenerateContent?alt=sse`, key in `x-goog-api-key`
 * (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent), reply as server-sent
 * events (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation),
 * one `GenerateContentResponse` JSON per `data:` event.
 *
 * Why not @google/genai (3.3.0, used until session 19): per request it converts the whole history through
 * its generic path mapper, builds its auth headers, and per streamed event parses the JSON twice and
 * wraps it in a new `Response`: measured on this machine against the local fake in another process, 8
 * events, 17 history turns, 40 requests at once: 2.0–3.5 ms of CPU per request against 0.65–0.70 ms
 * for this file's path (issue 13: 8 replies per 48 s call at 200 calls).
 *
 * Errors (same as the SDK gave, mapped by provider.ts): a non-2xx answer → `GeminiHttpError` with the
 * status and Google's JSON error body; an event carrying `{"error": {"code": 400…599, …}}` (Google's
 * in-band error, mid-stream) → the same; an event that is not JSON → SyntaxError; a body that ends inside
 * an event, or a dropped connection → Error (network).
 */

/** Request fields (REST names, https://ai.google.dev/api/generate-content#request-body). */
export interface GeminiRequestBody {
  contents: { role: "user" | "model"; parts: { text: string }[] }[];
  systemInstruction?: { parts: { text: string }[] };
  tools?: { functionDeclarations: { name: string; description: string; parametersJsonSchema: unknown }[] }[];
  generationConfig?: { temperature?: number; maxOutputTokens?: number };
}

/** The parts of a streamed `GenerateContentResponse` the provider reads. */
export interface GeminiStreamEvent {
  candidates?: { content?: { parts?: GeminiPart[] } }[];
  usageMetadata?: { promptTokenCount?: number; candidatesTokenCount?: number };
}

export interface GeminiPart {
  text?: string;
  thought?: boolean;
  functionCall?: { name?: string; args?: unknown };
}

/** A non-2xx HTTP answer or Google's in-band error event: `status` and the body's text. */
export class GeminiHttpError extends Error {
  override readonly name = "GeminiHttpError";
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body}`);
  }
}

/** What one call needs besides the body. */
export interface GeminiEndpoint {
  baseUrl: string;
  apiVersion: string;
  model: string;
  apiKey: string;
}

/** `{baseUrl}/{version}/models/{model}:streamGenerateContent?alt=sse` (trailing slashes of baseUrl dropped). */
export function streamUrl(e: Pick<GeminiEndpoint, "baseUrl" | "apiVersion" | "model">): string {
  return `${e.baseUrl.replace(/\/+$/, "")}/${e.apiVersion}/models/${e.model}:streamGenerateContent?alt=sse`;
}

/**
 * Sends the request and yields each event's JSON object in order. Aborting `signal` cancels the request
 * (fetch rejects with the signal's reason). @throws GeminiHttpError, SyntaxError, Error (see the file's comment)
 */
export async function* streamGenerateContent(e: GeminiEndpoint, body: GeminiRequestBody, signal: AbortSignal): AsyncGenerator<GeminiStreamEvent> {
  const res = await fetch(streamUrl(e), {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": e.apiKey },
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw new GeminiHttpError(res.status, await res.text().catch(() => ""));
  if (!res.body) throw new Error("response body is empty");
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const [at, len] = eventEnd(buffer);
        if (at < 0) break;
        const data = eventData(buffer.slice(0, at));
        buffer = buffer.slice(at + len);
        if (data !== null) yield parseEvent(data);
      }
    }
    // A body that stops inside an event (a connection cut at an event boundary ends cleanly, as with the SDK).
    if ((buffer + decoder.decode()).trim().length > 0) throw new Error("the stream ended inside an event");
  } finally {
    reader.releaseLock();
  }
}

/**
 * Where the first event of `buf` ends: [index of its blank line, the blank line's length], or [-1, 0].
 * SSE lines end in CRLF, LF or CR; Google sends "\r\n\r\n".
 */
export function eventEnd(buf: string): [number, number] {
  let best = -1;
  let len = 0;
  for (const d of ["\r\n\r\n", "\n\n", "\r\r"]) {
    const i = buf.indexOf(d);
    if (i >= 0 && (best < 0 || i < best)) {
      best = i;
      len = d.length;
    }
  }
  return [best, len];
}

/** The `data` of one event (its `data:` lines joined with "\n", one leading space each dropped); null: none. */
export function eventData(event: string): string | null {
  let data: string | null = null;
  for (const line of event.split(/\r\n|\r|\n/)) {
    if (!line.startsWith("data:")) continue; // comments (":"), `event:`, `id:`, `retry:`: not used by Gemini
    const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    data = data === null ? v : `${data}\n${v}`;
  }
  return data;
}

/** One event's JSON; Google's in-band error (`{"error":{"code":4xx|5xx,…}}`) as GeminiHttpError. @throws SyntaxError when not JSON */
export function parseEvent(data: string): GeminiStreamEvent {
  const o = JSON.parse(data) as unknown;
  if (o !== null && typeof o === "object" && "error" in o) {
    const err = (o as { error: unknown }).error;
    const code = err !== null && typeof err === "object" ? (err as { code?: unknown }).code : undefined;
    if (typeof code === "number" && code >= 400 && code < 600) throw new GeminiHttpError(code, data);
  }
  return o as GeminiStreamEvent;
}
