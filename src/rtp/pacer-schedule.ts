/**
 * The pacer's contract and its schedule arithmetic (src/rtp/pacer.ts): what a source and the options
 * look like, where a talkspurt's own schedule lies, and the lateness rule that decides between catching
 * up and skipping ahead. Pure: no timers, no clock reads.
 */

/** Frame period, ms (RFC 3551 §4.2: "the default packetization interval SHOULD have a duration of 20 ms"). */
export const FRAME_MS = 20;

/** Something that sends one frame per tick (a call's Playout). */
export interface PacerSource {
  /**
   * One tick. `now`: the clock reading (ms) the pacer took when its timer's run (or `startNow`/`poll`)
   * began, shared by every source of that run — up to the run's length (a few ms at 200 calls) older
   * than the clock when a source late in the run is ticked. A source that needs the time of its own
   * packet reads the clock itself; one that judges seconds (an RTP timeout) or tens of ms (missing
   * media) takes this one instead of a clock read per call per tick.
   */
  onTick(now: number): void;
}

export interface PacerOptions {
  clock: import("../util/clock.ts").Clock;
  /** Period, ms; default 20. */
  frameMs?: number;
  /** Missed deadlines that are still caught up by a burst; more → skip ahead. Default 3. */
  maxCatchUpFrames?: number;
  /** Phases per frame an own schedule (`startNow`) may take (see pacer.ts); default 4 (every 5 ms). */
  ownPhases?: number;
  /**
   * Home phases: how many of the `ownPhases` phases (evenly spaced, a divisor of `ownPhases`) the sources'
   * shared ticks are spread over, each source on the least-loaded one when added. 1 (the default) = one
   * shared tick carries every source; 4 = each of the 4 phases carries ~1/4 of them. @throws RangeError otherwise.
   */
  homePhases?: number;
  /** Called with each tick's lateness in ms (for a metrics histogram). */
  onLateness?: (ms: number) => void;
  /** Called with the number of deadlines dropped by a skip ahead (for a counter). */
  onSkipped?: (ticks: number) => void;
  /** A source's `onTick` threw; the pacer keeps going. Default: ignored (counted in `errors`). */
  onError?: (err: unknown, source: PacerSource) => void;
  /** After each timer's run (a shared tick with its catch-ups, or a phase's sources): its start and end, clock ms. */
  onRan?: (start: number, end: number) => void;
}

/** A source on its own schedule (`startNow`): deadlines `t0 + n·frameMs`, `t0` the start of its phase. */
export interface OwnSchedule {
  t0: number;
  n: number;
  /** Phase index (0 … phases − 1): its timer is the phase's. */
  phase: number;
  /**
   * Index of the home deadline (`home t0 + slot·frameMs`) its next packet stands for: each packet takes
   * one, so a rejoin waits for this slot and the RTP timestamps keep their relation to the wall clock.
   */
  slot: number;
}

/**
 * The lateness rule for a timer that fires `lateMs` after the deadline it was armed for: `missed` later
 * deadlines have passed too; `skip` when they are more than `maxCatchUp` (drop them, run once), else all
 * `missed + 1` run back-to-back. `lateMs` < 0 (fired early) gives `runs` 0.
 */
export function lateRule(lateMs: number, frameMs: number, maxCatchUp: number): { missed: number; skip: boolean; runs: number } {
  if (lateMs < 0) return { missed: 0, skip: false, runs: 0 };
  const missed = Math.floor(lateMs / frameMs);
  const skip = missed > maxCatchUp;
  return { missed, skip, runs: skip ? 1 : missed + 1 };
}

/**
 * The own schedule of a talkspurt ticked at `now`: the last phase start at or before `now` (phases at
 * `t0 + k·frameMs/phases` of the schedule that started at `t0`), its next deadline the first after `now`.
 * `phaseT0[p]` is phase p's start (`t0 + p·frameMs/phases`), the same float for every source on it.
 */
export function phaseAtOrBefore(now: number, t0: number, frameMs: number, phaseT0: readonly number[], slot: number): OwnSchedule {
  const phases = phaseT0.length;
  const k = Math.max(0, Math.floor((now - t0) / (frameMs / phases)));
  const phase = k % phases;
  const start = phaseT0[phase]!;
  return { t0: start, phase, n: Math.floor((now - start) / frameMs) + 1, slot };
}

/** The index of a schedule's first deadline strictly after `now` (`t0 + n·frameMs` > `now`). */
export function nextIndexAfter(now: number, t0: number, frameMs: number): number {
  return Math.floor((now - t0) / frameMs) + 1;
}

/** The next deadline of an own schedule (one frame after the tick that ran last), clock ms. */
export function ownDeadline(sched: OwnSchedule, frameMs: number): number {
  return sched.t0 + sched.n * frameMs;
}
