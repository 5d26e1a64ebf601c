/**
 * The process-wide 20 ms clock for outgoing RTP. Create ONE per process and `add` every call's playout
 * to it.
 *
 * Phases: a frame is split into `ownPhases` (default 4) evenly spaced phases, phase p's deadlines at
 * `t0 + p·frameMs/ownPhases + n·frameMs` on the injected monotonic Clock (t0 = when the first source
 * was added). Each phase has ONE timer, armed for `deadline − clock.now()`, so timer error never
 * accumulates (no drift; `setInterval` drifts, see FACTS.md), and the process wakes at most `ownPhases`
 * times per frame however many calls there are (each wake-up costs: 40 calls on 40 timers took 45 ms
 * CPU per second in Bun, on one timer 8). A timer runs only while its phase has something to tick.
 *
 * Home phases (`homePhases`, a divisor of `ownPhases`; default 1): each source is put on the home phase
 * with the fewest sources when added and ticks every frame on that phase's deadlines, together with the
 * other sources at home there. With 1 every call sends in one shared tick; with 4, 200 calls are ~50 per
 * phase and one tick runs a quarter as long (issue 13: at 200 calls the late ticks waited mostly for
 * the previous tick's own run, 2.4–4.5 ms). A removed source frees its place on its phase.
 *
 * Lateness rule, when a timer fires `late` ms after a deadline (per home, and per own schedule):
 *  - fired early (before the deadline, possible with ms-rounded timers) → re-armed, no tick;
 *  - `late < (maxCatchUpFrames + 1)·frameMs` → catch up: every deadline already passed is ticked
 *    back-to-back (so no frame is lost; the receiver's jitter buffer absorbs the burst), counted in
 *    `catchUpTicks`;
 *  - later than that → skip ahead: the missed deadlines are dropped (`skippedTicks += missed`), one
 *    tick runs for the most recent deadline, and the schedule continues from there. Sources are not
 *    told: no audio is lost, the RTP timestamps continue without a jump, and the receiver sees one
 *    pause in arrivals instead of a burst of up to `missed` frames.
 * Lateness (ms after its own deadline) goes to `lateness` and `onLateness` once per deadline of a phase
 * (the sources on it share the deadline and the timer), not once per source — the hook is a metrics
 * histogram, kept off the per-packet path. After a skip ahead the tick that runs reports the lateness
 * from the first missed deadline (a timer 1,000 ms late reports ~1,000, not the 0–20 ms after the
 * skip), and `onSkipped` gets the deadlines dropped: a stall longer than the catch-up window is seen by
 * the metric, the stall log and the admission headroom.
 *
 * A talkspurt that starts between two ticks (`startNow`): the source is ticked at once, so the first
 * packet of a reply does not wait up to 20 ms for its home tick, and keeps its own 20 ms schedule from
 * the last phase start at or before that packet (the same lateness rule). Its second packet thus comes
 * up to a phase (5 ms) less than a frame after the first; the packets after it are one frame apart.
 * `rejoin` puts it back on its home phase from the first home deadline at least one frame after its last
 * own deadline and not before the home slot its packets have reached: each packet takes one home
 * deadline's slot, starting with the one it would have had at home. Each packet advances the RTP
 * timestamp by one frame's samples (RFC 3550 §5.1: "The timestamp reflects the sampling instant of the
 * first octet in the RTP data packet"); the early start moves the stream ahead of its home schedule by
 * at most a frame and the longer gap at the rejoin takes exactly that back, so the timestamp keeps its
 * relation to the wall clock across any number of talkspurts. The home phase stays where it was put
 * (it does not follow the talkspurt's phase): following it would keep each talkspurt's advance, which
 * adds up over a call, and would undo the balance. The first packet of a talkspurt carries the marker
 * bit (RFC 3551 §4.1), which lets the receiver re-anchor its playout there.
 */
import type { Clock, TimerHandle } from "../util/clock.ts";
import { LatenessHistogram } from "./lateness-histogram.ts";
import { FRAME_MS, lateRule, nextIndexAfter, ownDeadline, phaseAtOrBefore, type OwnSchedule, type PacerOptions, type PacerSource } from "./pacer-schedule.ts";

export { FRAME_MS, type PacerOptions, type PacerSource } from "./pacer-schedule.ts";

/** A home phase's shared schedule: deadlines `phase start + n·frameMs`, ticking its sources together. */
interface Home {
  /** Phase index (0 … ownPhases − 1): its timer is the phase's. */
  readonly phase: number;
  /** Index of its next deadline. */
  n: number;
  readonly sources: Set<PacerSource>;
}

