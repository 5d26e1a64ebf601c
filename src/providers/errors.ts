/**
 * Mapping of transport failures (HTTP status, WebSocket handshake, WebSocket close code, network errors,
 * our own abort) to the one typed error providers throw, `ProviderError` (src/providers/types.ts).
 *
 * Status classes follow RFC 9110 §15: 401/403 mean the key was rejected (not retryable), 429 (RFC 6585 §4)
 * is retryable after a pause, 408/504 are timeouts, other 5xx are the server's fault (retryable), other 4xx
 * are ours (bad request, not retryable). WebSocket close codes are RFC 6455 §7.4.1.
 */

import { ProviderError, type ProviderErrorCode, type ProviderKind } from "./types";

/** Who failed: the provider's short name (e.g. "deepgram") and its kind. */
export interface ErrorSource {
  provider: string;
  kind: ProviderKind;
}

/** Code and retryability for an HTTP status (RFC 9110 §15, RFC 6585 §4). */
export function classifyHttpStatus(status: number): { code: ProviderErrorCode; retryable: boolean } {
  if (status === 401 || status === 403) return { code: "auth", retryable: false };
  if (status === 429) return { code: "rate_limited", retryable: true };
  if (status === 408 || status === 504) return { code: "timeout", retryable: true };
  if (status >= 500) return { code: "unavailable", retryable: true };
  if (status >= 400) return { code: "bad_request", retryable: false };
  return { code: "protocol", retryable: false };
}

/**
 * ProviderError for an HTTP status. `detail` is the provider's own message (kept short). For 401/403 the
 * message starts with "key rejected" so logs say plainly what to fix.
 */
export function httpError(src: ErrorSource, status: number, detail?: string, cause?: unknown): ProviderError {
  const { code, retryable } = classifyHttpStatus(status);
  const head = code === "auth" ? `key rejected (HTTP ${status})` : `HTTP ${status}`;
  const msg = detail ? `${src.provider}: ${head}: ${truncate(detail)}` : `${src.provider}: ${head}`;
  return new ProviderError(src.provider, src.kind, code, msg, retryable, status, { cause });
}

/** ProviderError for a network failure with no HTTP status (refused, reset, DNS): retryable. */
export function networkError(src: ErrorSource, detail: string, cause?: unknown): ProviderError {
  return new ProviderError(src.provider, src.kind, "unavailable", `${src.provider}: ${truncate(detail)}`, true, undefined, {
    cause,
  });
}

/** ProviderError for our own AbortSignal firing. Not retryable (we asked for it). */
export function abortedError(src: ErrorSource, cause?: unknown): ProviderError {
  return new ProviderError(src.provider, src.kind, "aborted", `${src.provider}: aborted`, false, undefined, { cause });
}

/** ProviderError for "no answer in time" (`ms` is the limit that passed). Retryable. */
export function timeoutError(src: ErrorSource, what: string, ms: number): ProviderError {
  return new ProviderError(src.provider, src.kind, "timeout", `${src.provider}: ${what} after ${ms} ms`, true);
}

/** ProviderError for a peer that spoke something we do not understand. Not retryable. */
export function protocolError(src: ErrorSource, detail: string, cause?: unknown): ProviderError {
  return new ProviderError(src.provider, src.kind, "protocol", `${src.provider}: ${truncate(detail)}`, false, undefined, {
    cause,
  });
}

/**
 * The HTTP status of a failed WebSocket handshake, if the client reported it. Bun's WebSocket client
 * (1.4.x) fires `error` with a message like "… failed: Expected 101 status code: 401" and then `close`
 * with 1006; the status is only in that text. Returns undefined for refused connections.
 */
export function handshakeStatusFromMessage(message: string | undefined): number | undefined {
  if (!message) return undefined;
  const m = /Expected 101 status code:\s*(\d{3})/.exec(message);
  return m ? Number(m[1]) : undefined;
}

/** ProviderError for a WebSocket that failed before `open`: mapped by handshake status when known. */
export function handshakeError(src: ErrorSource, message: string | undefined, cause?: unknown): ProviderError {
  const status = handshakeStatusFromMessage(message);
  if (status !== undefined) return httpError(src, status, "WebSocket handshake refused", cause);
  return networkError(src, `WebSocket connect failed${message ? `: ${stripUrl(message)}` : ""}`, cause);
}

/**
 * ProviderError for a WebSocket closed by the peer (RFC 6455 §7.4.1). 1002/1003/1007/1008 mean the peer
 * rejected what we sent (not retryable); 1006 (abnormal, no close frame), 1001, 1011–1014 and anything
 * else are treated as the service being unavailable (retryable). Codes 4000–4999 are private: 4001/4003
 * are taken as auth, 4029 as rate limit (a convention some providers use), the rest unavailable.
 */
export function wsCloseError(src: ErrorSource, code: number, reason: string): ProviderError {
  const detail = `WebSocket closed ${code}${reason ? ` ${truncate(reason)}` : ""}`;
  let c: ProviderErrorCode = "unavailable";
  let retryable = true;
  if (code === 1002 || code === 1003 || code === 1007 || code === 1008) {
    c = "bad_request";
    retryable = false;
  } else if (code === 4001 || code === 4003) {
    c = "auth";
    retryable = false;
  } else if (code === 4029) {
    c = "rate_limited";
  }
  return new ProviderError(src.provider, src.kind, c, `${src.provider}: ${detail}`, retryable);
}

/** Whether a close code means "the peer rejected our input" (do not reconnect). RFC 6455 §7.4.1. */
export function isRejectingClose(code: number): boolean {
  return code === 1002 || code === 1003 || code === 1007 || code === 1008 || code === 4001 || code === 4003;
}

/** Keeps provider messages short in logs; secrets are never part of them (URLs are stripped). */
function truncate(s: string, max = 300): string {
  const t = stripUrl(s);
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** Removes query strings from URLs in a message (Cartesia puts the API key in the query). */
function stripUrl(s: string): string {
  return s.replace(/(wss?|https?):\/\/([^\s'"?]+)\?[^\s'"]*/g, "$1://$2?…");
}
