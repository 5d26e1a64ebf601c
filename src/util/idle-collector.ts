/**
 * A full garbage collection once the agent has been idle for a while — what V8's "memory reducer" does
 * for Node, and what JavaScriptCore under Bun does not: its collections are driven by allocation, so an
 * agent whose calls have all ended keeps the garbage of the last ones (measured: 48–76 MiB of RSS still
 * held 40 s after 1,000 soak calls, given back by one full collection) until the next call allocates.
 *
 *   const idle = new IdleCollector({ clock, idleMs: 40_000, active: () => server.activeCalls, onCollected: (r) => log.info(r, "…") });
 *   idle.callEnded();   // from the call observer; arms (or re-arms) the wait
 *   idle.stop();
 *
 * Every call end restarts the wait; when it runs out with no call live, one collection runs and nothing
 * more until another call ends (so an idle agent collects once, not periodically). A collection holds
 * the thread for its duration (measured with a ~37 MiB live heap: 64–123 ms; 0.3–1.4 s on a 2-core
 * machine at load 12–24), which is why it waits for no call to be live: no RTP is being paced then, and
 * an INVITE that arrives meanwhile is answered after it (the caller's Timer A resends it). The default wait (AgentServer: IDLE_GC_S, 40 s) outlasts the SIP
 * transactions of the last calls (Timer J/L, 64·T1 = 32 s), which still reference what those calls held.
 */
import type { Clock, TimerHandle } from "./clock";

/** What one idle collection did. */
export interface IdleCollection {
  /** Time the collection held the thread, ms. */
  ms: number;
  /** Resident set size before and after, MiB (one decimal). */
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** JavaScript heap in use after, MiB. */
  heapUsedMiB: number;
}

export interface IdleCollectorOptions {
  clock: Clock;
  /** Wait after the last call end with no call live, ms. */
  idleMs: number;
  /** Live calls now. */
  active: () => number;
  /** Runs a full, synchronous collection; default `Bun.gc(true)`. */
  collect?: () => void;
  /** Each collection's numbers (for the log). */
  onCollected?: (r: IdleCollection) => void;
}

const MiB = 1024 * 1024;
const round1 = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

export class IdleCollector {
  private timer: TimerHandle | undefined;
  private stopped = false;
  /** Collections run so far. */
  collections = 0;

  constructor(private readonly o: IdleCollectorOptions) {}

  /** A call ended: (re)starts the idle wait. Cheap: one timer cleared and set. */
  callEnded(): void {
    if (this.stopped) return;
    this.o.clock.clearTimer(this.timer);
    this.timer = this.o.clock.setTimer(this.o.idleMs, () => this.fire());
  }

  stop(): void {
    this.stopped = true;
    this.o.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped || this.o.active() > 0) return; // a live call: its end re-arms the wait
    const rssBefore = process.memoryUsage.rss();
    const t0 = performance.now();
    (this.o.collect ?? (() => Bun.gc(true)))();
    const ms = Math.round((performance.now() - t0) * 10) / 10;
    this.collections++;
    const m = process.memoryUsage();
    this.o.onCollected?.({ ms, rssBeforeMiB: round1(rssBefore), rssAfterMiB: round1(m.rss), heapUsedMiB: round1(m.heapUsed) });
  }
}
