/**
 * What held this thread while a pacer tick was late: a fixed ring of recent spans of work (kind, start,
 * end in performance.now() ms), written by the few places that do most of the thread's work — the
 * pacer's ticks, RTP receive callbacks, Silero model runs, providers' WebSocket messages, calls' teardowns — and read back for a late tick's window
 * (`explain`). What the ring does not hold (the rest of our JavaScript, garbage collection, the
 * runtime) shows as `otherMs`; with `ThreadSchedSampler` the kernel's own account of the thread tells
 * busy from preempted (waiting on the run queue behind another thread on its core).
 *
 *   stalls.note(STALL_RX, t0, performance.now());          // cheap: three stores, no allocation
 *   stalls.explain(deadline, now)                           // { busy: { tick, rx, vad, ws, end }, otherMs }
 *
 * Spans of one kind closer than COALESCE_MS are merged into one entry, so a burst of datagrams costs
 * one entry, not one per datagram. Nothing here allocates per span; `explain` allocates its result
 * (it runs only for a late tick that is logged).
 */
import { readFileSync } from "node:fs";

export const STALL_TICK = 0;
export const STALL_RX = 1;
export const STALL_VAD = 2;
/** A cloud provider's WebSocket message handled (a Deepgram transcript, a Cartesia audio chunk). */
export const STALL_WS = 3;
/** A call's end: its release (media, conversation, providers' sockets, record) or a deferred piece of it (src/call/session.ts). */
export const STALL_END = 4;
/** Names of the kinds, by index (the keys of `explain`'s `busy`). */
export const STALL_KINDS = ["tick", "rx", "vad", "ws", "end"] as const;
export type StallKind = (typeof STALL_KINDS)[number];

/** Spans of one kind that start within this long after the last one ended are merged, ms. */
const COALESCE_MS = 0.05;

export interface StallExplanation {
  /** Time each kind held the thread inside the window, ms (one decimal). */
  busy: Record<StallKind, number>;
  /** The window's length not covered by any recorded span, ms (one decimal). */
  otherMs: number;
}

export class StallRecorder {
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private readonly kinds: Uint8Array;
  private head = 0;
  private size = 0;
  private readonly lastByKind = new Int32Array(STALL_KINDS.length).fill(-1);

  /** `capacity`: spans kept (the oldest are overwritten). */
  constructor(private readonly capacity = 4096) {
    this.starts = new Float64Array(capacity);
    this.ends = new Float64Array(capacity);
    this.kinds = new Uint8Array(capacity);
  }

  /** One span of work of `kind` on this thread, from `start` to `end` (performance.now() ms). */
  note(kind: number, start: number, end: number): void {
    const last = this.lastByKind[kind]!;
    if (last >= 0 && this.kinds[last] === kind && start - this.ends[last]! < COALESCE_MS && start >= this.starts[last]!) {
      if (end > this.ends[last]!) this.ends[last] = end;
      return;
    }
    const i = this.head;
    this.starts[i] = start;
    this.ends[i] = end;
    this.kinds[i] = kind;
    this.lastByKind[kind] = i;
    for (let k = 0; k < this.lastByKind.length; k++) if (k !== kind && this.lastByKind[k] === i) this.lastByKind[k] = -1;
    this.head = (i + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** The recorded work inside [from, to] (ms), per kind, and what no span covers. */
  explain(from: number, to: number): StallExplanation {
    const busy = Object.fromEntries(STALL_KINDS.map((k) => [k, 0])) as Record<StallKind, number>;
    const cut: [number, number][] = [];
    for (let n = 0; n < this.size; n++) {
      const i = (this.head - 1 - n + this.capacity) % this.capacity;
      const s = Math.max(from, this.starts[i]!);
      const e = Math.min(to, this.ends[i]!);
      if (e <= s) continue;
      busy[STALL_KINDS[this.kinds[i]!]!] += e - s;
      cut.push([s, e]);
    }
    cut.sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let reach = from;
    for (const [s, e] of cut) {
      if (e <= reach) continue;
      covered += e - Math.max(s, reach);
      reach = e;
    }
    for (const k of STALL_KINDS) busy[k] = round1(busy[k]);
    return { busy, otherMs: round1(Math.max(0, to - from - covered)) };
  }
}

/** The call thread's recorder (the one its pacer's late ticks are explained from). */
export const stalls = new StallRecorder();

/** Between two samples of ThreadSchedSampler: the thread ran `runMs`, waited on the run queue `queuedMs`, over `wallMs`. */
export interface SchedDelta {
  wallMs: number;
  runMs: number;
  queuedMs: number;
}

/** ThreadSchedSampler's read bounds, ms (see its docstring). */
export interface SchedSamplerBounds {
  /** Least time between two reads on on-time ticks: the base a late window is measured from. Default 100. */
  baseMs: number;
  /** Least time between two reads at all, late ticks included. Default 50. */
  minGapMs: number;
}

export const SCHED_SAMPLER_BOUNDS: SchedSamplerBounds = { baseMs: 100, minGapMs: 50 };

/**
 * The calling thread's time on a CPU and waiting on its run queue, from /proc/thread-self/schedstat
 * (Linux, "time spent on the cpu", "time spent waiting on a runqueue", ns; Documentation/scheduler/
 * sched-stats.rst), read around late ticks only, so the diagnostic does not change what it measures: a read
 * is a file open, read and close on the call thread, and once per 20 ms pacer tick it was 21 % of the call
 * thread's profile samples (session 21, PACER_STALL_LOG_MS=5 at 20 offline calls).
 *  - an on-time tick reads only when the last read is `baseMs` old (at most 1000/baseMs reads a second on an
 *    idle pacer): the base a later late window is measured from, at most `baseMs` + one tick before it;
 *  - a late tick reads when the last read is at least `minGapMs` old and gets the change since that read;
 *    within `minGapMs` of a read it gets nothing (a busy pacer whose every tick is late: at most
 *    1000/minGapMs reads a second, each over a window of one or more ticks).
 * `wallMs` of a result is the window it covers (from the previous read), which holds the late window and may
 * be longer. `sample` returns undefined where the file does not exist.
 */
export class ThreadSchedSampler {
  private prev: { at: number; run: number; wait: number } | undefined;
  private broken = false;
  /** Reads of the schedstat file so far (tests, diagnostics). */
  reads = 0;

  constructor(
    private readonly bounds: SchedSamplerBounds = SCHED_SAMPLER_BOUNDS,
    private readonly readStat: () => string = () => readFileSync("/proc/thread-self/schedstat", "latin1"),
  ) {}

  /**
   * At a pacer tick `at` (performance.now() ms): reads when the bounds allow. `late`: the tick is being
   * logged and wants the change since the previous read (default true: every call reads, as a plain probe).
   * @returns the change since the previous read, for a late tick that read; otherwise undefined.
   */
  sample(at: number, late = true): SchedDelta | undefined {
    if (this.broken) return undefined;
    const p = this.prev;
    if (p && at - p.at < (late ? this.bounds.minGapMs : this.bounds.baseMs)) return undefined;
    let run: number;
    let wait: number;
    try {
      this.reads++;
      const f = this.readStat().split(" ");
      run = Number(f[0]) / 1e6;
      wait = Number(f[1]) / 1e6;
    } catch {
      this.broken = true;
      return undefined;
    }
    this.prev = { at, run, wait };
    return p && late ? { wallMs: round1(at - p.at), runMs: round1(run - p.run), queuedMs: round1(wait - p.wait) } : undefined;
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
