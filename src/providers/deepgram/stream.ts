/**
 * One Deepgram live stream per call (https://developers.deepgram.com/reference/streaming).
 *
 * States: "open" (socket up, audio flowing) → "ending" (CloseStream sent, waiting for the server to
 * close) → "closed"; "open" → "reconnecting" when the server drops the socket → back to "open" after a
 * successful reconnect, or "closed" with an error event after `maxReconnectAttempts` failures.
 *
 * Audio: the frames' G.711 payloads are sent unchanged, `chunkMs` of them per binary message (held
 * ones go out at once before Finalize and CloseStream), and also kept in a ReplayBuffer until a final
 * result covers them. Deepgram's `start`/`duration` are seconds from the start
 * of the audio of *that connection*; `connBase` maps them to absolute bytes (8000 bytes per second).
 * After a reconnect everything still held (audio since the last final, plus what arrived meanwhile) is
 * sent first, so no words are lost.
 *
 * Keep-alive (./keep-alive.ts): `{"type":"KeepAlive"}` after `keepAliveMs` without sending anything.
 * Reconnect attempts, their backoff and the error once they are spent: ./reconnect-budget.ts.
 *
 * Stall watchdog (./stall-watchdog.ts): when nothing at all has come back for `stallTimeoutMs` while the
 * caller's speech went out, the socket is closed and the stream reconnects with replay like after a drop
 * (the same attempt budget: a server that stalls every time ends in an error event).
 *
 * Transcript messages become SttEvents in ./results.ts.
 */

import { AsyncQueue } from "../../util/async-queue";
import type { Clock, TimerHandle } from "../../util/clock";
import { workDone } from "../../util/pace-point";
import { STALL_WS } from "../../util/stall-recorder";
import { isRejectingClose, wsCloseError, type ErrorSource } from "../errors";
import { ProviderError, type AudioFrame, type SttEvent, type SttStream } from "../types";
import { CLOSE_STREAM, FINALIZE, KEEP_ALIVE, parseServerMessage } from "./messages";
import { G711_BYTES_PER_MS } from "./options";
import { ReplayBuffer } from "./replay-buffer";
import { AudioChunker } from "./chunker";
import { TranscriptSegments } from "./results";
import { StallWatchdog } from "./stall-watchdog";
import { ReconnectBudget } from "./reconnect-budget";
import { KeepAlive } from "./keep-alive";

export { STALL_MIN_SPEECH_MS, STALL_SPEECH_LEVEL } from "./stall-watchdog";

export type DeepgramStreamState = "open" | "reconnecting" | "ending" | "closed";

/** Resolved settings the stream needs (see DeepgramOptions for meanings and defaults). */
export interface DeepgramStreamConfig {
  codec: "PCMU" | "PCMA";
  keepAliveMs: number;
  endTimeoutMs: number;
  maxReconnectAttempts: number;
  reconnectBackoffMs: readonly number[];
  replayBufferMs: number;
  /** Stall watchdog (ms without any server message while speech is sent); 0 = off. */
  stallTimeoutMs?: number;
  eventQueueCapacity: number;
  /** Audio per binary message, ms; default 20 (one message per frame). */
  chunkMs?: number;
  clock: Clock;
  src: ErrorSource;
  /** Opens a fresh socket for a reconnect (same URL and headers as the first). */
  reconnect: () => Promise<WebSocket>;
}

/** Counters for logs and tests. Bytes are G.711 bytes (= samples at 8000 Hz). */
export interface DeepgramStreamStats {
  bytesSent: number;
  keepAlives: number;
  reconnects: number;
  replayedBytes: number;
  finalizes: number;
  codecMismatches: number;
  unparsedMessages: number;
  speechStarted: number;
  /** Reconnects started by the stall watchdog (also counted in `reconnects` once they succeed). */
  stalls: number;
  requestIds: string[];
}

export class DeepgramStream implements SttStream {
  readonly events: AsyncQueue<SttEvent>;
  /** flush() sends `{"type":"Finalize"}` and nothing else (https://developers.deepgram.com/docs/finalize). */
  readonly finalizesOnly = true;
  readonly stats: DeepgramStreamStats = {
    bytesSent: 0,
    keepAlives: 0,
    reconnects: 0,
    replayedBytes: 0,
    finalizes: 0,
    codecMismatches: 0,
    unparsedMessages: 0,
    speechStarted: 0,
    stalls: 0,
    requestIds: [],
  };
  private readonly stall: StallWatchdog;
  private readonly segments = new TranscriptSegments();
  private st: DeepgramStreamState = "open";
  private ws: WebSocket | null;
  private readonly ring: ReplayBuffer;
  /** Audio not sent yet, up to one message (also in `ring`, so a reconnect's replay covers it). */
  private readonly chunker: AudioChunker;
  /** Absolute byte offset that the current connection's time 0 corresponds to. */
  private connBase = 0;
  private readonly keepAlive: KeepAlive;
  private readonly budget: ReconnectBudget;
  private pendingFinalize = false;
  private endRequested = false;
  private reconnectTimer: TimerHandle | undefined;
  private endTimer: TimerHandle | undefined;
  private endPromise: Promise<void> | null = null;
  private endResolve: (() => void) | null = null;
  private readonly onAbort = (): void => this.close();

