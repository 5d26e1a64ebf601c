/**
 * A Silero stream's queue of frames and copies (stream.ts): in call order, entries reused (no object per
 * frame once warm). Each stream has its own; nothing here runs the model.
 */
import { NO_WINDOWS, type SileroWindow } from "./framer.ts";
import type { VadWindowResult } from "./stream-types.ts";

/**
 * One `process()` call, or a `copyFrom`, waiting its turn in a stream's queue (call order). Reused: a
 * stream keeps a few spare (issue 13: a promise chain per frame — an async closure, `take` and
 * `runWindow` generators, their promises and reactions — was ~2 KB of the call thread's garbage per frame).
 */
export interface Job {
  /** The frame's windows; the next one to take is `next`. */
  windows: readonly SileroWindow[];
  next: number;
  /** The stream's generation when the job was queued (reset() discards what it has not taken). */
  gen: number;
  /** The frame's promise (null for a copy: `copy` settles it). */
  resolve: ((p: number | null) => void) | null;
  reject: ((err: unknown) => void) | null;
  /** copyFrom: what is taken over, once the stream copied has taken the windows it was given before (null: a frame). */
  copy: { snap: Snapshot | null } | null;
  /** Another stream's copy of this one waits for this stream's jobs before it: snapshot taken when reached. */
  barrier: Barrier | null;
}

/** A copy's place in the queue of the stream it copies: `stream` (the copying one) is told when it is reached. */
export interface Barrier {
  stream: object;
  job: Job;
}

/** What `copyFrom` takes over from the other stream: its state after the windows it had been given. */
export interface Snapshot {
  state: Float32Array;
  lastResult: VadWindowResult | null;
  quietRun: number;
  fresh: boolean;
  noisyRun: boolean;
  kept: SileroWindow[];
}

/** Spare jobs a queue keeps (a stream has one or two queued when the model keeps up). */
const SPARE_JOBS = 4;

/** The queue: oldest first from `head`; taken entries go back to the spares. */
export class JobQueue {
  private jobs: Job[] = [];
  private head = 0;
  private readonly spare: Job[] = [];

  /** No job is queued. */
  get empty(): boolean {
    return this.head === this.jobs.length;
  }

  /** The oldest job, or null. */
  peek(): Job | null {
    return this.head < this.jobs.length ? this.jobs[this.head]! : null;
  }

  /** The job after the oldest, or null. */
  second(): Job | null {
    return this.head + 1 < this.jobs.length ? this.jobs[this.head + 1]! : null;
  }

  /** A job for `windows` of generation `gen` (a spare when there is one), queued last. */
  push(windows: readonly SileroWindow[], gen: number): Job {
    const job = this.spare.pop() ?? { windows, next: 0, gen, resolve: null, reject: null, copy: null, barrier: null };
    job.windows = windows;
    job.next = 0;
    job.gen = gen;
    this.jobs.push(job);
    return job;
  }

  /** A frame's job, queued last: its promise settles when the job is done (`resolve`/`reject`). */
  pushFrame(windows: readonly SileroWindow[], gen: number): Promise<number | null> {
    const promise = new Promise<number | null>(this.capture);
    const job = this.push(windows, gen);
    job.resolve = this.resolve;
    job.reject = this.reject;
    return promise;
  }
  /** `new Promise(capture)` hands its resolving functions here (no executor closure per frame). */
  private resolve: ((p: number | null) => void) | null = null;
  private reject: ((err: unknown) => void) | null = null;
  private readonly capture = (resolve: (p: number | null) => void, reject: (err: unknown) => void) => {
    this.resolve = resolve;
    this.reject = reject;
  };

  /** Drops the oldest job (to the spares: its fields are cleared, read them before). */
  shift(): void {
    const job = this.jobs[this.head]!;
    this.jobs[this.head++] = undefined as unknown as Job;
    if (this.head === this.jobs.length) {
      this.jobs.length = 0;
      this.head = 0;
    }
    job.windows = NO_WINDOWS;
    job.resolve = job.reject = job.barrier = null;
    job.copy = null;
    if (this.spare.length < SPARE_JOBS) this.spare.push(job);
  }
}
