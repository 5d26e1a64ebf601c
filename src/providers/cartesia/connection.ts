/**
 * One Cartesia TTS WebSocket for one call, shared by that call's contexts (one context per turn;
 * Cartesia multiplexes contexts on a socket: https://docs.cartesia.ai/api-reference/tts/websocket).
 *
 * Connects on `start()` (called by the provider at first use or `prepare()`); messages sent before
 * `open` are queued in order. Replies are
 * routed to contexts by `context_id`. A failed connect or an unexpected close fails every open context
 * with a ProviderError and leaves the connection "closed" (the provider opens a new one for the next
 * turn: no retry here). After `idleCloseMs` with no open context the socket is closed.
 */

import type { Clock, TimerHandle } from "../../util/clock";
import { workDone } from "../../util/pace-point";
import { STALL_WS } from "../../util/stall-recorder";
import { openWebSocket } from "../deepgram/socket";
import { classifyHttpStatus, protocolError, wsCloseError, type ErrorSource } from "../errors";
import { ProviderError } from "../types";
import { parseReply, type CartesiaReply } from "./messages";

/** What a context needs from the connection's routing. */
export interface ContextSink {
  readonly contextId: string;
  onChunk(data: Uint8Array): void;
  onDone(): void;
  onError(err: ProviderError): void;
}

export type ConnectionState = "connecting" | "open" | "closed";

export class CartesiaConnection {
  private st: ConnectionState = "connecting";
  private ws: WebSocket | null = null;
  private readonly queue: string[] = [];
  private readonly contexts = new Map<string, ContextSink>();
  private idleTimer: TimerHandle | undefined;
  private started = false;
  /** Counters for logs and tests. */
  readonly stats = { sent: 0, received: 0, unknownContext: 0, unparsed: 0 };

  constructor(
    private readonly url: string,
    private readonly clock: Clock,
    private readonly connectTimeoutMs: number,
    private readonly idleCloseMs: number,
    private readonly src: ErrorSource,
    private readonly onClosed: (c: CartesiaConnection) => void,
  ) {}

  get state(): ConnectionState {
    return this.st;
  }

  register(ctx: ContextSink): void {
    this.contexts.set(ctx.contextId, ctx);
    this.clock.clearTimer(this.idleTimer);
  }

  unregister(contextId: string): void {
    this.contexts.delete(contextId);
    if (this.contexts.size === 0 && this.st !== "closed") {
      this.clock.clearTimer(this.idleTimer);
      this.idleTimer = this.clock.setTimer(this.idleCloseMs, () => {
        if (this.contexts.size === 0) this.close();
      });
    }
  }

  /** Sends (or queues until open) one JSON message. Dropped when the connection is closed. */
  send(msg: Record<string, unknown>): void {
    if (this.st === "closed") return;
    const text = JSON.stringify(msg);
    if (this.st === "connecting" || !this.ws) {
      this.queue.push(text);
      return;
    }
    this.ws.send(text);
    this.stats.sent++;
  }

  /** Drops any queued message for `contextId` not yet sent; true if some were (nothing reached Cartesia). */
  dropQueued(contextId: string): boolean {
    const before = this.queue.length;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if ((JSON.parse(this.queue[i]) as { context_id?: string }).context_id === contextId) this.queue.splice(i, 1);
    }
    return this.queue.length !== before;
  }

  /** Closes the socket (normal close 1000); contexts still open fail with "unavailable" (retryable). */
  close(): void {
    if (this.st === "closed") return;
    this.st = "closed";
    this.clock.clearTimer(this.idleTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "done");
    this.failAll(new ProviderError(this.src.provider, "tts", "unavailable", `${this.src.provider}: connection closed`, true));
    this.onClosed(this);
  }

  /** Starts connecting (once). Failures are reported to the contexts, never thrown. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    let ws: WebSocket;
    try {
      ws = await openWebSocket({ url: this.url, timeoutMs: this.connectTimeoutMs, clock: this.clock, src: this.src });
    } catch (e) {
      const err = e instanceof ProviderError ? e : protocolError(this.src, String(e));
      if (this.st === "closed") return;
      this.st = "closed";
      this.failAll(err);
      this.onClosed(this);
      return;
    }
    if (this.st === "closed") {
      ws.close(1000, "done");
      return;
    }
    this.ws = ws;
    this.st = "open";
    ws.onmessage = (ev) => {
      const t0 = performance.now();
      try {
        if (typeof ev.data === "string") this.onText(ev.data);
      } finally {
        workDone(STALL_WS, t0); // a pacer tick due meanwhile goes now, not after the rest of the loop turn
      }
    };
    ws.onclose = (ev) => {
      if (this.st === "closed") return;
      this.st = "closed";
      this.ws = null;
      this.clock.clearTimer(this.idleTimer);
      this.failAll(wsCloseError(this.src, ev.code, ev.reason));
      this.onClosed(this);
    };
    ws.onerror = () => undefined; // followed by close
    for (const t of this.queue.splice(0)) {
      ws.send(t);
      this.stats.sent++;
    }
  }

  private onText(text: string): void {
    this.stats.received++;
    const r = parseReply(text);
    if (!r) {
      this.stats.unparsed++;
      return;
    }
    if (r.type === "error" && !r.contextId) {
      this.failAll(replyError(this.src, r));
      return;
    }
    const ctx = r.contextId ? this.contexts.get(r.contextId) : undefined;
    if (!ctx) {
      this.stats.unknownContext++; // e.g. late audio of a cancelled context
      return;
    }
    if (r.type === "chunk") ctx.onChunk(r.data);
    else if (r.type === "done") ctx.onDone();
    else if (r.type === "error") ctx.onError(replyError(this.src, r));
  }

  private failAll(err: ProviderError): void {
    for (const c of [...this.contexts.values()]) c.onError(err);
    this.contexts.clear();
  }
}

/** An in-band `error` reply → ProviderError, by its `status_code` when present (HTTP semantics). */
export function replyError(src: ErrorSource, r: Extract<CartesiaReply, { type: "error" }>): ProviderError {
  if (r.status === undefined) return protocolError(src, `error reply: ${r.message}`);
  const { code, retryable } = classifyHttpStatus(r.status);
  const head = code === "auth" ? "key rejected: " : "";
  return new ProviderError(src.provider, src.kind, code, `${src.provider}: ${head}${r.message} (status ${r.status})`, retryable, r.status);
}
