/**
 * The process-wide 20 ms clock for outgoing RTP. Create ONE per process and `add` every call's playout
 * to it; all calls send in the same tick.
 *
 * Deadlines are absolute: tick n is due at `t0 + n·frameMs` on the injected monotonic Clock (t0 = when
 * the first source was added). Each timer is armed for `deadline − clock.now()`, so timer error never
 * accumulates (no drift); `setInterval` is never used (it drifts, see FACTS.md).
 *
 * Lateness rule, when a timer fires `late` ms after the deadline of tick n:
 *  - fired early (before the deadline, possible with ms-rounded timers) → re-armed, no tick;
 *  - `late < (maxCatchUpFrames + 1)·frameMs` → catch up: every deadline already passed is ticked
 *    back-to-back (so no frame is lost; the receiver's jitter buffer absorbs the burst), counted in
 *    `catchUpTicks`;
 *  - later than that → skip ahead: the missed deadlines are dropped (`skippedTicks += missed`), one
 *    tick runs for the most recent deadline, and the schedule continues from there. Sources are not
 *    told: no audio is lost, the RTP timestamps continue without a jump, and the receiver sees one
 *    pause in arrivals instead of a burst of up to `missed` frames.
 * Lateness (ms after its own deadline) of every tick that runs goes to `lateness` and `onLateness`.
 *
 * The timer runs only while at least one source is registered.
 */
import type { Clock, TimerHandle } from "../util/clock.ts";
import { LatenessHistogram } from "./lateness-histogram.ts";

/** Frame period, ms (RFC 3551 §4.2: "the default packetization interval SHOULD have a duration of 20 ms"). */
export const FRAME_MS = 20;

/** Something that sends one frame per tick (a call's Playout). */
export interface PacerSource {
  onTick(): void;
}

export interface PacerOptions {
  clock: Clock;
  /** Period, ms; default 20. */
  frameMs?: number;
  /** Missed deadlines that are still caught up by a burst; more → skip ahead. Default 3. */
  maxCatchUpFrames?: number;
  /** Called with each tick's lateness in ms (for a metrics histogram). */
  onLateness?: (ms: number) => void;
  /** A source's `onTick` threw; the pacer keeps going. Default: ignored (counted in `errors`). */
  onError?: (err: unknown, source: PacerSource) => void;
}

export class Pacer {
  private readonly clock: Clock;
  private readonly frameMs: number;
  private readonly maxCatchUp: number;
  private readonly onLateness?: (ms: number) => void;
  private readonly onError?: (err: unknown, source: PacerSource) => void;
  private readonly sources = new Set<PacerSource>();
  private timer: TimerHandle | undefined;
  private t0 = 0;
  private n = 0;
  private firing = false;

  /** Ticks run (each tick calls every source once). */
  ticks = 0;
  /** Ticks run back-to-back to catch up a late timer. */
  catchUpTicks = 0;
  /** Deadlines dropped by the skip-ahead rule. */
  skippedTicks = 0;
  /** Exceptions thrown by sources. */
  errors = 0;
  /** Lateness of every tick run, ms. */
  readonly lateness = new LatenessHistogram();

  constructor(opts: PacerOptions) {
    this.clock = opts.clock;
    this.frameMs = opts.frameMs ?? FRAME_MS;
    this.maxCatchUp = opts.maxCatchUpFrames ?? 3;
    this.onLateness = opts.onLateness;
    this.onError = opts.onError;
  }

  /** Registers a source; it gets its first tick at the next deadline. Starts the clock if idle. */
  add(source: PacerSource): void {
    this.sources.add(source);
    // Inside a tick the schedule is still live: fire() re-arms it.
    if (this.timer === undefined && !this.firing) {
      this.t0 = this.clock.now();
      this.n = 1;
      this.arm();
    }
  }

  /** Unregisters a source (safe inside its own onTick). Stops the timer when none is left. */
  remove(source: PacerSource): void {
    this.sources.delete(source);
    if (this.sources.size === 0) this.stop();
  }

  /** Number of registered sources. */
  get size(): number {
    return this.sources.size;
  }

  /** True while the timer runs. */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Deadline (clock ms) of the next tick. */
  get nextDeadline(): number {
    return this.t0 + this.n * this.frameMs;
  }

  /** Removes every source and stops. */
  stop(): void {
    this.sources.clear();
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = this.clock.setTimer(Math.max(0, this.nextDeadline - this.clock.now()), () => this.fire());
  }

  private fire(): void {
    this.timer = undefined;
    this.firing = true;
    try {
      this.runDue();
    } finally {
      this.firing = false;
    }
    if (this.sources.size > 0 && this.timer === undefined) this.arm();
  }

  private runDue(): void {
    const now = this.clock.now();
    const late = now - this.nextDeadline;
    if (late < 0) return; // early: fire() re-arms for the same deadline
    const missed = Math.floor(late / this.frameMs); // deadlines after n that have also passed
    if (missed > this.maxCatchUp) {
      this.n += missed;
      this.skippedTicks += missed;
      this.tick(now);
    } else {
      for (let i = 0; i <= missed; i++) {
        if (i > 0) this.catchUpTicks++;
        this.tick(now);
        if (this.sources.size === 0) break;
      }
    }
  }

  private tick(now: number): void {
    const lateMs = now - this.nextDeadline;
    this.n++;
    this.ticks++;
    this.lateness.record(lateMs);
    this.onLateness?.(lateMs);
    for (const s of [...this.sources]) {
      if (!this.sources.has(s)) continue;
      try {
        s.onTick();
      } catch (err) {
        this.errors++;
        this.onError?.(err, s);
      }
    }
  }
}
