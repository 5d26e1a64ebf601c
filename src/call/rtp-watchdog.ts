/**
 * RTP inactivity (RFC 3550 §6.3.5 treats a participant silent for long as gone; carriers and SBCs end
 * such calls with a "media timeout"): no RTP from the far end for `timeoutMs` — `holdTimeoutMs` while
 * the call is on hold, when the far end may legitimately send nothing (a=inactive) — means the call is
 * dead. Before the far end's first packet, when our RTP goes to an address the signalling did not come
 * from, the shorter `startTimeoutMs` applies (src/rtp/media-consent.ts: such an address has not shown
 * it wants our media; a real peer sends from the answer on). Pure bookkeeping on an injected time; the
 * call's 20 ms tick asks it.
 *
 * "RTP from the far end" is any packet the RTP session accepted (audio, DTMF, comfort noise), so a peer
 * that suppresses silence but sends CN keeps the call alive.
 */
export interface RtpWatchdogOptions {
  /** No RTP for this long (ms) ends the call; 0 disables. RTP_TIMEOUT_S. */
  timeoutMs: number;
  /** The same while on hold (ms); 0 disables. RTP_HOLD_TIMEOUT_S. */
  holdTimeoutMs: number;
  /**
   * Nothing ever received for this long (ms) ends the call, when not on hold; 0 or absent disables
   * (`rearmStart` arms it again, counted from a re-INVITE that moved our RTP).
   * RTP_START_TIMEOUT_S, given only for an unproven media address (media-consent.ts rule 3). Never
   * longer than `timeoutMs` when that is on.
   */
  startTimeoutMs?: number;
}

/** Which limit ran out: `start` (nothing ever received), `silence` (RTP stopped), `hold` (on hold). */
export type RtpTimeoutRule = "start" | "silence" | "hold";

export class RtpWatchdog {
  private lastCount = -1;
  private lastActivityAt: number;
  /** The start rule's limit (ms; 0 = off): the option, or what the last move re-armed. */
  private startMs: number;
  /** Packets accepted when the start rule was armed: it holds while the count has not moved from it. */
  private startBase = 0;

  /** @param startAt when the media started (ms), the start of the first silence. */
  constructor(
    private readonly o: RtpWatchdogOptions,
    startAt: number,
  ) {
    this.lastActivityAt = startAt;
    this.startMs = o.startTimeoutMs ?? 0;
  }

  /**
   * A re-INVITE/UPDATE moved our RTP to another address: media-consent.ts rule 3 again, from `now`.
   * `startMs` > 0 when the new address is not the signalling source (unproven): nothing accepted after
   * `packetsReceived` for that long ends the call (rule `start`); 0 when it is (the old rules only).
   */
  rearmStart(startMs: number, packetsReceived: number, now: number): void {
    this.startMs = startMs;
    this.startBase = packetsReceived;
    this.lastCount = packetsReceived;
    this.lastActivityAt = now;
  }

  /** A hold or resume restarts the count (the far end changes what it sends). */
  reset(now: number): void {
    this.lastActivityAt = now;
  }

  /**
   * @param packetsReceived the RTP session's accepted-packet counter now
   * @param held whether the call is on hold
   * @returns the silence (ms) that exceeded the limit and which limit, or undefined while the call is alive
   */
  check(packetsReceived: number, held: boolean, now: number): { silentMs: number; rule: RtpTimeoutRule } | undefined {
    if (packetsReceived !== this.lastCount) {
      const first = this.lastCount === -1 && packetsReceived === 0; // the first look, not a packet
      this.lastCount = packetsReceived;
      if (!first) this.lastActivityAt = now;
      return undefined;
    }
    const start = this.startMs;
    const rule: RtpTimeoutRule = held ? "hold" : packetsReceived === this.startBase && start > 0 ? "start" : "silence";
    const limit = rule === "hold" ? this.o.holdTimeoutMs : rule === "start" ? (this.o.timeoutMs > 0 ? Math.min(start, this.o.timeoutMs) : start) : this.o.timeoutMs;
    const silentMs = now - this.lastActivityAt;
    return limit > 0 && silentMs >= limit ? { silentMs, rule } : undefined;
  }
}
