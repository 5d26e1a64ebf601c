/**
 * Calls' ends decided on the call thread's own schedule, spread over its turns (issue 13: a call's end
 * must not cost the other calls a gap). The conversation ends a call from inside a pacer tick (RTP
 * timeout) or a timer (end_call after the goodbye, idle, time limit): its BYE and teardown — aborts, the
 * STT and TTS WebSockets, VAD streams, RTP/RTCP sockets and port, the record's final write (SQLite, every
 * turn), the observers — ~0.5–3 ms of the thread per call (measured at 50 calls, session 19). When many
 * calls end in one tick (a trunk failing: every call's RTP stops at once) that ran inside the tick, and
 * held every other call's frames for the sum (bench:load --hangup-wave 100/0/rtp at 200 calls: the other
 * calls' gaps up to 69 ms, a 95 ms turn). Queued here instead, the ends run in order, each followed by a
 * pace point (util/pace-point.ts: a due tick runs at once), at most `sliceMs` of them per turn of the
 * event loop (setImmediate): 21 ms and 44 ms there.
 *
 *   const teardowns = new TeardownQueue({ onError: (err) => log.error({ err: String(err) }, "call teardown failed") });
 *   teardowns.push(() => void session.end("rtp_timeout"));   // runs soon, on this thread, in order
 *   teardowns.flush();                                       // shutdown: everything queued runs now
 *
 * Unbounded on purpose: each job is a call that is ending, and there are at most MAX_CALLS of those.
 */
import { STALL_END } from "../util/stall-recorder";
import { workDone } from "../util/pace-point";

/** Longest run of teardowns before the event loop gets a turn, ms (as the SIP receive queue's slice). */
export const TEARDOWN_SLICE_MS = 1;

export interface TeardownQueueOptions {
  /** A job threw: the others still run. */
  onError(err: unknown): void;
  /** Longest run of jobs per turn, ms; default TEARDOWN_SLICE_MS (one job always runs). */
  sliceMs?: number;
  /** How a later turn is asked for; default `setImmediate` (after the loop's due timers and I/O). */
  schedule?: (fn: () => void) => void;
  /** The slice's clock, ms; default `performance.now`. */
  now?: () => number;
}

export class TeardownQueue {
  private readonly jobs: Array<() => void> = [];
  private head = 0;
  private scheduled = false;
  private readonly sliceMs: number;
  private readonly schedule: (fn: () => void) => void;
  private readonly now: () => number;

  constructor(private readonly o: TeardownQueueOptions) {
    this.sliceMs = o.sliceMs ?? TEARDOWN_SLICE_MS;
    this.schedule = o.schedule ?? ((fn) => void setImmediate(fn));
    this.now = o.now ?? (() => performance.now());
  }

  /** Teardowns waiting. */
  get size(): number {
    return this.jobs.length - this.head;
  }

  /** Queues `job` to run on a later turn, after those queued before it. */
  push(job: () => void): void {
    this.jobs.push(job);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.drain);
    }
  }

  /** Runs every queued job now, in order (orderly shutdown). */
  flush(): void {
    while (this.size > 0) this.runNext();
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    if (this.size === 0) return; // flushed meanwhile
    const end = this.now() + this.sliceMs;
    do this.runNext();
    while (this.size > 0 && this.now() < end);
    if (this.size > 0) {
      this.scheduled = true;
      this.schedule(this.drain);
    }
  };

  private runNext(): void {
    const job = this.jobs[this.head]!;
    this.jobs[this.head++] = noop; // the job's closure (a whole call) is not kept alive by the array
    if (this.head === this.jobs.length) this.jobs.length = this.head = 0;
    else if (this.head > 1024 && this.head * 2 > this.jobs.length) this.jobs.splice(0, this.head), (this.head = 0);
    const start = performance.now();
    try {
      job();
    } catch (err) {
      this.o.onError(err);
    } finally {
      workDone(STALL_END, start); // the span for the stall log; a pacer tick due meanwhile runs now
    }
  }
}

function noop(): void {}