  constructor(
    ws: WebSocket,
    private readonly cfg: DeepgramStreamConfig,
    private readonly signal: AbortSignal,
  ) {
    this.events = new AsyncQueue<SttEvent>(cfg.eventQueueCapacity);
    this.ring = new ReplayBuffer(Math.max(1, cfg.replayBufferMs * G711_BYTES_PER_MS));
    this.chunker = new AudioChunker((cfg.chunkMs ?? 20) * G711_BYTES_PER_MS, (m) => this.sendAudio(m));
    this.ws = ws;
    this.keepAlive = new KeepAlive(cfg.clock, cfg.keepAliveMs, () => this.st === "open", () => {
      this.sendText(KEEP_ALIVE);
      this.stats.keepAlives++;
    });
    this.budget = new ReconnectBudget(cfg.maxReconnectAttempts, cfg.reconnectBackoffMs, cfg.src);
    this.stall = new StallWatchdog(cfg.clock, cfg.codec, cfg.stallTimeoutMs ?? 0);
    this.attach(ws);
    this.keepAlive.arm();
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  get state(): DeepgramStreamState {
    return this.st;
  }
  /** Audio bytes held for replay, and bytes lost to the replay bound. */
  get replay(): { heldBytes: number; droppedBytes: number } {
    return { heldBytes: this.ring.length, droppedBytes: this.ring.droppedBytes };
  }

  push(frame: AudioFrame): void {
    if (this.st === "closed" || this.st === "ending" || this.endRequested) return;
    if (frame.codec !== this.cfg.codec) {
      // The URL fixed encoding=mulaw|alaw; a codec change needs a new stream.
      this.stats.codecMismatches++;
      return;
    }
    if (frame.payload.length === 0) return; // an empty binary message would close the stream (Deepgram docs)
    this.ring.append(frame.payload);
    if (this.st === "open") {
      this.chunker.push(frame.payload);
      this.watchStall(frame.payload);
    }
  }

  /** Audio held in the chunker goes out now (before Finalize and CloseStream). */
  private sendHeld(): void {
    const rest = this.chunker.take();
    if (rest) this.sendAudio(rest);
  }

  /** The stall watchdog (see the file comment): a stall drops the socket and reconnects with replay. */
  private watchStall(payload: Uint8Array): void {
    const stall = this.stall.sent(payload);
    if (!stall) return;
    this.stats.stalls++;
    const err = new ProviderError(
      this.cfg.src.provider,
      "stt",
      "timeout",
      `${this.cfg.src.provider}: no message for ${Math.round(stall.silentForMs)} ms while ${Math.round(stall.speechMs)} ms of speech was sent; reconnecting`,
      true,
    );
    const ws = this.ws;
    this.ws = null;
    try {
      ws?.close(4000, "stalled");
    } catch {
      // already closing
    }
    this.st = "reconnecting";
    this.keepAlive.stop();
    this.scheduleReconnect(err);
  }

  flush(): void {
    if (this.st === "open") {
      this.sendHeld();
      this.sendText(FINALIZE);
      this.stats.finalizes++;
    } else if (this.st === "reconnecting") {
      this.pendingFinalize = true;
    }
  }

  end(): Promise<void> {
    if (this.st === "closed") return Promise.resolve();
    if (this.endPromise) return this.endPromise;
    this.endPromise = new Promise<void>((resolve) => {
      this.endResolve = resolve;
    });
    this.endTimer = this.cfg.clock.setTimer(this.cfg.endTimeoutMs, () => this.close());
    this.endRequested = true;
    if (this.st === "open") {
      this.sendHeld();
      this.sendText(CLOSE_STREAM);
      this.st = "ending";
    }
    // "reconnecting": CloseStream goes out after the replay, if the reconnect succeeds in time.
    return this.endPromise;
  }

  close(): void {
    if (this.st === "closed") return;
    this.st = "closed";
    const c = this.cfg.clock;
    this.keepAlive.stop();
    c.clearTimer(this.reconnectTimer);
    c.clearTimer(this.endTimer);
    this.signal.removeEventListener("abort", this.onAbort);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) {
      try {
        ws.close(1000, "done");
      } catch {
        // already closing
      }
    }
    this.events.close();
    this.endResolve?.();
  }

