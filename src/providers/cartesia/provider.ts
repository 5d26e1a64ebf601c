/**
 * Cartesia streaming TTS over the raw WebSocket protocol with Bun's native client
 * (https://docs.cartesia.ai/api-reference/tts/websocket). The SDK is not used: FACTS.md found that
 * @cartesia/cartesia-js 4.2.0 always rewrites the socket URL to wss:// (no local fake without TLS) and
 * needs the `ws` package; the protocol is small.
 *
 * Sockets: one per call, opened at the call's first open() (or prepare()), shared by that call's turns
 * (one context per TtsStream), closed after `idleCloseMs` without a context, by closeCall(), or close().
 * Output: pcm_mulaw (default) or pcm_s16le at 8000 Hz — the pipeline's rate, so no resampling.
 */

import { SystemClock, type Clock } from "../../util/clock";
import type { ErrorSource } from "../errors";
import type { TtsProvider } from "../types";
import { CartesiaConnection } from "./connection";
import { buildTtsUrl, CARTESIA_DEFAULTS, type CartesiaOptions } from "./options";
import { CartesiaTtsStream } from "./stream";

export class CartesiaTts implements TtsProvider {
  readonly name = "cartesia";
  private readonly src: ErrorSource = { provider: "cartesia", kind: "tts" };
  private readonly clock: Clock;
  private readonly conns = new Map<string, CartesiaConnection>();

  constructor(private readonly opts: CartesiaOptions) {
    this.clock = opts.clock ?? new SystemClock();
  }

  /**
   * Opens a context for one turn. Never throws: connection failures surface as a ProviderError thrown by
   * `audio` ("auth" for 401/403, "rate_limited", "unavailable", "timeout" — also when audio is owed and
   * none comes for `audioTimeoutMs`).
   */
  open(o: { signal: AbortSignal; callId: string }): CartesiaTtsStream {
    const d = CARTESIA_DEFAULTS;
    return new CartesiaTtsStream(
      this.connection(o.callId),
      {
        modelId: this.opts.model ?? d.model,
        voiceId: this.opts.voiceId,
        language: this.opts.language ?? d.language,
        contextId: crypto.randomUUID(),
        encoding: this.opts.encoding ?? d.encoding,
        sampleRate: d.sampleRate,
        maxBufferDelayMs: this.opts.maxBufferDelayMs,
      },
      o.callId,
      this.clock,
      o.signal,
      this.opts.audioQueueCapacity ?? d.audioQueueCapacity,
      this.opts.onFirstAudio,
      this.opts.audioTimeoutMs ?? d.audioTimeoutMs,
    );
  }

  /** Opens the call's socket ahead of its first turn (saves the handshake from the first reply's latency). */
  prepare(callId: string): void {
    this.connection(callId);
  }

  /** Closes the call's socket (at hang-up). Contexts still open fail with "unavailable". */
  closeCall(callId: string): void {
    this.conns.get(callId)?.close();
  }

  /** Closes every socket. */
  close(): void {
    for (const c of [...this.conns.values()]) c.close();
  }

  /** Live socket count (for health output and tests). */
  get openConnections(): number {
    return this.conns.size;
  }

  private connection(callId: string): CartesiaConnection {
    const existing = this.conns.get(callId);
    if (existing && existing.state !== "closed") return existing;
    const d = CARTESIA_DEFAULTS;
    const conn = new CartesiaConnection(
      buildTtsUrl(this.opts),
      this.clock,
      this.opts.connectTimeoutMs ?? d.connectTimeoutMs,
      this.opts.idleCloseMs ?? d.idleCloseMs,
      this.src,
      (c) => {
        if (this.conns.get(callId) === c) this.conns.delete(callId);
      },
    );
    this.conns.set(callId, conn);
    void conn.start();
    return conn;
  }
}

/** Factory used by the wiring: `createCartesiaTts({ apiKey, voiceId, model?, baseUrl?, ... })`. */
export function createCartesiaTts(opts: CartesiaOptions): CartesiaTts {
  return new CartesiaTts(opts);
}
