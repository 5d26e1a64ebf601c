/**
 * Work that must wait until this thread has polled its sockets once more. A decision "nothing arrived"
 * taken on a thread that was busy (a burst of received datagrams, a Silero batch, a GC pause) may be
 * wrong: the datagrams can be waiting unread in the kernel's socket buffers. Deferred here, it is taken
 * again after they were delivered.
 *
 * How: two chained `setImmediate`s. Measured on Bun 1.4.5 (50 UDP sockets on loopback holding 150
 * datagrams that arrived while the thread was busy): an immediate scheduled from a timer callback runs
 * before the loop's next socket poll (0 of 150 delivered), the second of two chained ones after it (150
 * of 150); scheduled from a socket's data callback, the first already runs after the rest of that poll's
 * datagrams. Two chained immediates thus put at least one poll in between, whichever callback defers.
 * One pair per batch of deferred callbacks, however many calls defer in it.
 *
 *   const gate = new AfterIoPoll();
 *   gate.defer(check);            // check() runs once, after the next socket poll
 */
export class AfterIoPoll {
  private queue: (() => void)[] = [];
  private spare: (() => void)[] = [];
  private armed = false;

  /**
   * @param schedule runs a callback on a later turn of the event loop (default `setImmediate`; tests
   *   pass their own to step it by hand).
   * @param onError a deferred callback threw; the others still run. Default: ignored.
   */
  constructor(
    private readonly schedule: (fn: () => void) => void = (fn) => void setImmediate(fn),
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Callbacks waiting for the next poll. */
  get pending(): number {
    return this.queue.length;
  }

  /** Runs `fn` once, after this thread's next socket poll. No allocation per call beyond the queue slot. */
  defer(fn: () => void): void {
    this.queue.push(fn);
    if (this.armed) return;
    this.armed = true;
    this.schedule(this.second);
  }

  private readonly second = (): void => this.schedule(this.run);

  private readonly run = (): void => {
    const batch = this.queue;
    this.queue = this.spare;
    this.armed = false;
    for (let i = 0; i < batch.length; i++) {
      try {
        batch[i]!();
      } catch (err) {
        this.onError(err);
      }
    }
    batch.length = 0;
    this.spare = batch;
  };
}

/** The call thread's instance (one per thread: module state is per Worker). */
export const afterIoPoll = new AfterIoPoll();