export class Pacer {
  private readonly clock: Clock;
  private readonly frameMs: number;
  private readonly maxCatchUp: number;
  private readonly ownPhases: number;
  /** The home phases (index = home, `phase` = home · ownPhases / homePhases). */
  private readonly homes: Home[];
  /** The home whose deadlines fall on a phase, by phase index (undefined: none). */
  private readonly homeOfPhase: (Home | undefined)[];
  /** One timer per phase, for its home's ticks and the own schedules on it (index = phase). */
  private readonly phaseTimers: (TimerHandle | undefined)[];
  /** Each phase's armed deadline, clock ms (Infinity: not armed). */
  private readonly phaseDue: number[];
  private readonly onLateness?: (ms: number) => void;
  private readonly onSkipped?: (ticks: number) => void;
  private readonly onError?: (err: unknown, source: PacerSource) => void;
  private readonly onRan?: (start: number, end: number) => void;
  /** Every registered source and its home. */
  private readonly sources = new Map<PacerSource, Home>();
  /** When the earliest armed phase timer is due, clock ms; Infinity when none (`poll`). */
  private dueAt = Infinity;
  /** The phase whose timer runs (its timer is re-armed when the run ends), −1 when none. */
  private firingPhase = -1;
  private t0 = 0;
  /** Each phase's start, `t0 + p·frameMs/ownPhases` (one float per phase: its sources fire together). */
  private phaseT0: number[] = [];
  /** Sources ticked on their own schedule (`startNow`), not by their home's. */
  private readonly own = new Map<PacerSource, OwnSchedule>();
  /**
   * Sources back from their own schedule (`rejoin`) until their first home tick, with the schedule
   * they left: no home deadline before its next own deadline, or before its slot, ticks them.
   */
  private readonly rejoining = new Map<PacerSource, OwnSchedule>();
  /** The sources of the home tick that runs (tickHome), reused: no array per tick. */
  private readonly tickList: PacerSource[] = [];
  /** The deadline whose lateness the running phase timer recorded last. */
  private recordedDeadline = NaN;

  /** Home ticks run (each calls every source at home on that phase once). */
  ticks = 0;
  /** Ticks run back-to-back to catch up a late timer. */
  catchUpTicks = 0;
  /** Deadlines dropped by the skip-ahead rule. */
  skippedTicks = 0;
  /** Exceptions thrown by sources. */
  errors = 0;
  /** Lateness of every deadline run, ms. */
  readonly lateness = new LatenessHistogram();

  /** @throws RangeError when `homePhases` is not a divisor of `ownPhases`. */
  constructor(opts: PacerOptions) {
    this.clock = opts.clock;
    this.frameMs = opts.frameMs ?? FRAME_MS;
    this.maxCatchUp = opts.maxCatchUpFrames ?? 3;
    this.ownPhases = Math.max(1, Math.floor(opts.ownPhases ?? 4));
    const homes = opts.homePhases ?? 1;
    if (!Number.isInteger(homes) || homes < 1 || this.ownPhases % homes !== 0) throw new RangeError(`homePhases must divide ownPhases (${this.ownPhases}), got ${homes}`);
    this.homes = Array.from({ length: homes }, (_, h) => ({ phase: (h * this.ownPhases) / homes, n: 0, sources: new Set<PacerSource>() }));
    this.homeOfPhase = new Array<Home | undefined>(this.ownPhases).fill(undefined);
    for (const h of this.homes) this.homeOfPhase[h.phase] = h;
    this.phaseTimers = new Array<TimerHandle | undefined>(this.ownPhases).fill(undefined);
    this.phaseDue = new Array<number>(this.ownPhases).fill(Infinity);
    this.onLateness = opts.onLateness;
    this.onSkipped = opts.onSkipped;
    this.onError = opts.onError;
    this.onRan = opts.onRan;
  }

  /**
   * Registers a source on the home phase with the fewest sources (ties: the first); it gets its first
   * tick at that home's next deadline. Starts the clock if idle.
   */
  add(source: PacerSource): void {
    if (this.sources.has(source)) return;
    const now = this.clock.now();
    // Idle: a new schedule from now. Inside a tick the schedule is still live (the tick re-arms it).
    if (this.sources.size === 0 && this.firingPhase < 0) {
      this.t0 = now;
      this.phaseT0 = Array.from({ length: this.ownPhases }, (_, p) => this.t0 + p * (this.frameMs / this.ownPhases));
    }
    let home = this.homes[0]!;
    for (const h of this.homes) if (h.sources.size < home.sources.size) home = h;
    if (home.sources.size === 0) home.n = nextIndexAfter(now, this.phaseT0[home.phase]!, this.frameMs);
    home.sources.add(source);
    this.sources.set(source, home);
    this.armPhase(home.phase);
  }

