/**
 * RTP inactivity (RFC 3550 §6.3.5 treats a participant silent for long as gone; carriers and SBCs end
 * such calls with a "media timeout"): no RTP from the far end for `timeoutMs` — `holdTimeoutMs` while
 * the call is on hold, when the far end may legitimately send nothing (a=inactive) — means the call is
 * dead. Pure bookkeeping on an injected time; the call's 20 ms tick asks it.
 *
 * "RTP from the far end" is any packet the RTP session accepted (audio, DTMF, comfort noise), so a peer
 * that suppresses silence but sends CN keeps the call alive.
 */
export interface RtpWatchdogOptions {
  /** No RTP for this long (ms) ends the call; 0 disables. RTP_TIMEOUT_S. */
  timeoutMs: number;
  /** The same while on hold (ms); 0 disables. RTP_HOLD_TIMEOUT_S. */
  holdTimeoutMs: number;
}

export class RtpWatchdog {
  private lastCount = -1;
  private lastActivityAt: number;

  /** @param startAt when the media started (ms), the start of the first silence. */
  constructor(
    private readonly o: RtpWatchdogOptions,
    startAt: number,
  ) {
    this.lastActivityAt = startAt;
  }

  /** A hold or resume restarts the count (the far end changes what it sends). */
  reset(now: number): void {
    this.lastActivityAt = now;
  }

  /**
   * @param packetsReceived the RTP session's accepted-packet counter now
   * @param held whether the call is on hold
   * @returns the silence (ms) that exceeded the limit, or undefined while the call is alive
   */
  check(packetsReceived: number, held: boolean, now: number): number | undefined {
    if (packetsReceived !== this.lastCount) {
      this.lastCount = packetsReceived;
      this.lastActivityAt = now;
      return undefined;
    }
    const limit = held ? this.o.holdTimeoutMs : this.o.timeoutMs;
    const silent = now - this.lastActivityAt;
    return limit > 0 && silent >= limit ? silent : undefined;
  }
}
