/**
 * The agent's headroom: whether one more call would hurt the live ones. Feeds the admission verdict
 * (./admission.ts, a "degraded" check), so a new INVITE and an OPTIONS probe get 503 + Retry-After
 * while the agent is loaded beyond what keeps its audio clean (issue 13).
 *
 * Signals, over a sliding window (default 5 s, one-second slots):
 * - pacer lateness: the share of 20 ms ticks that ran more than `pacerP99Ms` after their deadline. More
 *   than 1 % means the tick lateness p99 is above the limit. While calls are live the pacer ticks every
 *   20 ms on the main thread, so this is also the event loop's delay, measured at that resolution;
 * - CPU: the process's CPU time (all threads) per wall-clock time, % of one core;
 * - VAD shedding: the share of Silero windows skipped because a call's VAD was more than VAD_MAX_LAG_MS
 *   behind its audio (src/media/vad/silero.ts). Above `vadSkipPct` %, the model no longer keeps up with
 *   the live calls: the first sign of the overload state near 200 calls (issue 13), where each further
 *   call makes every call's turn-taking later.
 * All apply only when at least `minCalls` calls are live: with fewer, lateness comes from elsewhere
 * (other processes on the machine), and refusing calls would not help the live ones.
 *
 *   const h = new Headroom({ clock, limits: HEADROOM_DEFAULTS });
 *   pacer onLateness → h.recordLateness(ms);  h.start();  admission degraded: () => h.check(active())
 *
 * Units: ms, % of one core; CPU time from `process.cpuUsage()` (µs).
 */
import type { Clock, TimerHandle } from "../util/clock.ts";
import { vadTotals } from "../media/vad/batcher.ts";

export interface HeadroomLimits {
  /** ADMISSION_CPU_PCT: refuse at this CPU use, % of one core, over the window; 0 = off. */
  cpuPct: number;
  /** ADMISSION_PACER_P99_MS: refuse when more than 1 % of ticks were later than this, ms; 0 = off. */
  pacerP99Ms: number;
  /** ADMISSION_VAD_SKIP_PCT: refuse when more than this share of VAD windows was skipped over the window, %; 0 = off. */
  vadSkipPct: number;
  /** ADMISSION_MIN_CALLS: the checks apply only with at least this many live calls. */
  minCalls: number;
}

/**
 * Defaults: the load gate's limits (tests/support/load-gate.ts: mean CPU < 80 %, gap p99 ≤ 10 ms) with
 * a little room. Below 20 live cloud calls the agent uses well under half a core (~1.2 % per call,
 * issue 13), so lateness with fewer calls is the machine's, not ours.
 */
export const HEADROOM_DEFAULTS: HeadroomLimits = { cpuPct: 85, pacerP99Ms: 10, vadSkipPct: 1, minCalls: 20 };

/** Share of late ticks above which the p99 exceeds the limit. */
const P99_SHARE = 0.01;

interface Slot {
  ticks: number;
  late: number;
  /** Process CPU time (µs) and clock (ms) when the slot began. */
  cpuUs: number;
  atMs: number;
  /** VAD windows scored and skipped so far (process totals) when the slot began. */
  vadScored: number;
  vadSkipped: number;
}

export interface HeadroomOptions {
  clock: Clock;
  limits: HeadroomLimits;
  /** Window, ms (a whole number of seconds). Default 5000. */
  windowMs?: number;
  /** Process CPU time in µs, user + system (default: `process.cpuUsage()`); injected by tests. */
  cpuUsageUs?: () => number;
  /** VAD windows scored and skipped so far (default: the process totals, vadTotals); injected by tests. */
  vadCounts?: () => { windows: number; skipped: number };
}

export interface HeadroomState {
  /** CPU over the window, % of one core. */
  cpuPct: number;
  /** Share of pacer ticks later than the limit, 0–1. */
  lateShare: number;
  ticks: number;
  /** Share of VAD windows skipped (overload shedding) over the window, 0–1; windows scored + skipped in it. */
  vadSkipShare: number;
  vadWindows: number;
}

