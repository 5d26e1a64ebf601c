/**
 * Received SIP datagrams waiting to be parsed and handled, drained in slices: what a carrier SBC's
 * receive path does under overload. Bun hands every datagram of a socket read to the data callback in
 * one go; handled there, a backlog of a few hundred flood requests (parse, screen, answer: ~0.1–0.3 ms
 * each) would hold the event loop for tens to hundreds of milliseconds, and the 20 ms RTP pacer with
 * it. Queued instead, they are handled at most `sliceMs` at a time, with a turn of the event loop
 * (due timers: the pacer) between slices.
 *
 * Bounded: at most `max` datagrams wait; when the agent cannot keep up (a flood on a starved machine)
 * the newest are dropped and counted by the caller (`push` returns false), never queued without end.
 * Two lanes, each FIFO: `urgent` items (responses to our requests, requests of a confirmed dialog —
 * the live calls) have their own bound (`maxUrgent`) and are handled before the others, so a flood
 * filling the ordinary lane does not drop a live call's BYE.
 *
 * Bounded in age too: an ordinary item that waited longer than `maxAgeMs` is dropped unhandled (`onExpired`).
 * RFC 3261 §17 sizes the transaction timers for how long a message may live in the network — Table 4:
 * T4, "Maximum duration a message will remain in the network", 5 s; Timer I = T4 is how long a completed
 * INVITE server transaction absorbs copies of its INVITE. A datagram queued here longer than that is
 * a message the network held too long: a CANCEL storm's INVITE copies waited up to 7 s on a busy
 * machine, met no transaction any more and became new calls (a 487 and then a 200 to one INVITE).
 * A sender retransmits what it got no answer for, so a stale datagram is dropped work, not lost work.
 *
 * Urgent items are never dropped for age: they are handled however long they waited, and the handler
 * gets the wait (`handle(item, waitedMs)`) to decide. A response can only complete one of our client
 * transactions, and while that transaction lives it is not stale: RFC 3261 §17.1.1.2 and §17.1.3 decide
 * what a late one does (absorbed as a retransmission, or a stray response dropped when no transaction
 * matches). Under CPU starvation (probe, session 11: an agent held to 25 % of a core) every copy of a
 * trunk's 200 OK waited 2.4–4.9 s and was dropped, so callees who answered were CANCELled and recorded
 * `no_answer`; the retransmissions cannot help when each of them waits as long.
 * But handled in arrival order, the stale copies of a retransmitted message (the agent is starved: every
 * copy waits) would hold back its fresh copy: with the 2 s drop removed and nothing else changed, the 200
 * to one call of four was ACKed ~1 s later than before and that callee was CANCELled (starve.sh, 2 of 2
 * runs). So an urgent item found stale is set aside, not handled: fresh urgent items go first, then the
 * stale ones (none is lost; a late copy of what was handled is absorbed), then the ordinary lane.
 *
 * A third lane, `probe`, holds OPTIONS requests (RFC 3261 §11: how a trunk or a load balancer asks
 * whether we take calls) and goes before both others, at most {@link RECEIVE_PROBES_PER_SLICE} per slice:
 * an answer that waits behind a burst of INVITEs says nothing about the agent's state any more (session 13,
 * 200 INVITEs in 1 s: OPTIONS sent 100 ms apart answered together, 1–2 s late, or dropped for age). The
 * answer is cheap and stateless (§8.2.7); the per-slice cap keeps an OPTIONS flood from starving the
 * live calls, and past `maxProbe` waiting, probes go to the ordinary lane.
 *
 * A decision taken for want of a message — a ring timeout's CANCEL, giving up a call whose ACK is
 * late — first waits for the urgent items queued so far (`afterUrgent`): a 200 OK waiting here is an
 * answer, not a silence (starve.sh, session 11: at 25 % of a core the trunk's 200 waited 2–6 s here and
 * the 6 s ring timeout CANCELled 3 of 20 answered calls).
 *
 *   const q = new ReceiveQueue((d) => handle(d), { max: 1024, sliceMs: 1 });
 *   if (!q.push(datagram, fromLivePeer)) dropped++;
 *   q.afterUrgent(() => decide()); // once every urgent item queued by now has been handled
 */

