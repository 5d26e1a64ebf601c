/**
 * The request body limit for bodies sent without a `Content-Length` (`Transfer-Encoding: chunked`,
 * RFC 9112 §7.1): a declared length over the limit is refused before anything is read (src/http/app.ts),
 * but a chunked body announces no length, so it is counted while it is read and refused the moment it
 * passes the limit — 413 with a JSON message and `Connection: close`, the rest never read.
 *
 * RFC 9110 §15.5.14: "The 413 (Content Too Large) status code indicates that the server is refusing to
 * process a request because the request content is larger than the server is willing or able to process.
 * The server MAY terminate the request, if the protocol version in use allows it; otherwise, the server
 * MAY close the connection."
 *
 * Without this, Bun reads and buffers a chunked body up to its own `maxRequestBodySize` and Elysia parses
 * it whole on the thread that paces RTP; past that, Bun answers a bare 413 with no message.
 *
 *   new Elysia().onParse({ as: "global" }, ({ request }) => readBoundedJson(request, MAX_BODY_BYTES))
 */
import { HttpError } from "./errors";

/** The 413 `HttpError` for a body over `max` bytes (`read`: bytes read when it was noticed, or declared). */
export function payloadTooLarge(read: number, max: number, chunked: boolean): HttpError {
  const what = chunked ? `chunked request body passed ${max} bytes (${read} read)` : `request body of ${read} bytes`;
  return new HttpError(413, "payload_too_large", `${what}; at most ${max} are accepted`);
}

/**
 * Parses a JSON body sent without `Content-Length`, reading at most `max` bytes; undefined (let the
 * framework parse) when the request declares its length or has no body.
 * @throws HttpError 413 `payload_too_large` past `max` bytes (the stream is cancelled, not drained);
 *   400 `parse` when the body is not JSON.
 */
export async function readBoundedJson(request: Request, max: number): Promise<unknown> {
  if (request.body === null || request.headers.has("content-length")) return undefined;
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      reader.cancel().catch(() => undefined);
      throw payloadTooLarge(total, max, true);
    }
    parts.push(value);
  }
  const text = new TextDecoder().decode(Buffer.concat(parts));
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "parse", "the request body is not valid JSON");
  }
}
