/**
 * The hold: how long an outgoing talkspurt waits for a reply's audio still arriving instead of sending
 * a silence frame (src/media/playout.ts in the call's thread; src/rtp/worker/worker-stream.ts under the
 * media worker).
 *
 * A tick that finds nothing to send inside a talkspurt whose reply is still being captured (its output
 * segment open: the next audio is on its way from TTS) sends nothing yet and owes its frame. Audio that
 * arrives meanwhile goes out at once, owed frames first, back to back: each is late by its wait but
 * carries the timestamp it would have had (RFC 3550 §5.1: "The timestamp reflects the sampling instant
 * of the first octet in the RTP data packet"; the sender numbers frames, not the clock), so a receiver's
 * jitter buffer plays it on time, and the frames after it are on time again. A silence frame sent in its
 * place is played as 20 ms of silence inside the reply — a receiver cannot tell it from our audio.
 * Past the allowance (nothing within PLAYOUT_HOLD_MS), every owed tick goes out as silence at once, so
 * the timestamp keeps its step with the clock, and the audio that comes later starts a new talkspurt
 * (marker bit, RFC 3551 §4.1) where the receiver re-anchors its playout.
 *
 * Why: at bench:load's 100–200 calls every silence frame inside a reply sat at a sentence boundary —
 * the first chunk of the next sentence's TTS audio reaching the call 0–37 ms after the tick that needed
 * it (issue 13).
 *
 * A late thread (a GC pause, a long task: the pacer then runs the missed ticks back to back) spends the
 * allowance in one go while the TTS audio it waits for sits unread in its socket. So with a `lapse` the
 * allowance's end is judged once more after the thread's next socket poll (util/after-io-poll.ts, as for
 * the caller's missing RTP): the ticks meanwhile keep waiting, audio read in that poll pays them, and only
 * what is still owed then goes out as silence. Measured at bench:load's 200 calls (6 Dec 2026, capture):
 * every silence frame inside a reply (3 and 35 in two rows) came 3–4 frames after a 50–60 ms stall of the
 * whole call thread, across ~10 calls at the same instant.
 */
import type { AfterIoPoll } from "../util/after-io-poll.ts";

/**
 * The hold's allowance, ms: two frames. A receiver's jitter buffer (phones and carriers: 40–60 ms,
 * adaptive) still plays a frame that late; the next sentence's first audio reached the call up to 37 ms
 * late at bench:load's 150 calls. Bounded: a stalled TTS costs at most this before silence goes out.
 */
export const PLAYOUT_HOLD_MS = 40;
/** PLAYOUT_HOLD_MS in 20 ms ticks (the call thread's playout holds whole ticks). */
export const PLAYOUT_HOLD_FRAMES = PLAYOUT_HOLD_MS / 20;

/** Process-wide, the call thread's playouts: ticks held (`held`), held ticks sent as silence after all (`held_silence`). */
export const playoutHoldTotals = { held: 0, held_silence: 0 };

/**
 * The hold's bookkeeping, the one implementation both senders use (Playout in the call thread, counting
 * its own 20 ms ticks as time; WorkerStream under the media worker, on its clock): which ticks are owed,
 * since when, and whether one more may wait. Each sender decides when a tick may wait at all (a
 * talkspurt whose reply is still arriving) and how it sends; this decides how long, and pays in order.
 */
export class TalkspurtHold {
  /** Ticks held, each owing a frame. */
  owed = 0;
  /** When the first of them was due, ms (the owner's time). */
  private since = 0;
  /** Holds started so far: a lapse deferred by one hold does not act on the next. */
  private run = 0;
  /** A lapse waits for the next socket poll. */
  private lapsing = false;

  /**
   * @param allowanceMs PLAYOUT_HOLD_MS by default; 0: never hold.
   * @param lapse past the allowance, wait for `gate`'s next socket poll, then `pay` is the owner's
   *   (`onLapse`: it pays what is still owed, as silence). Without it the allowance ends on the tick.
   */
  constructor(
    readonly allowanceMs = PLAYOUT_HOLD_MS,
    private readonly lapse?: { gate: AfterIoPoll; onLapse: () => void },
  ) {}

  get held(): boolean {
    return this.owed > 0;
  }

  /**
   * A tick due at `now` (ms) found nothing to send inside a talkspurt still arriving: it waits (true,
   * owed) while `now` is within the allowance of the first owed tick; false: past it (or no allowance),
   * the owner pays what is owed (`pay`) and sends this tick as usual.
   */
  hold(now: number): boolean {
    if (this.owed === 0) {
      if (this.allowanceMs <= 0) return false;
      this.since = now;
      this.run++;
    } else if (now - this.since >= this.allowanceMs) {
      if (!this.lapse) return false;
      if (!this.lapsing) {
        this.lapsing = true;
        const run = this.run;
        this.lapse.gate.defer(() => this.polled(run));
      }
    }
    this.owed++;
    return true;
  }

  /** After the socket poll a lapse waited for: what audio did not pay is the owner's to pay as silence. */
  private polled(run: number): void {
    this.lapsing = false;
    if (run === this.run && this.owed > 0) this.lapse!.onLapse();
  }

  /**
   * Pays the owed ticks in order, one `send()` each, while `more()` says there is something to send
   * (default: every owed tick). What `send` sends — a late frame, or silence past the allowance — is the
   * owner's; the ticks left owed keep waiting.
   */
  pay(send: () => void, more: () => boolean = () => true): void {
    while (this.owed > 0 && more()) {
      this.owed--; // before sending: a listener the send wakes sees what is still owed
      send();
    }
  }

  /** Drops the owed ticks unsent (the stream stops being paced). */
  drop(): void {
    this.owed = 0;
    this.run++;
  }
}