  /** Unregisters a source (safe inside its own onTick); its home has one source less. Stops the timers when none is left. */
  remove(source: PacerSource): void {
    const home = this.sources.get(source);
    if (!home) return;
    this.sources.delete(source);
    home.sources.delete(source);
    const sched = this.own.get(source);
    this.own.delete(source);
    this.rejoining.delete(source);
    if (this.sources.size === 0) return this.stop();
    this.armPhase(home.phase);
    if (sched && sched.phase !== home.phase) this.armPhase(sched.phase);
  }

  /**
   * Ticks `source` now and from now on every `frameMs` on its own schedule, until `rejoin` (see the
   * file comment). Does nothing for a source not registered, and for one already on its own schedule
   * (a pending rejoin is cancelled instead: its schedule ticks it within one frame anyway).
   */
  startNow(source: PacerSource): void {
    const home = this.sources.get(source);
    if (!home || this.own.has(source)) return;
    const left = this.rejoining.get(source);
    this.rejoining.delete(source);
    const now = this.clock.now();
    if (left && now < this.ownDeadline(left)) {
      // Less than a frame since its last packet: it goes on with the schedule it left (no packet now).
      this.own.set(source, left);
      this.armPhase(left.phase);
      return;
    }
    // This packet takes the home slot it would have had (or the one a pending rejoin waits for).
    const sched = phaseAtOrBefore(now, this.t0, this.frameMs, this.phaseT0, Math.max(home.n, left?.slot ?? 0));
    this.own.set(source, sched);
    sched.slot++;
    this.runSource(source, now);
    if (this.own.get(source) === sched) this.armPhase(sched.phase);
  }

  /**
   * Puts a source on its own schedule back on its home phase: its next tick is the first home deadline
   * at least one frame after its last own deadline and not before the slot its packets have reached
   * (see the file comment). Safe inside its own onTick.
   */
  rejoin(source: PacerSource): void {
    const sched = this.own.get(source);
    if (!sched) return;
    this.own.delete(source);
    this.rejoining.set(source, sched);
    this.armPhase(sched.phase);
  }

  /** True while `source` runs on its own schedule. */
  isOwnSchedule(source: PacerSource): boolean {
    return this.own.size > 0 && this.own.has(source);
  }

  /** Number of registered sources. */
  get size(): number {
    return this.sources.size;
  }

  /** Sources per home phase (index = home; for tests and metrics). */
  get homeLoad(): number[] {
    return this.homes.map((h) => h.sources.size);
  }

  /** True while a timer is armed. */
  get running(): boolean {
    return this.phaseTimers.some((t) => t !== undefined);
  }

  /** Deadline (clock ms) of the next home tick; Infinity when no source is registered. */
  get nextDeadline(): number {
    let due = Infinity;
    for (const h of this.homes) if (h.sources.size > 0) due = Math.min(due, this.homeDeadline(h));
    return due;
  }

  /**
   * Runs at once whatever is due — a phase's home tick and own schedules — instead of when its timer
   * gets its turn: a thread's timers wait until the event loop has run everything that was ready before
   * them (a burst of received datagrams, a Silero batch). Called between such units of work
   * (util/pace-point.ts), it bounds a tick's lateness by one unit instead of the whole burst. Its timer
   * is cleared and re-armed as if it had fired. Cheap when nothing is due: one clock read and a
   * comparison. Does nothing inside a tick (a source's onTick may reach a caller of `poll`).
   * @param now a reading of this pacer's clock just taken by the caller (ms), else read here
   */
  poll(now?: number): void {
    if (this.firingPhase >= 0) return;
    now ??= this.clock.now();
    // Due phases in deadline order; each runs everything of it that is due, so at most ownPhases runs.
    for (let i = 0; i < this.ownPhases && now >= this.dueAt; i++) {
      const p = this.phaseDue.indexOf(this.dueAt);
      if (p < 0 || this.phaseTimers[p] === undefined) break;
      this.clock.clearTimer(this.phaseTimers[p]);
      this.firePhase(p);
    }
  }

  /** Removes every source and stops. */
  stop(): void {
    this.sources.clear();
    for (const h of this.homes) h.sources.clear();
    for (let p = 0; p < this.ownPhases; p++) {
      this.clock.clearTimer(this.phaseTimers[p]);
      this.phaseTimers[p] = undefined;
      this.phaseDue[p] = Infinity;
    }
    this.own.clear();
    this.rejoining.clear();
    this.refreshDue();
  }

