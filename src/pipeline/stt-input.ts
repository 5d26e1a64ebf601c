/**
 * The caller side of a conversation's speech-to-text: opens the stream (the configured provider, else
 * the offline fallback for the rest of the call), forwards caller frames, reads finals and end-of-speech
 * signals, and re-opens the stream when it dies mid-call as `sttRecovery` (provider-failures.ts) decides.
 *
 * Restarts are bounded: a recogniser that keeps dying (a crashing pocketsphinx process, a provider that
 * fails every stream) is re-opened at most `maxRestarts` times per call (default STT_MAX_RESTARTS); after
 * that, or when no provider opens any more, `onGiveUp` is called once — the conversation then tells the
 * caller and ends the call politely instead of listening to nothing.
 */
import type { AudioFrame } from "../media/constants";
import type { SttProvider, SttStream, TurnExpectation } from "../providers/types";
import type { Logger } from "../util/log";
import { logProviderError, sttRecovery } from "./provider-failures";

/** Re-opens of the STT stream per call after it died, before giving up. */
export const STT_MAX_RESTARTS = 3;

export interface SttInputDeps {
  stt: SttProvider;
  fallbackStt?: SttProvider;
  callId: string;
  codec: "PCMU" | "PCMA";
  /** The call's signal. */
  signal: AbortSignal;
  log: Logger;
  onProviderError?: (err: unknown) => void;
  /**
   * A final transcript segment (`speechFinal`: the provider believes the speaker finished;
   * `fromFinalize`: the answer to our flush(), Deepgram from_finalize).
   */
  onFinal(text: string, speechFinal: boolean, fromFinalize: boolean): void;
  onUtteranceEnd(): void;
  /** An interim transcript (words so far, may still change). */
  onInterim?(text: string): void;
  /** A provider other than the configured one now serves the stage. */
  onFallback(provider: SttProvider): void;
  /** Re-opens allowed after the stream died (default STT_MAX_RESTARTS). */
  maxRestarts?: number;
  /** Recognition is gone for good on this call (restarts exhausted or nothing opens); called once. */
  onGiveUp?(err: unknown): void;
}

export class SttInput {
  private stream: SttStream | null = null;
  private provider: SttProvider | null = null;
  private closed = false;
  /** Times the stream was re-opened after dying. */
  restarts = 0;
  private gaveUp = false;
  private expectation: TurnExpectation | undefined;

  constructor(private readonly d: SttInputDeps) {}

  /** Opens the configured provider, else the fallback. Resolves false when neither opened. */
  open(): Promise<boolean> {
    return this.openFirst([this.d.stt, this.d.fallbackStt]);
  }

  /** Queues one caller frame (dropped while no stream is open). */
  push(frame: AudioFrame): void {
    this.stream?.push(frame);
  }

  /** What the next answer is expected to contain (SttStream.expect); kept for a stream opened later. */
  expect(e: TurnExpectation | undefined): void {
    this.expectation = e;
    this.stream?.expect?.(e);
  }

  /** Asks the provider to finalize what it heard (end of turn decided by our endpointing). */
  flush(): void {
    this.stream?.flush();
  }

  /**
   * At a pause the VAD heard: asks the provider to finalize when that costs nothing but a message
   * (SttStream.finalizesOnly, Deepgram Finalize); otherwise does nothing.
   */
  finalizeAtPause(): void {
    if (this.stream?.finalizesOnly) this.stream.flush();
  }

  close(): void {
    this.closed = true;
    this.stream?.close();
    this.stream = null;
  }

  private async openFirst(candidates: (SttProvider | null | undefined)[]): Promise<boolean> {
    for (const provider of [...new Set(candidates.filter((p): p is SttProvider => !!p))]) {
      if (this.closed) return false;
      try {
        const stream = await provider.open({ callId: this.d.callId, signal: this.d.signal, codec: this.d.codec });
        if (this.closed) {
          stream.close();
          return false;
        }
        this.stream = stream;
        this.provider = provider;
        if (this.expectation) stream.expect?.(this.expectation);
        if (provider !== this.d.stt) {
          this.d.log.warn({ callId: this.d.callId, provider: provider.name }, "stt fallback in use");
          this.d.onFallback(provider);
        }
        void this.read(stream);
        return true;
      } catch (err) {
        this.d.onProviderError?.(err);
        logProviderError(this.d.log, this.d.callId, err, "stt open failed");
      }
    }
    return false;
  }

  private async read(stream: SttStream): Promise<void> {
    let failure: unknown;
    try {
      for await (const ev of stream.events) {
        if (this.closed) return;
        if (ev.type === "final") this.d.onFinal(ev.text, ev.speechFinal, ev.fromFinalize === true);
        else if (ev.type === "utterance_end") this.d.onUtteranceEnd();
        else if (ev.type === "interim") this.d.onInterim?.(ev.text);
        else if (ev.type === "error") throw ev.error;
      }
      return;
    } catch (err) {
      if (this.closed) return;
      failure = err;
      this.d.onProviderError?.(err);
      logProviderError(this.d.log, this.d.callId, err, "stt stream failed");
    }
    // The stream died mid-call (its own reconnects exhausted): open a new one, once per failure.
    if (this.stream !== stream || this.closed) return;
    this.stream = null;
    stream.close();
    const onFallback = this.provider !== this.d.stt;
    if (sttRecovery(failure, { onFallback }) === "none") return this.giveUp(failure);
    const max = this.d.maxRestarts ?? STT_MAX_RESTARTS;
    if (this.restarts >= max) {
      this.d.log.error({ callId: this.d.callId, restarts: this.restarts, provider: this.provider?.name }, "stt keeps failing: giving up on recognition for this call");
      return this.giveUp(failure);
    }
    this.restarts++;
    this.d.log.warn({ callId: this.d.callId, restart: this.restarts, of: max, provider: this.provider?.name }, "stt restarted after a failure");
    const reopened = await this.openFirst(onFallback ? [this.provider] : [this.d.stt, this.d.fallbackStt]);
    if (!reopened && !this.closed) this.giveUp(failure);
  }

  private giveUp(err: unknown): void {
    if (this.gaveUp || this.closed) return;
    this.gaveUp = true;
    this.d.onGiveUp?.(err);
  }
}
