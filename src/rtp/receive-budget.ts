/**
 * A time budget for RTP receive work per turn of the call thread's event loop (issue 13: SIP OPTIONS
 * answered within 50 ms at 200 calls).
 *
 * Why: one poll of the event loop hands every datagram that arrived meanwhile — for 200 calls, every
 * socket — to the data callbacks in one go, and each is handled in full there (parse, jitter buffer,
 * decode, VAD feed; pace points run the due pacer ticks in between). After a busy stretch that turn
 * lasted up to 136 ms at 200 calls (session 14's probe: RTP receive 40 ms and the ticks its pace points
 * ran 51 ms of it) and nothing else ran meanwhile: the SIP socket was not read, so an OPTIONS waited
 * as long (p99/max 50–207 / 57–239 ms against a 50 ms gate).
 *
 * What: the first datagrams of a turn are handled at once, until `budgetMs` have passed since the
 * turn's first datagram; past it, each datagram is queued (Bun hands a fresh buffer to every datagram,
 * checked on 1.4.5, so keeping it is safe) with its arrival time, and the queue is handled in later
 * slices of at most `budgetMs` each (setImmediate), so the loop polls the SIP socket and runs its
 * timers between slices. While anything waits, every new datagram queues behind it: one FIFO for all
 * sockets keeps each socket's order. Bounded: past `max` waiting, the oldest is dropped and counted
 * (a thread that far behind plays it late anyway; the jitter buffer would drop it as late).
 *
 * Catching up: while the oldest waiting datagram is more than {@link RTP_RX_CATCH_UP_MS} old, a slice goes
 * on past `budgetMs`, up to {@link RTP_RX_SLICE_MAX_MS}. With 4 ms slices only, at 200 calls with callers
 * barging in (CPU 86–90 % before) the rest of a turn (Silero runs, ticks, TTS: 20–30 ms) left RTP too
 * small a share: 4,096 datagrams waited, barge-ins were cut 518–765 ms after the caller began instead of
 * 298–329 ms, CPU 95–99 % (bench:load --barge-in, 3 pairs against the build before).
 *
 *   const rx = new ReceiveBudget({ budgetMs: 4 });
 *   socket data callback: rx.admit(onData, data, port, address);
 *   rx.whenDrained(fn);   // fn runs once every datagram queued by now was handled or dropped
 *
 * `budgetMs` 0 turns it off: every datagram is handled in its callback (the behaviour before).
 */
import { STALL_RX } from "../util/stall-recorder.ts";
import { workDone } from "../util/pace-point.ts";

/**
 * Default RTP_RX_BUDGET_MS: 0, off (every datagram handled as it is read). On (4 ms) it halves how long SIP waits
 * behind RTP at 200 calls but makes the pacer later: outside harness, 6 Dec 2026, 200 calls, one core, same binary,
 * 3 rows on and 2 off — OPTIONS max 64/157/119 ms against 127/237, pacer p99 10/20/15 ms against 6/8 (ticks over
 * 5 ms late 2.8–9.0 % against 1.4–2.2 %). The pacer is the media path; OPTIONS has seconds of slack at a balancer.
 */
export const RTP_RX_BUDGET_MS = 0;
/**
 * Datagrams that may wait, default: 4096 ≈ 410 ms of 200 calls' 20 ms packets (10,000/s), ~0.7 MB of
 * G.711 datagrams. Past it the oldest is dropped (it would be over a 400 ms late frame by then).
 */
export const RTP_RX_BACKLOG_MAX = 4096;
/** A slice goes on past its budget while the oldest waiting datagram arrived more than this long ago, ms. */
export const RTP_RX_CATCH_UP_MS = 40;
/** Longest slice while catching up, ms (and a turn's receive work before the rest waits). */
export const RTP_RX_SLICE_MAX_MS = 12;

/**
 * Process totals (voice_agent_rtp_receive_deferred_total{outcome}): datagrams queued past a turn's
 * budget (`queued`), and of those dropped unhandled because `max` were waiting (`dropped`).
 */
