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
 * Lateness (ms after its own deadline) of every tick that runs goes to `lateness` and `onLateness`: once
 * per shared tick, and once per deadline of a phase (the sources on it share the deadline and the timer),
 * not once per source — the hook is a metrics histogram, kept off the per-packet path. After a skip
 * ahead the tick that runs reports the lateness from the first missed deadline (a timer 1,000 ms late
 * reports ~1,000, not the 0–20 ms after the skip), and `onSkipped` gets the deadlines dropped: a stall
 * longer than the catch-up window is seen by the metric, the stall log and the admission headroom.
 *
 * The timer runs only while at least one source is registered.
 *
 * A talkspurt that starts between two ticks (`startNow`): the source is ticked at once, so the first
 * packet of a reply does not wait up to 20 ms for the shared tick, and keeps its own 20 ms schedule
 * from the last of `ownPhases` (default 4) evenly spaced phases of the shared schedule at or before
 * that packet (every 5 ms: deadlines `t0 + p·frameMs/ownPhases + n·frameMs`, the same lateness rule).
 * Its second packet thus comes up to a phase (5 ms) less than a frame after the first; the packets
 * after it are one frame apart on the wire. Sources on the same phase share one timer, so however many
 * calls talk, the process wakes at most `ownPhases + 1` times per frame instead of once per talking
 * call (each wake-up costs: 40 calls on 40 timers took 45 ms CPU per second in Bun, on one timer 8).
 * `rejoin` puts it back on the shared schedule from the first shared deadline at least one frame after
 * its last own deadline. Each packet still advances the RTP
 * timestamp by one frame's samples (RFC 3550 §5.1: "The timestamp reflects the sampling instant of the
 * first octet in the RTP data packet"); the early start moves the stream ahead of the shared schedule by
 * less than a frame and the longer gap at the rejoin takes exactly that back, so the timestamp keeps
 * its relation to the wall clock across any number of talkspurts. The first packet of a talkspurt
 * carries the marker bit (RFC 3551 §4.1), which lets the receiver re-anchor its playout there.
 */
import type { Clock, TimerHandle } from "../util/clock.ts";
import { LatenessHistogram } from "./lateness-histogram.ts";
import { FRAME_MS, lateRule, ownDeadline, phaseAtOrBefore, type OwnSchedule, type PacerOptions, type PacerSource } from "./pacer-schedule.ts";

export { FRAME_MS, type PacerOptions, type PacerSource } from "./pacer-schedule.ts";