/** Datagrams that may wait at once (about 1.5 MB of SIP at most; ~0.1–0.3 s of work). */
export const RECEIVE_QUEUE_MAX = 1024;
/** Urgent datagrams that may wait at once. */
export const RECEIVE_QUEUE_MAX_URGENT = 256;
/** Longest run of handling before the event loop gets a turn, ms (the pacer must never wait > 1–2 ms). */
export const RECEIVE_SLICE_MS = 1;
/** Probes (OPTIONS) that may wait in their own lane; more go to the ordinary lane. */
export const RECEIVE_QUEUE_MAX_PROBE = 16;
/** Probes handled at most per slice, ahead of the other lanes. */
export const RECEIVE_PROBES_PER_SLICE = 2;
/** Longest wait in the ordinary lane, ms: well under T4 (5 s, RFC 3261 §17.1.2.2), above T1 (a sender's first resend). */
export const RECEIVE_MAX_AGE_MS = 2000;
/**
 * Share of the call thread the ordinary lane (new requests: INVITEs, out-of-dialog requests) may take,
 * measured over windows of {@link RECEIVE_ORDINARY_WINDOW_MS}: past it the lane waits for the next window
 * (urgent items and probes go on), its items age there and the stale ones are dropped unhandled
 * (`maxAgeMs`). The per-source rate limit bounds one address, not many: 200 sources at 100 INVITEs/s
 * each (20,000/s, every one under its own limit) kept the call thread — the thread that paces RTP — 89 %
 * busy screening and answering them 503 (~116 µs each; s22 fresheyes2). A quarter of a core still
 * screens ~2,000 INVITEs a second, ten times a trunk's burst of 200 in one second.
 */
export const RECEIVE_ORDINARY_SHARE = 0.25;
/** Window over which {@link RECEIVE_ORDINARY_SHARE} is counted, ms. */
export const RECEIVE_ORDINARY_WINDOW_MS = 100;

export interface ReceiveQueueOptions<T = unknown> {
  /** Default {@link RECEIVE_QUEUE_MAX}. */
  max?: number;
  /** Default {@link RECEIVE_QUEUE_MAX_URGENT}. */
  maxUrgent?: number;
  /** Default {@link RECEIVE_QUEUE_MAX_PROBE}. */
  maxProbe?: number;
  /** Default {@link RECEIVE_SLICE_MS}. */
  sliceMs?: number;
  /** Default {@link RECEIVE_MAX_AGE_MS}. */
  maxAgeMs?: number;
  /** Default {@link RECEIVE_ORDINARY_SHARE} (0–1; 1 = no bound). */
  ordinaryShare?: number;
  /** Default {@link RECEIVE_ORDINARY_WINDOW_MS}. */
  ordinaryWindowMs?: number;
  /** Told of each ordinary or probe item dropped for waiting longer than `maxAgeMs`, with its wait (ms). */
  onExpired?: (item: T, waitedMs: number) => void;
  /** Runs `fn` on a later turn of the event loop; default setImmediate. */
  schedule?: (fn: () => void) => void;
  /** Runs `fn` after `ms` (the ordinary lane's next window); default setTimeout. */
  delay?: (fn: () => void, ms: number) => void;
  /** Monotonic ms; default performance.now. */
  now?: () => number;
}

/** One FIFO lane: an array consumed from `head`, compacted now and then. */
class Lane<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The first item, not removed; undefined when empty. */
  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T {
    const item = this.items[this.head] as T;
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 256) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** A queued item, when it was queued (`now()` ms) and, urgent ones, their order of arrival (from 1). */
interface Entry<T> {
  item: T;
  at: number;
  seq: number;
}

/** Someone waiting for the urgent items queued up to `upTo` (seq) to be handled; `left` of them still wait. */
interface Waiter {
  upTo: number;
  left: number;
  cb: () => void;
}

