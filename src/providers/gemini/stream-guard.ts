/**
 * Bounds an SDK's streaming call by our AbortSignal and an idle timeout, so `generate()` stops at once
 * when asked (STYLE habit 6) even while the SDK is blocked reading a slow body. Shared by the Gemini and
 * OpenAI-compatible providers.
 *
 * `signal` is handed to the SDK (it aborts the HTTP request); `race(p)` settles as soon as `p` settles,
 * or rejects with ProviderError "aborted" (caller's signal) / "timeout" (no chunk for `idleTimeoutMs`).
 *
 * Per chunk the guard only notes the time (`bump`): one idle timer runs per request, and when it fires
 * before the idle time has passed since the last chunk it is armed again for the rest (a timer cleared
 * and set per chunk showed in the CPU profile of a streamed request, issue 13).
 */

import type { Clock, TimerHandle } from "../../util/clock";
import { abortedError, timeoutError, type ErrorSource } from "../errors";
import type { ProviderError } from "../types";

export class StreamGuard {
  private readonly ctl = new AbortController();
  private timer: TimerHandle | undefined;
  /** Clock time of the last chunk (or of the start), ms. */
  private lastChunkAt: number;
  private ended = false;
  private stopReason: ProviderError | null = null;
  private rejectStop: ((e: ProviderError) => void) | null = null;
  private readonly stopped: Promise<never>;
  private readonly onAbort = (): void => this.stop(abortedError(this.src));
  private readonly onIdleTimer = (): void => {
    this.timer = undefined;
    if (this.stopReason || this.ended) return;
    const idle = this.clock.now() - this.lastChunkAt;
    if (idle >= this.idleTimeoutMs) this.stop(timeoutError(this.src, "no response chunk", this.idleTimeoutMs));
    else this.timer = this.clock.setTimer(this.idleTimeoutMs - idle, this.onIdleTimer);
  };

  constructor(
    private readonly caller: AbortSignal,
    private readonly clock: Clock,
    private readonly idleTimeoutMs: number,
    private readonly src: ErrorSource,
  ) {
    this.stopped = new Promise<never>((_, reject) => {
      this.rejectStop = reject;
    });
    this.stopped.catch(() => undefined); // observed through race(); never an unhandled rejection
    this.lastChunkAt = clock.now();
    if (caller.aborted) this.stop(abortedError(src));
    else {
      caller.addEventListener("abort", this.onAbort, { once: true });
      this.timer = clock.setTimer(idleTimeoutMs, this.onIdleTimer);
    }
  }

  /** Aborts on our signal or on the idle timeout; give it to the SDK. */
  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  /** Why the guard stopped the stream (aborted/timeout), or null. */
  get reason(): ProviderError | null {
    return this.stopReason;
  }

  /** A chunk arrived: the idle time counts from now (call after every chunk). */
  bump(): void {
    this.lastChunkAt = this.clock.now();
  }

  /** `p`, unless the guard stops first (then rejects with the stop reason). */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.stopReason) {
      p.catch(() => undefined);
      return Promise.reject(this.stopReason);
    }
    return Promise.race([p, this.stopped]);
  }

  /**
   * The response was read to its end: no request is left to abort. `dispose()` then skips the abort,
   * which on a finished fetch still built a DOMException and ran the SDK's listener chain (2.7 % of a
   * streamed request's CPU samples against the Gemini fake, issue 13).
   */
  finished(): void {
    this.ended = true;
  }

  /** Clears the timer, detaches from the caller's signal and aborts the request if still running. */
  dispose(): void {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.caller.removeEventListener("abort", this.onAbort);
    if (!this.ended && !this.ctl.signal.aborted) this.ctl.abort();
  }

  private stop(e: ProviderError): void {
    if (this.stopReason) return;
    this.stopReason = e;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.rejectStop?.(e);
    this.ctl.abort(e);
  }
}