export class Pacer {
  private readonly clock: Clock;
  private readonly frameMs: number;
  private readonly maxCatchUp: number;
  private readonly ownPhases: number;
  /** One timer per phase of the own schedules (index = phase). */
  private readonly phaseTimers: (TimerHandle | undefined)[];
  private readonly onLateness?: (ms: number) => void;
  private readonly onSkipped?: (ticks: number) => void;
  private readonly onError?: (err: unknown, source: PacerSource) => void;
  private readonly onRan?: (start: number, end: number) => void;
  private readonly sources = new Set<PacerSource>();
  private timer: TimerHandle | undefined;
  /** When the earliest armed timer (shared or a phase's) is due, clock ms; Infinity when none (`poll`). */
  private dueAt = Infinity;
  /** Each phase's armed deadline, clock ms (Infinity: not armed). */
  private readonly phaseDue: number[];
  /** A phase's sources are being ticked (`poll` does not re-enter). */
  private firingPhase = false;
  private t0 = 0;
  /** Each phase's start, `t0 + p·frameMs/ownPhases` (one float per phase: its sources fire together). */
  private phaseT0: number[] = [];
  private n = 0;
  private firing = false;
  /** Sources ticked on their own schedule (`startNow`), not by the shared one. */
  private readonly own = new Map<PacerSource, OwnSchedule>();
  /**
   * Sources back from their own schedule (`rejoin`) until their first shared tick, with the schedule
   * they left: no shared deadline before its next own deadline ticks them.
   */
  private readonly rejoining = new Map<PacerSource, OwnSchedule>();
  /** The own-schedule deadline whose lateness the running phase timer recorded last. */
  private recordedDeadline = NaN;

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
    this.ownPhases = Math.max(1, Math.floor(opts.ownPhases ?? 4));
    this.phaseTimers = new Array<TimerHandle | undefined>(this.ownPhases).fill(undefined);
    this.phaseDue = new Array<number>(this.ownPhases).fill(Infinity);
    this.onLateness = opts.onLateness;
    this.onSkipped = opts.onSkipped;
    this.onError = opts.onError;
    this.onRan = opts.onRan;
  }

  /** Registers a source; it gets its first tick at the next deadline. Starts the clock if idle. */
  add(source: PacerSource): void {
    this.sources.add(source);
    // Inside a tick the schedule is still live: fire() re-arms it.
    if (this.timer === undefined && !this.firing) {
      this.t0 = this.clock.now();
      this.phaseT0 = Array.from({ length: this.ownPhases }, (_, p) => this.t0 + p * (this.frameMs / this.ownPhases));
      this.n = 1;
      this.arm();
    }
  }

  /** Unregisters a source (safe inside its own onTick). Stops the timer when none is left. */
  remove(source: PacerSource): void {
    this.sources.delete(source);
    const sched = this.own.get(source);
    this.own.delete(source);
    this.rejoining.delete(source);
    if (this.sources.size === 0) this.stop();
    else if (sched) this.disarmIdlePhase(sched.phase);
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
      this.armPhase(left.phase);
      return;
    }
    const sched = this.phaseAtOrBefore(this.clock.now());
    this.own.set(source, sched);
    this.runSource(source);
    if (this.own.get(source) === sched) this.armPhase(sched.phase);
  }

  /**
   * Puts a source on its own schedule back on the shared one: its next tick is the first shared
   * deadline at least one frame after its last own deadline. Safe inside its own onTick.
   */
  rejoin(source: PacerSource): void {
    const sched = this.own.get(source);
    if (!sched) return;
    this.own.delete(source);
    this.rejoining.set(source, sched);
    this.disarmIdlePhase(sched.phase);
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

  /**
   * Runs at once whatever is due — the shared tick, a phase's sources — instead of when its timer gets
   * its turn: a thread's timers wait until the event loop has run everything that was ready before them
   * (a burst of received datagrams, a Silero batch). Called between such units of work (util/pace-point.ts),
   * it bounds a tick's lateness by one unit instead of the whole burst. Its timer is cleared and re-armed
   * as if it had fired. Cheap when nothing is due: one clock read and a comparison. Does nothing inside a
   * tick (a source's onTick may reach a caller of `poll`).
   */
  poll(): void {
    if (this.firing || this.firingPhase) return;
    const now = this.clock.now();
    if (now < this.dueAt) return;
    if (this.timer !== undefined && now >= this.nextDeadline) {
      this.clock.clearTimer(this.timer);
      this.fire();
    }
    for (let p = 0; p < this.ownPhases; p++) {
      if (this.phaseTimers[p] === undefined || now < this.phaseDue[p]!) continue;
      this.clock.clearTimer(this.phaseTimers[p]);
      this.firePhase(p);
    }
  }

  /** Removes every source and stops. */
  stop(): void {
    this.sources.clear();
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    for (let p = 0; p < this.ownPhases; p++) {
      this.clock.clearTimer(this.phaseTimers[p]);
      this.phaseTimers[p] = undefined;
      this.phaseDue[p] = Infinity;
    }
    this.own.clear();
    this.rejoining.clear();
    this.refreshDue();
  }

  private arm(): void {
    this.timer = this.clock.setTimer(Math.max(0, this.nextDeadline - this.clock.now()), () => this.fire());
    this.refreshDue();
  }

  /** `dueAt`: the earliest armed deadline. */
  private refreshDue(): void {
    let due = this.timer === undefined ? Infinity : this.nextDeadline;
    for (let p = 0; p < this.ownPhases; p++) if (this.phaseTimers[p] !== undefined && this.phaseDue[p]! < due) due = this.phaseDue[p]!;
    this.dueAt = due;
  }

  private fire(): void {
    this.timer = undefined;
    this.refreshDue();
    this.firing = true;
    const start = this.onRan ? this.clock.now() : 0;
    try {
      this.runDue();
    } finally {
      this.firing = false;
    }
    if (this.sources.size > 0 && this.timer === undefined) this.arm();
    this.onRan?.(start, this.clock.now());
  }

  private runDue(): void {
    const now = this.clock.now();
    const late = now - this.nextDeadline;
    const { missed, skip, runs } = lateRule(late, this.frameMs, this.maxCatchUp);
    if (runs === 0) return; // early: fire() re-arms for the same deadline
    if (skip) {
      this.n += missed;
      this.skippedTicks += missed;
      this.onSkipped?.(missed);
      this.tick(now, late);
    } else {
      for (let i = 0; i < runs; i++) {
        if (i > 0) this.catchUpTicks++;
        this.tick(now);
        if (this.sources.size === 0) break;
      }
    }
  }

  /** `lateMs`: given after a skip ahead (lateness from the first missed deadline), else from this tick's. */
  private tick(now: number, lateMs = now - this.nextDeadline): void {
    const deadline = this.nextDeadline;
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

  private ownDeadline(sched: OwnSchedule): number {
    return ownDeadline(sched, this.frameMs);
  }

  private phaseAtOrBefore(now: number): OwnSchedule {
    return phaseAtOrBefore(now, this.t0, this.frameMs, this.phaseT0);
  }

  /** (Re-)arms a phase's timer for the earliest next deadline of its sources; none left → cleared. */
  private armPhase(phase: number): void {
    let due = Infinity;
    for (const sched of this.own.values()) if (sched.phase === phase) due = Math.min(due, this.ownDeadline(sched));
    this.clock.clearTimer(this.phaseTimers[phase]);
    this.phaseTimers[phase] = due === Infinity ? undefined : this.clock.setTimer(Math.max(0, due - this.clock.now()), () => this.firePhase(phase));
    this.phaseDue[phase] = due;
    this.refreshDue();
  }

  /** Clears a phase's timer once no source is on that phase. */
  private disarmIdlePhase(phase: number): void {
    for (const sched of this.own.values()) if (sched.phase === phase) return;
    this.clock.clearTimer(this.phaseTimers[phase]);
    this.phaseTimers[phase] = undefined;
    this.phaseDue[phase] = Infinity;
    this.refreshDue();
  }

  /** A phase's timer: each of its sources by the shared lateness rule (catch up, or skip ahead), alone. */
  private firePhase(phase: number): void {
    this.phaseTimers[phase] = undefined;
    this.phaseDue[phase] = Infinity;
    const now = this.clock.now();
    this.recordedDeadline = NaN;
    // No copy of the map per tick: a source removed meanwhile is skipped (fireOwn checks), one started
    // meanwhile has its first deadline still ahead.
    this.firingPhase = true;
    try {
      this.own.forEach((sched, source) => sched.phase === phase && this.fireOwn(source, sched, now));
    } finally {
      this.firingPhase = false;
    }
    if (this.phaseTimers[phase] === undefined) this.armPhase(phase);
    this.onRan?.(now, this.clock.now());
  }

  private fireOwn(source: PacerSource, sched: OwnSchedule, now: number): void {
    if (this.own.get(source) !== sched) return;
    const late = now - this.ownDeadline(sched);
    const { missed, skip: skipped, runs } = lateRule(late, this.frameMs, this.maxCatchUp);
    if (runs === 0) return; // not due yet (the phase's timer is re-armed for it)
    if (skipped) {
      sched.n += missed;
      this.skippedTicks += missed;
      this.onSkipped?.(missed);
    }
    for (let i = 0; i < runs && this.own.get(source) === sched; i++) {
      if (i > 0) this.catchUpTicks++;
      const deadline = this.ownDeadline(sched);
      sched.n++;
      if (!(deadline <= this.recordedDeadline)) {
        // The phase's other sources on this deadline were late by as much: one record for all of them.
        this.recordedDeadline = deadline;
        const lateMs = skipped ? late : now - deadline; // after a skip: from the first missed deadline
        this.lateness.record(lateMs);
        this.onLateness?.(lateMs);
      }
      this.runSource(source);
    }
  }
}