/** A socket's datagram handler (port-pool.ts RtpPacketHandler's shape: `arrivedAt` in performance.now() ms). */
export type RtpPacketHandler = (data: Uint8Array, port: number, address: string, arrivedAt?: number) => void;

export const rtpReceiveDeferTotals = { queued: 0, dropped: 0 };

export interface ReceiveBudgetOptions {
  /** Receive work per turn and per later slice, ms; 0 = handle every datagram at once. Default {@link RTP_RX_BUDGET_MS}. */
  budgetMs?: number;
  /** Datagrams that may wait; default {@link RTP_RX_BACKLOG_MAX}. */
  max?: number;
  /** A slice goes on past `budgetMs` while the oldest waiting arrived longer ago than this, ms; default {@link RTP_RX_CATCH_UP_MS}. */
  catchUpMs?: number;
  /** Longest slice while catching up, ms (≥ budgetMs); default {@link RTP_RX_SLICE_MAX_MS}. */
  sliceMaxMs?: number;
  /** Runs a callback on a later turn of the event loop; default setImmediate. */
  schedule?: (fn: () => void) => void;
  /** A handler threw (the other datagrams are still handled); default: rethrown on a later turn (uncaught). */
  onError?: (err: unknown) => void;
  /**
   * Hand every datagram handled at once its reading of performance.now() as `arrivedAt` too, so the
   * handler (RtpSession.receive) reads no clock of its own: one clock read per datagram instead of two.
   * Only for a process whose sessions' clock is this thread's performance.now() (the agent with its
   * SystemClock, src/cli/call-pacer.ts); off by default (sessions on a FakeClock fed by real sockets).
   * Queued datagrams always carry their arrival time.
   */
  arrivalTimes?: boolean;
}

export class ReceiveBudget {
  readonly budgetMs: number;
  readonly max: number;
  readonly catchUpMs: number;
  readonly sliceMaxMs: number;
  /** {@link ReceiveBudgetOptions.arrivalTimes}. */
  readonly arrivalTimes: boolean;
  private readonly schedule: (fn: () => void) => void;
  private readonly onError: (err: unknown) => void;
  // The FIFO: a ring of `max` slots in parallel arrays (no allocation per queued datagram).
  private readonly handlers: (RtpPacketHandler | undefined)[];
  private readonly datas: (Uint8Array | undefined)[];
  private readonly ports: Int32Array;
  private readonly addresses: (string | undefined)[];
  private readonly arrived: Float64Array;
  private head = 0;
  private size = 0;
  /** Datagrams ever queued, and ever taken off the queue (handled or dropped): marks for `whenDrained`. */
  private queuedCount = 0;
  private doneCount = 0;
  private waiters: { mark: number; fn: () => void }[] = [];
  /** performance.now() of this turn's first datagram; -1: no turn open (the end-of-turn immediate ran). */
  private turnStart = -1;
  private armed = false;

  constructor(o: ReceiveBudgetOptions = {}) {
    this.budgetMs = o.budgetMs ?? RTP_RX_BUDGET_MS;
    this.max = Math.max(1, o.max ?? RTP_RX_BACKLOG_MAX);
    this.catchUpMs = o.catchUpMs ?? RTP_RX_CATCH_UP_MS;
    this.sliceMaxMs = Math.max(this.budgetMs, o.sliceMaxMs ?? RTP_RX_SLICE_MAX_MS);
    this.arrivalTimes = o.arrivalTimes ?? false;
    this.schedule = o.schedule ?? ((fn) => void setImmediate(fn));
    this.onError = o.onError ?? ((err) => void setTimeout(() => { throw err; }, 0));
    this.handlers = new Array(this.max);
    this.datas = new Array(this.max);
    this.addresses = new Array(this.max);
    this.ports = new Int32Array(this.max);
    this.arrived = new Float64Array(this.max);
  }

  /** Datagrams waiting. */
  get pending(): number {
    return this.size;
  }

