/**
 * A sliding one-minute window of call starts: at most `perMinute` starts in any 60 s. Time from an
 * injected `Clock` (ms), so tests move it exactly.
 */
import type { Clock } from "../util/clock";

/** Window length, ms. */
export const RATE_WINDOW_MS = 60_000;

export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

export class SlidingWindowLimiter {
  /** Start times (ms, clock time) inside the window, oldest first. At most `perMinute` entries. */
  private readonly starts: number[] = [];

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
  ) {}

  /** Takes one slot if the window has room; otherwise says how long until the oldest start leaves it. */
  tryAcquire(): RateDecision {
    const now = this.clock.now();
    while (this.starts.length > 0 && this.starts[0]! <= now - RATE_WINDOW_MS) this.starts.shift();
    if (this.starts.length >= this.perMinute) {
      return { ok: false, retryAfterMs: Math.max(1, Math.ceil(this.starts[0]! + RATE_WINDOW_MS - now)) };
    }
    this.starts.push(now);
    return { ok: true };
  }

  /** Starts counted in the current window. */
  get used(): number {
    const now = this.clock.now();
    return this.starts.filter((t) => t > now - RATE_WINDOW_MS).length;
  }
}
