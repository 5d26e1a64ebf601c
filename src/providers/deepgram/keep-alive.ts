/**
 * Deepgram's keep-alive for one live stream: `{"type":"KeepAlive"}` once `intervalMs` has passed with
 * nothing sent (https://developers.deepgram.com/docs/audio-keep-alive: the server closes an idle stream
 * with NET-0001 after 10 s). One timer, re-armed for the time still left since the last send; it stops
 * by itself when the stream is not open (re-armed by `arm()` after a reconnect).
 *
 *   const ka = new KeepAlive(clock, 5000, () => state === "open", () => sendText(KEEP_ALIVE));
 *   ka.sent();     // on every message sent (audio or text)
 *   ka.arm();      // once the socket is open
 *   ka.stop();     // dropped, ending or closed
 */
import type { Clock, TimerHandle } from "../../util/clock";

export class KeepAlive {
  private timer: TimerHandle | undefined;
  /** When anything was last sent, clock ms. */
  private lastSendAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly isOpen: () => boolean,
    private readonly sendKeepAlive: () => void,
  ) {
    this.lastSendAt = clock.now();
  }

  /** Something went out on the socket now. */
  sent(): void {
    this.lastSendAt = this.clock.now();
  }

  /** (Re)starts the timer for what is left of `intervalMs` since the last send (at least 1 ms). */
  arm(): void {
    const c = this.clock;
    c.clearTimer(this.timer);
    const due = Math.max(1, this.intervalMs - (c.now() - this.lastSendAt));
    this.timer = c.setTimer(due, () => {
      if (!this.isOpen()) return;
      if (c.now() - this.lastSendAt >= this.intervalMs) this.sendKeepAlive();
      this.arm();
    });
  }

  stop(): void {
    this.clock.clearTimer(this.timer);
  }
}
