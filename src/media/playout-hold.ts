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
 */

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

  /** @param allowanceMs PLAYOUT_HOLD_MS by default; 0: never hold. */
  constructor(readonly allowanceMs = PLAYOUT_HOLD_MS) {}

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
    } else if (now - this.since >= this.allowanceMs) return false;
    this.owed++;
    return true;
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
  }
}
