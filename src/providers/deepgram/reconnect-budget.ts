/**
 * The reconnect attempts of one Deepgram stream after a dropped or stalled socket: the wait before each
 * attempt (`backoffMs[n]`, its last value repeated; none when empty) and, once `max` attempts in a row
 * have failed, the error that ends the stream. A connection that works (a Results message) resets the
 * count, so a later drop gets the whole budget again.
 *
 *   const budget = new ReconnectBudget(5, [250, 500, 1000], src);
 *   const next = budget.next(lastError);   // { delayMs } to try again, or { error } to give up
 *   budget.reset();                        // the connection works
 */
import type { ErrorSource } from "../errors";
import { ProviderError } from "../types";

export class ReconnectBudget {
  private attempts = 0;

  constructor(
    private readonly max: number,
    private readonly backoffMs: readonly number[],
    private readonly src: ErrorSource,
  ) {}

  /** The connection works again: a later drop starts from the first attempt. */
  reset(): void {
    this.attempts = 0;
  }

  /**
   * After `last` (the drop, or the failed attempt): the delay before the next attempt, ms, or — the
   * budget spent — a retryable "unavailable" ProviderError that names the attempts and carries `last`.
   */
  next(last: ProviderError): { delayMs: number } | { error: ProviderError } {
    const p = this.src.provider;
    if (this.attempts >= this.max) {
      const message = `${p}: connection lost, ${this.attempts} reconnect attempts failed (${last.message})`;
      return { error: new ProviderError(p, "stt", "unavailable", message, true, last.status, { cause: last }) };
    }
    const b = this.backoffMs;
    const delayMs = b.length ? b[Math.min(this.attempts, b.length - 1)]! : 0;
    this.attempts++;
    return { delayMs };
  }
}
