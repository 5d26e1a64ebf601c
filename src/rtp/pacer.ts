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
 *
 * A talkspurt that starts between two ticks (`startNow`): the source is ticked at once and keeps its
 * own 20 ms schedule from that packet (deadlines `now + n·frameMs`, the same lateness rule), so the
 * first packet of a reply does not wait up to 20 ms for the shared tick and the packets after it are
 * still spaced by one frame on the wire. `rejoin` puts it back on the shared schedule from the first
 * shared deadline at least one frame after its last own deadline. Each packet still advances the RTP
 * timestamp by one frame's samples (RFC 3550 §5.1: "The timestamp reflects the sampling instant of the
 * first octet in the RTP data packet"); the early start moves the stream ahead of the shared schedule by
 * less than a frame and the longer gap at the rejoin takes exactly that back, so the timestamp keeps
 * its relation to the wall clock across any number of talkspurts. The first packet of a talkspurt
 * carries the marker bit (RFC 3551 §4.1), which lets the receiver re-anchor its playout there.
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

/** A source on its own schedule (`startNow`): deadlines `t0 + n·frameMs`. */
interface OwnSchedule {
  t0: number;
  n: number;
  timer: TimerHandle | undefined;
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
  /** Sources ticked on their own schedule (`startNow`), not by the shared one. */
  private readonly own = new Map<PacerSource, OwnSchedule>();
  /**
   * Sources back from their own schedule (`rejoin`) until their first shared tick, with the schedule
   * they left: no shared deadline before its next own deadline ticks them.
   */
  private readonly rejoining = new Map<PacerSource, OwnSchedule>();

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
    this.clock.clearTimer(this.own.get(source)?.timer);
    this.own.delete(source);
    this.rejoining.delete(source);
    if (this.sources.size === 0) this.stop();
  }

  /**
   * Ticks `source` now and from now on every `frameMs` on its own schedule, until `rejoin` (see the
   * file comment). Does nothing for a source not registered, and for one already on its own schedule
   * (a pending rejoin is cancelled instead: its schedule ticks it within one frame anyway).
   */
  startNow(source: PacerSource): void {
    if (!this.sources.has(source) || this.own.has(source)) return;
    const left = this.rejoining.get(source);
    this.rejoining.delete(source);
    if (left && this.clock.now() < this.ownDeadline(left)) {
      // Less than a frame since its last packet: it goes on with the schedule it left (no packet now).
      this.own.set(source, left);
      this.armOwn(source, left);
      return;
    }
    const sched: OwnSchedule = { t0: this.clock.now(), n: 1, timer: undefined };
    this.own.set(source, sched);
    this.runSource(source);
    if (this.own.get(source) === sched) this.armOwn(source, sched);
  }

  /**
   * Puts a source on its own schedule back on the shared one: its next tick is the first shared
   * deadline at least one frame after its last own deadline. Safe inside its own onTick.
   */
  rejoin(source: PacerSource): void {
    const sched = this.own.get(source);
    if (!sched) return;
    this.clock.clearTimer(sched.timer);
    sched.timer = undefined;
    this.own.delete(source);
    this.rejoining.set(source, sched);
  }

  /** True while `source` runs on its own schedule. */
  isOwnSchedule(source: PacerSource): boolean {
    return this.own.has(source);
  }

  /** Number of registered sources. */
  get size(): number {
    return this.sources.size;
  }

  /** True while the shared timer runs. */
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
    for (const s of this.own.values()) this.clock.clearTimer(s.timer);
    this.own.clear();
    this.rejoining.clear();
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
    const deadline = this.nextDeadline;
    const lateMs = now - deadline;
    this.n++;
    this.ticks++;
    this.lateness.record(lateMs);
    this.onLateness?.(lateMs);
    for (const s of [...this.sources]) {
      if (!this.sources.has(s) || this.own.has(s)) continue;
      const left = this.rejoining.get(s);
      if (left) {
        if (deadline < this.ownDeadline(left) - 0.5) continue; // half a ms: deadlines are sums of floats
        this.rejoining.delete(s);
      }
      this.runSource(s);
    }
  }

  private runSource(s: PacerSource): void {
    try {
      s.onTick();
    } catch (err) {
      this.errors++;
      this.onError?.(err, s);
    }
  }

  /** The next deadline of an own schedule (one frame after the tick that ran last). */
  private ownDeadline(sched: OwnSchedule): number {
    return sched.t0 + sched.n * this.frameMs;
  }

  private armOwn(source: PacerSource, sched: OwnSchedule): void {
    sched.timer = this.clock.setTimer(Math.max(0, this.ownDeadline(sched) - this.clock.now()), () => this.fireOwn(source, sched));
  }

  /** A source's own timer: the shared lateness rule (catch up, or skip ahead), for that source alone. */
  private fireOwn(source: PacerSource, sched: OwnSchedule): void {
    sched.timer = undefined;
    if (this.own.get(source) !== sched) return;
    const now = this.clock.now();
    const late = now - (sched.t0 + sched.n * this.frameMs);
    if (late >= 0) {
      const missed = Math.floor(late / this.frameMs);
      if (missed > this.maxCatchUp) {
        sched.n += missed;
        this.skippedTicks += missed;
      }
      const runs = missed > this.maxCatchUp ? 1 : missed + 1;
      for (let i = 0; i < runs && this.own.get(source) === sched; i++) {
        if (i > 0) this.catchUpTicks++;
        const lateMs = now - (sched.t0 + sched.n * this.frameMs);
        sched.n++;
        this.lateness.record(lateMs);
        this.onLateness?.(lateMs);
        this.runSource(source);
      }
    }
    if (this.own.get(source) === sched && sched.timer === undefined) this.armOwn(source, sched);
  }
}
