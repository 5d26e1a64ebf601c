/**
 * Opening a client WebSocket with Bun's native client (RFC 6455 §4.1), as a promise that settles once:
 * resolves on `open`, rejects with a ProviderError on a refused handshake (status mapped, e.g. 401 →
 * "auth"), a refused connection ("unavailable"), our AbortSignal ("aborted") or the handshake time limit
 * ("timeout"). Shared by the Deepgram and Cartesia providers.
 *
 * Bun extension used: `new WebSocket(url, { headers })` sets request headers on the handshake (browsers
 * cannot). Bun reports a non-101 answer only as text ("Expected 101 status code: 401") on the `error`
 * event; see `handshakeStatusFromMessage`.
 */

import type { Clock } from "../../util/clock";
import { abortedError, handshakeError, timeoutError, wsCloseError, type ErrorSource } from "../errors";

export interface OpenWebSocketParams {
  url: string;
  headers?: Record<string, string>;
  /** Handshake time limit, ms. */
  timeoutMs: number;
  clock: Clock;
  src: ErrorSource;
  signal?: AbortSignal;
}

/** Connects; the returned socket has `binaryType = "arraybuffer"` and no handlers attached. */
export function openWebSocket(p: OpenWebSocketParams): Promise<WebSocket> {
  return new Promise<WebSocket>((resolve, reject) => {
    if (p.signal?.aborted) {
      reject(abortedError(p.src));
      return;
    }
    let settled = false;
    let ws: WebSocket;
    try {
      ws = new WebSocket(p.url, { headers: p.headers ?? {} });
    } catch (e) {
      reject(handshakeError(p.src, e instanceof Error ? e.message : String(e)));
      return;
    }
    ws.binaryType = "arraybuffer";
    const onAbort = (): void => settle(abortedError(p.src));
    const timer = p.clock.setTimer(p.timeoutMs, () => settle(timeoutError(p.src, "WebSocket handshake", p.timeoutMs)));
    p.signal?.addEventListener("abort", onAbort, { once: true });

    function settle(err?: Error): void {
      if (settled) return;
      settled = true;
      p.clock.clearTimer(timer);
      p.signal?.removeEventListener("abort", onAbort);
      ws.onopen = null;
      ws.onerror = null;
      ws.onclose = null;
      if (err) {
        try {
          ws.close();
        } catch {
          // already closed
        }
        reject(err);
      } else {
        resolve(ws);
      }
    }

    ws.onopen = () => settle();
    ws.onerror = (ev) => {
      const e = ev as Event & { message?: string; error?: unknown };
      const msg = e.message ?? (e.error instanceof Error ? e.error.message : undefined);
      // No `cause`: Bun's error text holds the full URL, and Cartesia's URL holds the API key.
      settle(handshakeError(p.src, msg));
    };
    ws.onclose = (ev) => settle(wsCloseError(p.src, ev.code, ev.reason));
  });
}