  // ---------------------------------------------------------------- socket events

  private attach(ws: WebSocket): void {
    this.stall.heard();
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      this.stall.heard();
      if (typeof ev.data !== "string") return;
      const t0 = performance.now();
      try {
        this.onText(ev.data);
      } finally {
        workDone(STALL_WS, t0); // a pacer tick due meanwhile goes now, not after the rest of the loop turn
      }
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.onSocketClosed(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // Always followed by `close` (RFC 6455 §7.1.7 "Fail the WebSocket Connection"); handled there.
    };
  }

  private onText(text: string): void {
    const parsed = parseServerMessage(text);
    if (!parsed.ok) {
      this.stats.unparsedMessages++;
      return;
    }
    const m = parsed.msg;
    if (!m) return;
    switch (m.type) {
      case "Results": {
        this.budget.reset(); // the connection works: a later drop gets the full reconnect budget again
        if (m.isFinal) {
          // The range up to start+duration is final: its audio will never be needed again.
          this.ring.trimBefore(this.connBase + Math.round((m.start + m.duration) * 1000 * G711_BYTES_PER_MS));
        }
        const ev = this.segments.results(m);
        if (ev) this.events.push(ev);
        return;
      }
      case "UtteranceEnd":
        this.events.push(this.segments.utteranceEnd());
        return;
      case "SpeechStarted":
        this.stats.speechStarted++;
        return;
      case "Metadata":
        if (m.requestId) this.stats.requestIds.push(m.requestId);
        return;
      case "Error":
        this.fail(new ProviderError(this.cfg.src.provider, "stt", "protocol", `${this.cfg.src.provider}: ${m.message}`, false));
        return;
    }
  }

  private onSocketClosed(code: number, reason: string): void {
    this.ws = null;
    if (this.st === "ending" || this.st === "closed") {
      // Normal end after CloseStream: every result has been delivered before the close frame.
      this.close();
      return;
    }
    if (isRejectingClose(code)) {
      this.fail(wsCloseError(this.cfg.src, code, reason));
      return;
    }
    this.st = "reconnecting";
    this.keepAlive.stop();
    this.scheduleReconnect(wsCloseError(this.cfg.src, code, reason));
  }

  // ---------------------------------------------------------------- reconnect with replay

  private scheduleReconnect(last: ProviderError): void {
    if (this.st !== "reconnecting") return;
    const next = this.budget.next(last);
    if ("error" in next) return this.fail(next.error);
    this.reconnectTimer = this.cfg.clock.setTimer(next.delayMs, () => void this.tryReconnect());
  }

  private async tryReconnect(): Promise<void> {
    if (this.st !== "reconnecting") return;
    let ws: WebSocket;
    try {
      ws = await this.cfg.reconnect();
    } catch (e) {
      if (this.st !== "reconnecting") return;
      const err = e instanceof ProviderError ? e : wsCloseError(this.cfg.src, 1006, String(e));
      if (!err.retryable) this.fail(err); // e.g. 401: the key was revoked; retrying will not help
      else this.scheduleReconnect(err);
      return;
    }
    if (this.st !== "reconnecting") {
      ws.close(1000, "done");
      return;
    }
    this.ws = ws;
    this.attach(ws);
    this.st = "open";
    this.stats.reconnects++;
    // Replay: the new connection's audio starts at the oldest byte still held (the unsent chunk included).
    this.chunker.clear();
    this.connBase = this.ring.startByte;
    for (const chunk of this.ring.held()) this.sendAudio(chunk);
    this.stats.replayedBytes += this.ring.length;
    if (this.pendingFinalize) {
      this.pendingFinalize = false;
      this.sendText(FINALIZE);
      this.stats.finalizes++;
    }
    if (this.endRequested) {
      this.sendText(CLOSE_STREAM);
      this.st = "ending";
      return;
    }
    this.keepAlive.arm();
  }

  private fail(err: ProviderError): void {
    if (this.st === "closed") return;
    this.events.push({ type: "error", error: err });
    this.close();
  }

  // ---------------------------------------------------------------- sending

  /** `bytes` may be the chunker's own buffer: `ws.send` copies it at once (chunker.ts). */
  private sendAudio(bytes: Uint8Array): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return; // held in the ring; replayed after reconnect
    ws.send(bytes);
    this.stats.bytesSent += bytes.length;
    this.keepAlive.sent();
  }

  private sendText(msg: string): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(msg);
    this.keepAlive.sent();
  }
}
