/**
 * One Cartesia context = one TtsStream = one turn of the agent
 * (https://docs.cartesia.ai/use-the-api/tts-websocket/contexts).
 *
 * - pushText(chunk): `{ transcript: chunk, continue: true, context_id, … }`. Cartesia concatenates
 *   transcripts as-is, so a space is put between chunks that would otherwise run together
 *   ("Hello." + "How…" → "Hello. How…").
 * - end(): `{ transcript: "", continue: false }` (the documented way to close a context whose last text
 *   was not known in advance); `audio` ends when the server sends `done`.
 * - cancel(): `{ context_id, cancel: true }` and `audio` ends at once (queued audio dropped); late chunks
 *   for the context are ignored.
 * Audio arrives as base64 chunks of pcm_mulaw (or pcm_s16le) at 8000 Hz and is yielded as PCM16.
 * - Audio timeout: when audio is owed (after the first text until the first chunk; after end() between
 *   chunks until `done`) and none arrives for `audioTimeoutMs`, the context is cancelled on the server
 *   and `audio` throws ProviderError "timeout" (retryable), so a stalled synthesis cannot silence a turn.
 */

import { AsyncQueue } from "../../util/async-queue";
import type { Clock, TimerHandle } from "../../util/clock";
import { timeoutError } from "../errors";
import type { ProviderError, TtsStream } from "../types";
import type { CartesiaConnection, ContextSink } from "./connection";
import { cancelRequest, decodeAudio, generationRequest, type ContextParams } from "./messages";
import type { FirstAudioInfo } from "./options";

export type ContextState = "open" | "ending" | "done" | "cancelled" | "failed";

export class CartesiaTtsStream implements TtsStream, ContextSink {
  readonly audio: AsyncQueue<Int16Array>;
  /** Clock ms when the first text was sent / the first audio arrived (undefined until then). */
  firstTextAt: number | undefined;
  firstAudioAt: number | undefined;
  /** Bytes of audio received (wire encoding). */
  bytesReceived = 0;
  private st: ContextState = "open";
  private sentAny = false;
  private lastEndsWithSpace = true;
  private readonly carry = { byte: null as number | null };
  private audioTimer: TimerHandle | undefined;
  /**
   * Clock ms by which audio is owed (undefined: none owed). Moved per chunk without touching the timer,
   * which, when it fires early, waits on for the rest (a timer re-armed per chunk was ~1 % of the call
   * thread with 200 calls talking: issue 13).
   */
  private audioDeadline: number | undefined;
  private readonly onAbort = (): void => this.cancel();

  constructor(
    private readonly conn: CartesiaConnection,
    private readonly params: ContextParams,
    private readonly callId: string,
    private readonly clock: Clock,
    private readonly signal: AbortSignal,
    queueCapacity: number,
    private readonly onFirstAudio?: (info: FirstAudioInfo) => void,
    /** See CartesiaOptions.audioTimeoutMs; 0 = never. */
    private readonly audioTimeoutMs = 0,
  ) {
    this.audio = new AsyncQueue<Int16Array>(queueCapacity);
    conn.register(this);
    if (signal.aborted) this.cancel();
    else signal.addEventListener("abort", this.onAbort, { once: true });
  }

  get contextId(): string {
    return this.params.contextId;
  }
  get state(): ContextState {
    return this.st;
  }
  /** firstAudioAt − firstTextAt in ms, once known. */
  get timeToFirstAudioMs(): number | undefined {
    return this.firstAudioAt !== undefined && this.firstTextAt !== undefined ? this.firstAudioAt - this.firstTextAt : undefined;
  }

  pushText(text: string): void {
    if (this.st !== "open" || text.length === 0) return;
    let t = text;
    if (!this.lastEndsWithSpace && !/^\s/.test(t)) t = ` ${t}`;
    this.lastEndsWithSpace = /\s$/.test(t);
    if (this.firstTextAt === undefined) this.firstTextAt = this.clock.now();
    this.conn.send(generationRequest(this.params, t, true));
    this.sentAny = true;
    if (this.firstAudioAt === undefined && this.audioDeadline === undefined) this.armAudioTimer();
  }