  /** `dueAt`: the earliest armed deadline. */
  private refreshDue(): void {
    let due = Infinity;
    for (let p = 0; p < this.ownPhases; p++) if (this.phaseTimers[p] !== undefined && this.phaseDue[p]! < due) due = this.phaseDue[p]!;
    this.dueAt = due;
  }

  private homeDeadline(h: Home): number {
    return this.phaseT0[h.phase]! + h.n * this.frameMs;
  }

  private ownDeadline(sched: OwnSchedule): number {
    return ownDeadline(sched, this.frameMs);
  }

  /**
   * (Re-)arms a phase's timer for its earliest next deadline (its home's, while it has sources, and
   * its own schedules'); none → cleared. Inside that phase's run it waits for the run's end.
   */
  private armPhase(phase: number): void {
    if (phase === this.firingPhase) return;
    const home = this.homeOfPhase[phase];
    let due = home && home.sources.size > 0 ? this.homeDeadline(home) : Infinity;
    for (const sched of this.own.values()) if (sched.phase === phase) due = Math.min(due, this.ownDeadline(sched));
    this.clock.clearTimer(this.phaseTimers[phase]);
    this.phaseTimers[phase] = due === Infinity ? undefined : this.clock.setTimer(Math.max(0, due - this.clock.now()), () => this.firePhase(phase));
    this.phaseDue[phase] = due;
    this.refreshDue();
  }

  /** A phase's timer: its home's tick (with catch-ups), then each own schedule on it, by the lateness rule. */
  private firePhase(phase: number): void {
    this.phaseTimers[phase] = undefined;
    this.phaseDue[phase] = Infinity;
    this.refreshDue();
    const now = this.clock.now();
    this.recordedDeadline = NaN;
    this.firingPhase = phase;
    try {
      const home = this.homeOfPhase[phase];
      if (home && home.sources.size > 0) this.fireHome(home, now);
      // No copy of the map per tick: a source removed meanwhile is skipped (fireOwn checks), one started
      // meanwhile has its first deadline still ahead.
      this.own.forEach((sched, source) => sched.phase === phase && this.fireOwn(source, sched, now));
    } finally {
      this.firingPhase = -1;
    }
    if (this.sources.size > 0) this.armPhase(phase);
    this.onRan?.(now, this.clock.now());
  }

  private fireHome(home: Home, now: number): void {
    const late = now - this.homeDeadline(home);
    const { missed, skip, runs } = lateRule(late, this.frameMs, this.maxCatchUp);
    if (runs === 0) return; // early: firePhase re-arms for the same deadline
    if (skip) {
      home.n += missed;
      this.skippedTicks += missed;
      this.onSkipped?.(missed);
      this.tickHome(home, now, late);
      return;
    }
    for (let i = 0; i < runs && home.sources.size > 0; i++) {
      if (i > 0) this.catchUpTicks++;
      this.tickHome(home, now);
    }
  }

  /** `lateMs`: given after a skip ahead (lateness from the first missed deadline), else from this tick's. */
  private tickHome(home: Home, now: number, lateMs?: number): void {
    const k = home.n;
    const deadline = this.homeDeadline(home);
    home.n++;
    this.ticks++;
    this.recordLateness(deadline, lateMs ?? now - deadline);
    // A copy: a source's onTick may remove it (or another) or add one, which this tick must not run.
    const list = this.tickList;
    for (const s of home.sources) list.push(s);
    try {
      for (let i = 0; i < list.length; i++) {
        const s = list[i]!;
        if (!home.sources.has(s)) continue;
        // Most ticks have no source on its own schedule or rejoining: two map lookups per source less.
        if (this.own.size > 0 && this.own.has(s)) continue;
        const left = this.rejoining.size > 0 ? this.rejoining.get(s) : undefined;
        if (left) {
          // half a ms: deadlines are sums of floats
          if (k < left.slot || deadline < this.ownDeadline(left) - 0.5) continue;
          this.rejoining.delete(s);
        }
        this.runSource(s, now);
      }
    } finally {
      list.length = 0;
    }
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
      sched.slot++;
      this.recordLateness(deadline, skipped ? late : now - deadline); // after a skip: from the first missed deadline
      this.runSource(source, now);
    }
  }

  /** Once per deadline of the running phase: its home and own schedules on it were late by as much. */
  private recordLateness(deadline: number, lateMs: number): void {
    if (deadline <= this.recordedDeadline) return;
    this.recordedDeadline = deadline;
    this.lateness.record(lateMs);
    this.onLateness?.(lateMs);
  }

  private runSource(s: PacerSource, now: number): void {
    try {
      s.onTick(now);
    } catch (err) {
      this.errors++;
      this.onError?.(err, s);
    }
  }
}
