/**
 * A caller who sends no RTP for a while (silence suppression: RFC 3551 §4.1 lets a sender stop during
 * silence, and RFC 3389 comfort noise is optional; a stalled stream): the conversation gets a silence
 * frame per pacer tick in its place, so the VAD and endpointing still see time pass and the turn ends.
 *
 * "No RTP for MISSING_MEDIA_MS" is judged on the pacer tick, but a late-running thread has not read
 * its sockets: the caller's frames can be waiting in the kernel's buffer. Filled anyway, the
 * conversation got a silence frame *and* then the real frames (a gap inserted into the caller's speech,
 * more audio than time for VAD and STT). Measured at bench:load's 200 calls (6 Dec 2026, profile of a
 * row in the overloaded state): the fill ran for most calls at once on late ticks — 4.4 % of the call
 * thread's samples, 21 % on top of the real frames' own processing — and the replies abandoned and cut
 * by "the caller went on" came in those same seconds. So the fill is only decided on the tick and taken
 * after the thread's next socket poll (util/after-io-poll.ts) and after every datagram the poll queued
 * past the turn's receive budget was handled (receive-budget.ts): frames that were waiting withdraw it
 * (counted), a caller really silent still gets it, one poll later (well under a ms when idle).
 *
 *   const m = new MissingMedia({ clock, fill: () => conversation.onAudioFrame(silence) });
 *   m.heard(now);   // each caller frame
 *   m.tick(now);    // each pacer tick (not while held or bridged)
 */
import { afterIoPoll, type AfterIoPoll } from "../util/after-io-poll";
import type { Clock } from "../util/clock";
import { FRAME_MS } from "./pacer";
import { rtpReceiveBudget } from "./receive-budget";

/** No caller RTP for this long (ms) and the conversation gets silence frames in its place. */
export const MISSING_MEDIA_MS = 60;

/** Process totals (voice_agent_missing_media_frames_total): silence frames filled in, fills withdrawn because frames came. */
export const missingMediaTotals = { filled: 0, withdrawn: 0 };

export interface MissingMediaOptions {
  clock: Clock;
  /** Hands one silence frame to the conversation (its errors are the caller's to catch). */
  fill: () => void;
  /** The media worker heard the caller within `ms` (frames still on their way to this thread). */
  heardElsewhere?: (ms: number) => boolean;
  /** May the fill still run (the call not closed, held or bridged meanwhile)? Default: always. */
  active?: () => boolean;
  /** Default: the thread's `afterIoPoll`, then the RTP receive queue drained up to then (receive-budget.ts). */
  gate?: AfterIoPoll;
}

export class MissingMedia {
  /** The last caller frame (or start of the count), clock ms. */
  private lastAt = 0;
  private queued = false;
  private readonly gate: AfterIoPoll;
  /** What the gate runs: the check, after the receive queue (default gate) or at once (a given gate). */
  private readonly gated: () => void;

  constructor(private readonly o: MissingMediaOptions) {
    this.gate = o.gate ?? afterIoPoll;
    this.gated = o.gate ? this.check : () => rtpReceiveBudget.whenDrained(this.check);
  }

  /** A caller frame arrived at `now` (clock ms), or the count starts there (the call started or resumed). */
  heard(now: number): void {
    this.lastAt = now;
  }

  /**
   * A pacer tick: after MISSING_MEDIA_MS without a frame, a fill is decided after the next socket poll.
   * `tickAt`: the pacer's clock reading for its run (may be a few ms old, pacer-schedule.ts); only within
   * a frame of the limit is the clock read afresh and judged by it (a caller sending RTP: no read).
   */
  tick(tickAt: number): void {
    if (this.queued || tickAt - this.lastAt < MISSING_MEDIA_MS - FRAME_MS) return;
    const now = this.o.clock.now();
    if (now - this.lastAt < MISSING_MEDIA_MS || this.o.heardElsewhere?.(MISSING_MEDIA_MS)) return;
    this.queued = true;
    this.gate.defer(this.gated);
  }

  private readonly check = (): void => {
    this.queued = false;
    if (this.o.active && !this.o.active()) return;
    const now = this.o.clock.now();
    if (now - this.lastAt < MISSING_MEDIA_MS || this.o.heardElsewhere?.(MISSING_MEDIA_MS)) {
      missingMediaTotals.withdrawn++;
      return;
    }
    // One frame per tick from here on: the next tick finds the line silent again.
    this.lastAt = now - MISSING_MEDIA_MS + FRAME_MS;
    missingMediaTotals.filled++;
    this.o.fill();
  };
}