export class ReceiveQueue<T> {
  private readonly normal = new Lane<Entry<T>>();
  private readonly urgent = new Lane<Entry<T>>();
  /** OPTIONS probes: ahead of the other lanes, a few per slice. */
  private readonly probe = new Lane<Entry<T>>();
  /** Urgent items found older than `maxAgeMs`: handled when no fresh urgent item waits. */
  private readonly stale = new Lane<Entry<T>>();
  private scheduled = false;
  private closed = false;
  /** seq of the last urgent item pushed. */
  private urgentSeq = 0;
  private waiters: Waiter[] = [];
  private readonly max: number;
  private readonly maxUrgent: number;
  private readonly maxProbe: number;
  private readonly sliceMs: number;
  private readonly maxAgeMs: number;
  private readonly onExpired: ((item: T, waitedMs: number) => void) | undefined;
  private readonly schedule: (fn: () => void) => void;
  private readonly delay: (fn: () => void, ms: number) => void;
  private readonly now: () => number;
  /** The ordinary lane's budget per window (ms of handling) and the current window's start and spending. */
  private readonly ordinaryBudgetMs: number;
  private readonly ordinaryWindowMs: number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private ordinarySpentMs = 0;
  /** A drain is waiting for the ordinary lane's next window. */
  private delayed = false;

  /**
   * `handle` gets each item once, in order, with how long it waited (ms; an urgent item may have waited
   * longer than `maxAgeMs`); it must not throw (a throw is swallowed, the rest go on).
   */
  constructor(
    private readonly handle: (item: T, waitedMs: number) => void,
    o: ReceiveQueueOptions<T> = {},
  ) {
    this.max = Math.max(1, o.max ?? RECEIVE_QUEUE_MAX);
    this.maxUrgent = Math.max(1, o.maxUrgent ?? RECEIVE_QUEUE_MAX_URGENT);
    this.maxProbe = Math.max(0, o.maxProbe ?? RECEIVE_QUEUE_MAX_PROBE);
    this.sliceMs = Math.max(0, o.sliceMs ?? RECEIVE_SLICE_MS);
    this.maxAgeMs = Math.max(0, o.maxAgeMs ?? RECEIVE_MAX_AGE_MS);
    this.onExpired = o.onExpired;
    this.schedule = o.schedule ?? ((fn) => void setImmediate(fn));
    this.delay = o.delay ?? ((fn, ms) => void setTimeout(fn, ms));
    this.now = o.now ?? (() => performance.now());
    this.ordinaryWindowMs = Math.max(1, o.ordinaryWindowMs ?? RECEIVE_ORDINARY_WINDOW_MS);
    this.ordinaryBudgetMs = Math.min(1, Math.max(0, o.ordinaryShare ?? RECEIVE_ORDINARY_SHARE)) * this.ordinaryWindowMs;
  }

  /** Whether the ordinary lane may be handled now (its share of the current window not used up). */
  private ordinaryOpen(now: number): boolean {
    if (now - this.windowStart >= this.ordinaryWindowMs) {
      this.windowStart = now;
      this.ordinarySpentMs = 0;
    }
    return this.ordinaryBudgetMs >= this.ordinaryWindowMs || this.ordinarySpentMs < this.ordinaryBudgetMs;
  }

  /** Items waiting, all lanes. */
  get length(): number {
    return this.normal.length + this.urgent.length + this.stale.length + this.probe.length;
  }

  /**
   * Queues `item` for handling on a later turn: in the urgent lane when `urgent` is true, in the probe
   * lane when "probe" (the ordinary lane when the probe lane is full); false (not queued) when that
   * lane's bound is reached or the queue is closed. `at`: when the item arrived (`now()` ms), when earlier
   * than now (a datagram read on the SIP front thread, that waited in this thread's message queue).
   */
  push(item: T, urgent: boolean | "probe" = false, at = this.now()): boolean {
    if (this.closed) return false;
    if (urgent === "probe") {
      if (this.probe.length < this.maxProbe) {
        this.probe.push({ item, at, seq: 0 });
        return this.scheduleDrain();
      }
      urgent = false;
    }
    const lane = urgent ? this.urgent : this.normal;
    if (urgent ? this.urgent.length + this.stale.length >= this.maxUrgent : lane.length >= this.max) return false;
    lane.push({ item, at, seq: urgent ? ++this.urgentSeq : 0 });
    return this.scheduleDrain();
  }

