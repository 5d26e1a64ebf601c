/**
 * Injected time source. Every timer in the SIP stack, the RTP pacer and the pipeline goes through a
 * `Clock` so tests can drive time exactly (STYLE habit 4).
 *
 * Units: milliseconds from an arbitrary monotonic origin (`performance.now()` for the real clock).
 */
export interface Clock {
  /** Monotonic time in ms. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Cancels a timer; a no-op for one already fired or cleared. */
  clearTimer(handle: TimerHandle | undefined): void;
}

export type TimerHandle = { readonly id: number };

let nextId = 1;

/**
 * The process clock: `performance.now()` and `setTimeout`, a timer's delay rounded UP to whole ms. Bun's
 * setTimeout truncates a fractional delay (1.4.5, measured: 4.9 fires after ~4.1 ms, 3.7 after ~3.1), so
 * a timer armed for the exact time left to a deadline fired early by its fraction; a caller that waits
 * for the deadline (the RTP pacer) then re-armed for the rest (at least 1 ms in Bun) and woke twice per
 * deadline, its tick behind whatever the loop ran before the second wake-up. Rounded up, a timer fires
 * once, never before its time, at the same 0–1 ms after the deadline.
 */
export class SystemClock implements Clock {
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();
  now(): number {
    return performance.now();
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = nextId++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, Math.ceil(Math.max(0, ms)));
    this.timers.set(id, t);
    return { id };
  }
  clearTimer(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const t = this.timers.get(handle.id);
    if (t !== undefined) {
      clearTimeout(t);
      this.timers.delete(handle.id);
    }
  }
}

/**
 * A clock that moves only when told: `advance(ms)` fires due timers in deadline order (ties in creation
 * order), including timers scheduled by the callbacks themselves while inside the advanced window.
 */
export class FakeClock implements Clock {
  private t = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { id };
  }
  clearTimer(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete(handle.id);
  }
  /** Number of pending timers. */
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let dueId = -1;
      let dueAt = Infinity;
      // No [id, timer] pair per timer per look (bench:alloc drives calls with this clock).
      for (const id of this.timers.keys()) {
        const tm = this.timers.get(id)!;
        if (tm.at <= end && (tm.at < dueAt || (tm.at === dueAt && id < dueId))) {
          dueAt = tm.at;
          dueId = id;
        }
      }
      if (dueId < 0) break;
      const tm = this.timers.get(dueId)!;
      this.timers.delete(dueId);
      this.t = Math.max(this.t, tm.at);
      tm.fn();
    }
    this.t = end;
  }
}