  end(): void {
    if (this.st !== "open") return;
    if (!this.sentAny) {
      this.finish("done"); // nothing to say
      return;
    }
    this.st = "ending";
    this.conn.send(generationRequest(this.params, "", false));
    this.armAudioTimer();
  }

  cancel(): void {
    if (this.st === "done" || this.st === "cancelled" || this.st === "failed") return;
    // While the socket is still connecting nothing has reached Cartesia: dropping the queue is the cancel.
    if (this.conn.state === "connecting") this.conn.dropQueued(this.contextId);
    else if (this.sentAny) this.conn.send(cancelRequest(this.contextId));
    this.audio.clear();
    this.finish("cancelled");
  }

  // ---------------------------------------------------------------- ContextSink (from the connection)

  onChunk(data: Uint8Array): void {
    if (this.st !== "open" && this.st !== "ending") return;
    if (this.firstAudioAt === undefined) {
      this.firstAudioAt = this.clock.now();
      const firstTextAt = this.firstTextAt ?? this.firstAudioAt;
      this.onFirstAudio?.({
        callId: this.callId,
        contextId: this.contextId,
        firstTextAt,
        firstAudioAt: this.firstAudioAt,
        latencyMs: this.firstAudioAt - firstTextAt,
      });
    }
    this.bytesReceived += data.length;
    // Audio is flowing: while more text may come, a pause is not judged; after end() it is.
    if (this.st === "ending") this.armAudioTimer();
    else this.clearAudioTimer();
    const pcm = decodeAudio(this.params.encoding, data, this.carry);
    if (pcm.length > 0) this.audio.push(pcm);
  }

  onDone(): void {
    if (this.st === "open" || this.st === "ending") this.finish("done");
  }

  onError(err: ProviderError): void {
    if (this.st !== "open" && this.st !== "ending") return;
    this.st = "failed";
    this.detach();
    this.audio.fail(err);
  }

  private finish(st: "done" | "cancelled"): void {
    this.st = st;
    this.detach();
    this.audio.close();
  }

  private detach(): void {
    this.stopAudioTimer();
    this.signal.removeEventListener("abort", this.onAbort);
    this.conn.unregister(this.contextId);
  }

  private armAudioTimer(): void {
    if (this.audioTimeoutMs <= 0) return;
    this.audioDeadline = this.clock.now() + this.audioTimeoutMs;
    if (this.audioTimer === undefined) this.startAudioTimer(this.audioTimeoutMs);
  }

  private startAudioTimer(ms: number): void {
    this.audioTimer = this.clock.setTimer(ms, () => {
      this.audioTimer = undefined;
      if (this.st !== "open" && this.st !== "ending") return;
      const deadline = this.audioDeadline;
      if (deadline === undefined) return; // no audio owed any more
      const left = deadline - this.clock.now();
      if (left > 0) return this.startAudioTimer(left); // audio came meanwhile: the deadline moved on
      this.audioDeadline = undefined;
      // Stop the server generating audio nobody awaits (nothing reached it yet while connecting).
      if (this.conn.state === "connecting") this.conn.dropQueued(this.contextId);
      else this.conn.send(cancelRequest(this.contextId));
      this.onError(timeoutError({ provider: "cartesia", kind: "tts" }, "no audio", this.audioTimeoutMs));
    });
  }

  /** No audio owed for now; the timer, if running, finds no deadline and stops (detach() clears it). */
  private clearAudioTimer(): void {
    this.audioDeadline = undefined;
  }

  private stopAudioTimer(): void {
    this.audioDeadline = undefined;
    if (this.audioTimer === undefined) return;
    this.clock.clearTimer(this.audioTimer);
    this.audioTimer = undefined;
  }
}