  private scheduleDrain(): true {
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.drain());
    }
    return true;
  }

  /**
   * Runs `cb` once every urgent item queued by now (fresh or set aside as stale) has been handled: at
   * once (synchronously) when none waits, else right after the last of them, in the drain. Items pushed
   * later are not waited for, so a steady stream cannot hold `cb` back; the wait is bounded by the urgent
   * lane's bound (`maxUrgent` items). On `close` the waiting callbacks run. `cb` must not throw (a throw
   * is swallowed).
   */
  afterUrgent(cb: () => void): void {
    const left = this.urgent.length + this.stale.length;
    if (left === 0 || this.closed) return call(cb);
    this.waiters.push({ upTo: this.urgentSeq, left, cb });
  }

  /**
   * How long the oldest item of the ordinary lane has waited, ms (0 when none waits): how late a new
   * INVITE sent now would be handled, at least.
   */
  oldestWaitMs(): number {
    const e = this.normal.peek();
    return e ? Math.max(0, this.now() - e.at) : 0;
  }

  /** Urgent items waiting (fresh and stale). */
  get urgentLength(): number {
    return this.urgent.length + this.stale.length;
  }

  /** Drops everything waiting (the `afterUrgent` callbacks run); later pushes are refused. */
  close(): void {
    this.closed = true;
    this.normal.clear();
    this.urgent.clear();
    this.probe.clear();
    this.stale.clear();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) call(w.cb);
  }

  /** An urgent item (seq `seq`) has been handled: the waiters counting it are one closer. */
  private urgentDone(seq: number): void {
    if (this.waiters.length === 0) return;
    let due: Waiter[] | undefined;
    for (const w of this.waiters) if (seq <= w.upTo && --w.left === 0) (due ??= []).push(w);
    if (!due) return;
    this.waiters = this.waiters.filter((w) => w.left > 0);
    for (const w of due) call(w.cb);
  }

  private drain(): void {
    this.scheduled = false;
    if (this.closed || this.length === 0) return;
    const until = this.now() + this.sliceMs;
    let probes = RECEIVE_PROBES_PER_SLICE;
    // At least one item per slice, so a slow handler still makes progress; a few probes first, then
    // fresh urgent ones, then stale urgent ones, then the ordinary lane.
    do {
      const lane =
        this.probe.length > 0 && probes-- > 0 ? this.probe : this.urgent.length > 0 ? this.urgent : this.stale.length > 0 ? this.stale : this.normal.length > 0 ? this.normal : this.probe;
      if (lane === this.normal && !this.ordinaryOpen(this.now())) {
        // Only ordinary items left and their share of this window used: the next window goes on with them
        // (one timer, however many pushes come meanwhile; an urgent push still drains at once).
        if (!this.delayed) {
          this.delayed = true;
          this.delay(() => {
            this.delayed = false;
            this.drain();
          }, Math.max(1, this.windowStart + this.ordinaryWindowMs - this.now()));
        }
        return;
      }
      const e = lane.shift();
      const waited = this.now() - e.at;
      if (lane === this.urgent && waited > this.maxAgeMs) {
        this.stale.push(e); // set aside: costs nothing, the fresh ones behind it go first
        continue;
      }
      const t0 = lane === this.normal ? this.now() : 0;
      try {
        if ((lane === this.normal || lane === this.probe) && waited > this.maxAgeMs) this.onExpired?.(e.item, waited);
        else this.handle(e.item, waited);
      } catch {
        /* the handler reports its own failures */
      }
      if (lane === this.normal) this.ordinarySpentMs += this.now() - t0;
      if (lane === this.urgent || lane === this.stale) this.urgentDone(e.seq);
    } while (this.length > 0 && !this.closed && this.now() < until);
    if (this.closed || this.length === 0) return;
    this.scheduled = true;
    this.schedule(() => this.drain());
  }
}

function call(cb: () => void): void {
  try {
    cb();
  } catch {
    /* the callback reports its own failures */
  }
}
