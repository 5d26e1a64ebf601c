/**
 * The conversation's timers (STYLE habit 3: named methods, cleared on dispose), on the injected Clock:
 *  - idle: silence after the agent finished → "are you still there?" (counted; after the last one the
 *    goodbye); `IDLE_PREPARE_MS` before it, `onIdleSoon` so the prompt can be rendered in time;
 *  - max duration: the call's time limit → goodbye and hang-up;
 *  - no words: after a barge-in whose speech brought no words → resume the interrupted reply.
 * `pause()` (call on hold) stops the idle and no-words timers; the max-duration timer keeps running.
 */
import type { Clock, TimerHandle } from "../util/clock";

export interface CallTimerEvents {
  /** The idle time passed; `prompt` is 1 for the first prompt since the caller last spoke. */
  onIdle(prompt: number): void;
  /** `IDLE_PREPARE_MS` before `onIdle(prompt)` is due (at once for an idle time shorter than that). */
  onIdleSoon?(prompt: number): void;
  onMaxDuration(): void;
  onNoWords(): void;
}

/**
 * How long before the idle prompt is due its audio starts rendering, ms: above the synthesis time of a
 * prompt on a busy machine (flite in a worker, a Cartesia first chunk: 0.1–1 s), short enough that the
 * caller rarely speaks in it (the rendering is then thrown away).
 */
export const IDLE_PREPARE_MS = 1500;

export class CallTimers {
  private idle: TimerHandle | undefined;
  private idleSoon: TimerHandle | undefined;
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
    this.clearIdle();
    if (this.disposed) return;
    if (this.ev.onIdleSoon) {
      this.idleSoon = this.clock.setTimer(Math.max(0, this.idleMs - IDLE_PREPARE_MS), () => {
        this.idleSoon = undefined;
        this.ev.onIdleSoon?.(this.prompts + 1);
      });
    }
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
    this.clock.clearTimer(this.idleSoon);
    this.idle = this.idleSoon = undefined;
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
