/**
 * The conversation's timers (STYLE habit 3: named methods, cleared on dispose), on the injected Clock:
 *  - idle: silence after the agent finished → "are you still there?" (counted; after the last one the
 *    goodbye);
 *  - max duration: the call's time limit → goodbye and hang-up;
 *  - no words: after a barge-in whose speech brought no words → resume the interrupted reply.
 * `pause()` (call on hold) stops the idle and no-words timers; the max-duration timer keeps running.
 */
import type { Clock, TimerHandle } from "../util/clock";

export interface CallTimerEvents {
  /** The idle time passed; `prompt` is 1 for the first prompt since the caller last spoke. */
  onIdle(prompt: number): void;
  onMaxDuration(): void;
  onNoWords(): void;
}

export class CallTimers {
  private idle: TimerHandle | undefined;
  private max: TimerHandle | undefined;
  private noWords: TimerHandle | undefined;
  private prompts = 0;
  private disposed = false;

  constructor(
    private readonly clock: Clock,
    private readonly idleMs: number,
    private readonly ev: CallTimerEvents,
  ) {}

  /** Starts the call's time limit (ms). */
  startMaxDuration(ms: number): void {
    if (this.disposed) return;
    this.clock.clearTimer(this.max);
    this.max = this.clock.setTimer(ms, () => this.ev.onMaxDuration());
  }

  /** (Re)arms the idle timer: `idleMs` from now. */
  armIdle(): void {
    this.clock.clearTimer(this.idle);
    if (this.disposed) return;
    this.idle = this.clock.setTimer(this.idleMs, () => {
      this.idle = undefined;
      this.ev.onIdle(++this.prompts);
    });
  }

  /** Re-arms the idle timer without counting a prompt (it fired while something else was going on). */
  rearmIdle(): void {
    this.prompts = Math.max(0, this.prompts - 1);
    this.armIdle();
  }

  clearIdle(): void {
    this.clock.clearTimer(this.idle);
    this.idle = undefined;
  }

  /** The caller spoke: the prompt count starts again. */
  callerSpoke(): void {
    this.prompts = 0;
    this.clearIdle();
    this.clearNoWords();
  }

  armNoWords(ms: number): void {
    this.clock.clearTimer(this.noWords);
    if (this.disposed) return;
    this.noWords = this.clock.setTimer(Math.max(0, ms), () => {
      this.noWords = undefined;
      this.ev.onNoWords();
    });
  }

  clearNoWords(): void {
    this.clock.clearTimer(this.noWords);
    this.noWords = undefined;
  }

  /** Call on hold: no idle prompt, no resume timer. */
  pause(): void {
    this.clearIdle();
    this.clearNoWords();
  }

  /** Idle timer armed (for tests and logs). */
  get idleArmed(): boolean {
    return this.idle !== undefined;
  }

  dispose(): void {
    this.disposed = true;
    this.clearIdle();
    this.clearNoWords();
    this.clock.clearTimer(this.max);
  }
}