export class Headroom {
  private readonly slots: Slot[] = [];
  private readonly maxSlots: number;
  private timer: TimerHandle | undefined;
  private readonly cpuUs: () => number;
  private readonly vad: () => { windows: number; skipped: number };

  constructor(private readonly o: HeadroomOptions) {
    this.maxSlots = Math.max(1, Math.round((o.windowMs ?? 5000) / 1000));
    this.cpuUs = o.cpuUsageUs ?? (() => {
      const u = process.cpuUsage();
      return u.user + u.system;
    });
    this.vad = o.vadCounts ?? (() => vadTotals);
    this.rotate();
  }

  /** One pacer tick ran `ms` after its deadline (the Pacer's onLateness). Cheap: two additions. */
  recordLateness(ms: number): void {
    const s = this.slots[this.slots.length - 1]!;
    s.ticks++;
    if (ms > this.o.limits.pacerP99Ms) s.late++;
  }

  /** Starts the one-second slot timer. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.rotate();
      this.timer = this.o.clock.setTimer(1000, tick);
    };
    this.timer = this.o.clock.setTimer(1000, tick);
  }

  stop(): void {
    this.o.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Closes the current slot and opens the next (called every second by `start()`; by tests directly). */
  rotate(): void {
    const v = this.vad();
    this.slots.push({ ticks: 0, late: 0, cpuUs: this.cpuUs(), atMs: this.o.clock.now(), vadScored: v.windows, vadSkipped: v.skipped });
    // Keep maxSlots full slots plus the open one.
    while (this.slots.length > this.maxSlots + 1) this.slots.shift();
  }

  /** The window's CPU use and late-tick share (including the open slot). */
  state(): HeadroomState {
    const first = this.slots[0]!;
    const ms = this.o.clock.now() - first.atMs;
    const cpuPct = ms > 0 ? ((this.cpuUs() - first.cpuUs) / 1000 / ms) * 100 : 0;
    let ticks = 0;
    let late = 0;
    for (const s of this.slots) {
      ticks += s.ticks;
      late += s.late;
    }
    const v = this.vad();
    const skipped = v.skipped - first.vadSkipped;
    const vadWindows = v.windows - first.vadScored + skipped;
    return { cpuPct, lateShare: ticks ? late / ticks : 0, ticks, vadSkipShare: vadWindows ? skipped / vadWindows : 0, vadWindows };
  }

  /**
   * Why a new call would hurt the live ones, or undefined when there is room. For Admission's
   * `degraded` checks.
   */
  check(active: number): string | undefined {
    const l = this.o.limits;
    if (active < l.minCalls || (l.cpuPct <= 0 && l.pacerP99Ms <= 0 && l.vadSkipPct <= 0)) return undefined;
    const s = this.state();
    if (l.cpuPct > 0 && s.cpuPct >= l.cpuPct) return `overloaded: CPU ${s.cpuPct.toFixed(0)} % of a core over the last ${this.maxSlots} s (ADMISSION_CPU_PCT ${l.cpuPct})`;
    if (l.pacerP99Ms > 0 && s.ticks >= 100 && s.lateShare > P99_SHARE) {
      return `overloaded: ${(s.lateShare * 100).toFixed(1)} % of RTP ticks later than ${l.pacerP99Ms} ms over the last ${this.maxSlots} s (ADMISSION_PACER_P99_MS)`;
    }
    if (l.vadSkipPct > 0 && s.vadWindows >= 100 && s.vadSkipShare * 100 > l.vadSkipPct) {
      return `overloaded: ${(s.vadSkipShare * 100).toFixed(1)} % of VAD windows skipped (calls' speech detection behind their audio) over the last ${this.maxSlots} s (ADMISSION_VAD_SKIP_PCT ${l.vadSkipPct})`;
    }
    return undefined;
  }
}
