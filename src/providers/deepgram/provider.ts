/**
 * Deepgram streaming speech-to-text over the raw WebSocket protocol with Bun's native client
 * (https://developers.deepgram.com/reference/streaming).
 *
 * Why not @deepgram/sdk: the protocol we need is one URL, one header, binary audio out, four JSON message
 * kinds in and three JSON control messages out (~200 lines here). The SDK (5.x) retries a refused
 * handshake up to 30 times by default (FACTS.md), which would hide a 401 and fight our own single retry
 * layer; and our reconnect must replay unfinalised audio, which no SDK does for us.
 */

import { SystemClock } from "../../util/clock";
import type { ErrorSource } from "../errors";
import { abortedError } from "../errors";
import type { SttOpenOptions, SttProvider } from "../types";
import { buildListenUrl, DEEPGRAM_DEFAULTS, type DeepgramOptions } from "./options";
import { openWebSocket } from "./socket";
import { DeepgramStream } from "./stream";

export class DeepgramStt implements SttProvider {
  readonly name = "deepgram";
  private readonly src: ErrorSource = { provider: "deepgram", kind: "stt" };

  constructor(private readonly opts: DeepgramOptions) {}

  /**
   * Connects one live stream for a call. Resolves once the WebSocket is open. Throws ProviderError:
   * "auth" (401/403, key rejected), "rate_limited" (429), "unavailable" (5xx, refused), "timeout"
   * (no handshake within connectTimeoutMs), "aborted" (opts.signal).
   */
  async open(o: SttOpenOptions): Promise<DeepgramStream> {
    if (o.signal.aborted) throw abortedError(this.src);
    const d = DEEPGRAM_DEFAULTS;
    const clock = this.opts.clock ?? new SystemClock();
    const url = buildListenUrl(this.opts, o.codec);
    const connect = (): Promise<WebSocket> =>
      openWebSocket({
        url,
        headers: { Authorization: `Token ${this.opts.apiKey}` },
        timeoutMs: this.opts.connectTimeoutMs ?? d.connectTimeoutMs,
        clock,
        src: this.src,
        signal: o.signal,
      });
    const ws = await connect();
    return new DeepgramStream(
      ws,
      {
        codec: o.codec,
        keepAliveMs: this.opts.keepAliveMs ?? d.keepAliveMs,
        endTimeoutMs: this.opts.endTimeoutMs ?? d.endTimeoutMs,
        maxReconnectAttempts: this.opts.maxReconnectAttempts ?? d.maxReconnectAttempts,
        reconnectBackoffMs: this.opts.reconnectBackoffMs ?? d.reconnectBackoffMs,
        replayBufferMs: this.opts.replayBufferMs ?? d.replayBufferMs,
        stallTimeoutMs: this.opts.stallTimeoutMs ?? d.stallTimeoutMs,
        chunkMs: this.opts.chunkMs ?? d.chunkMs,
        eventQueueCapacity: this.opts.eventQueueCapacity ?? d.eventQueueCapacity,
        clock,
        src: this.src,
        reconnect: connect,
      },
      o.signal,
    );
  }
}

/** Factory used by the wiring: `createDeepgramStt({ apiKey, model?, baseUrl?, ... })`. */
export function createDeepgramStt(opts: DeepgramOptions): DeepgramStt {
  return new DeepgramStt(opts);
}