  /**
   * One received datagram of a socket whose handler is `onData`: handled now while this turn's receive
   * work is within the budget and nothing waits, else queued (handled later with its arrival time).
   */
  admit(onData: RtpPacketHandler, data: Uint8Array, port: number, address: string): void {
    const now = performance.now();
    const at = this.arrivalTimes ? now : undefined;
    if (this.budgetMs <= 0) return this.run(onData, data, port, address, at, now);
    if (this.turnStart < 0) {
      this.turnStart = now;
      this.arm(); // runs after the rest of this poll's datagrams: the turn's end
    }
    if (this.size === 0 && now - this.turnStart < this.budgetMs) return this.run(onData, data, port, address, at, now);
    this.push(onData, data, port, address, now);
  }

  /**
   * Runs `fn` once every datagram queued by now has been handled or dropped: at once when none waits.
   * For decisions "no datagram came" (missing media), which must not be taken while one waits here.
   */
  whenDrained(fn: () => void): void {
    if (this.size === 0) return fn();
    this.waiters.push({ mark: this.queuedCount, fn });
  }

  private push(onData: RtpPacketHandler, data: Uint8Array, port: number, address: string, at: number): void {
    if (this.size === this.max) {
      this.take(); // the oldest goes: past the bound it would play 400 ms late anyway
      rtpReceiveDeferTotals.dropped++;
    }
    const i = (this.head + this.size) % this.max;
    this.handlers[i] = onData;
    this.datas[i] = data;
    this.ports[i] = port;
    this.addresses[i] = address;
    this.arrived[i] = at;
    this.size++;
    this.queuedCount++;
    rtpReceiveDeferTotals.queued++;
  }

  /** Removes the oldest entry (its slot cleared for the GC); the caller reads it first. */
  private take(): void {
    const i = this.head;
    this.handlers[i] = undefined;
    this.datas[i] = undefined;
    this.addresses[i] = undefined;
    this.head = (i + 1) % this.max;
    this.size--;
    this.doneCount++;
  }

  private run(onData: RtpPacketHandler, data: Uint8Array, port: number, address: string, arrivedAt: number | undefined, t0: number): void {
    try {
      onData(data, port, address, arrivedAt);
    } catch (err) {
      this.onError(err);
    }
    workDone(STALL_RX, t0); // recorded for a late tick's log (stall-recorder.ts); a tick due meanwhile runs now, not after the rest of the burst
  }

  private arm(): void {
    if (this.armed) return;
    this.armed = true;
    this.schedule(this.slice);
  }

  /** End of a turn; then a slice of the queue (≤ budgetMs, ≤ sliceMaxMs catching up), and another turn later if some still wait. */
  private readonly slice = (): void => {
    this.armed = false;
    this.turnStart = -1;
    if (this.size === 0) return;
    const start = performance.now();
    let now = start;
    while (this.size > 0 && (now - start < this.budgetMs || (now - start < this.sliceMaxMs && now - this.arrived[this.head]! > this.catchUpMs))) {
      const i = this.head;
      const onData = this.handlers[i]!;
      const data = this.datas[i]!;
      const port = this.ports[i]!;
      const address = this.addresses[i]!;
      const at = this.arrived[i]!;
      this.take();
      this.run(onData, data, port, address, at, now);
      now = performance.now();
    }
    this.wake();
    if (this.size > 0) {
      // Mark this slice as the turn's receive work: datagrams of the next poll queue behind the rest.
      this.turnStart = start;
      this.arm();
    }
  };

  private wake(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.mark <= this.doneCount);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.mark > this.doneCount);
    for (const w of ready) {
      try {
        w.fn();
      } catch (err) {
        this.onError(err);
      }
    }
  }
}

/** The call thread's receive budget (every in-thread RTP socket of the process shares it; set at start-up). */
export let rtpReceiveBudget = new ReceiveBudget();

/** Replaces the process's receive budget (the agent, once at start-up: RTP_RX_BUDGET_MS). */
export function configureRtpReceiveBudget(o: ReceiveBudgetOptions): ReceiveBudget {
  rtpReceiveBudget = new ReceiveBudget(o);
  return rtpReceiveBudget;
}
