/**
 * Bounds an SDK's streaming call by our AbortSignal and an idle timeout, so `generate()` stops at once
 * when asked (STYLE habit 6) even while the SDK is blocked reading a slow body. Shared by the Gemini and
 * OpenAI-compatible providers.
 *
 * `signal` is handed to the SDK (it aborts the HTTP request); `race(p)` settles as soon as `p` settles,
 * or rejects with ProviderError "aborted" (caller's signal) / "timeout" (no chunk for `idleTimeoutMs`).
 */

import type { Clock, TimerHandle } from "../../util/clock";
import { abortedError, timeoutError, type ErrorSource } from "../errors";
import type { ProviderError } from "../types";

export class StreamGuard {
  private readonly ctl = new AbortController();
  private timer: TimerHandle | undefined;
  private stopReason: ProviderError | null = null;
  private rejectStop: ((e: ProviderError) => void) | null = null;
  private readonly stopped: Promise<never>;
  private readonly onAbort = (): void => this.stop(abortedError(this.src));

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
    if (caller.aborted) this.stop(abortedError(src));
    else caller.addEventListener("abort", this.onAbort, { once: true });
    this.bump();
  }

  /** Aborts on our signal or on the idle timeout; give it to the SDK. */
  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  /** Why the guard stopped the stream (aborted/timeout), or null. */
  get reason(): ProviderError | null {
    return this.stopReason;
  }

  /** Restarts the idle timer (call after every chunk). */
  bump(): void {
    this.clock.clearTimer(this.timer);
    if (this.stopReason) return;
    this.timer = this.clock.setTimer(this.idleTimeoutMs, () =>
      this.stop(timeoutError(this.src, "no response chunk", this.idleTimeoutMs)),
    );
  }

  /** `p`, unless the guard stops first (then rejects with the stop reason). */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.stopReason) {
      p.catch(() => undefined);
      return Promise.reject(this.stopReason);
    }
    return Promise.race([p, this.stopped]);
  }

  /** Clears the timer, detaches from the caller's signal and aborts the request if still running. */
  dispose(): void {
    this.clock.clearTimer(this.timer);
    this.caller.removeEventListener("abort", this.onAbort);
    if (!this.ctl.signal.aborted) this.ctl.abort();
  }

  private stop(e: ProviderError): void {
    if (this.stopReason) return;
    this.stopReason = e;
    this.clock.clearTimer(this.timer);
    this.rejectStop?.(e);
    this.ctl.abort(e);
  }
}
