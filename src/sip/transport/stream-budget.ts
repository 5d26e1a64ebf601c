/**
 * The read budget shared by TCP/TLS connections (./tcp.ts): unhandled received bytes counted per
 * source IP (across all its connections) and in the whole process (across the TCP and TLS listeners).
 *
 * Each connection has its own marks (./stream-limits.ts: pause at 256 KB, close at 1 MB), but one
 * address may open up to 64 connections per listener: without a shared count one source could make
 * the agent hold 64 × (256 KB + one read) of unparsed SIP. With it:
 * - a source holding more than {@link StreamBudgetLimits}.sourcePauseBytes has each of its connections
 *   paused as it next delivers bytes (TCP's window closes; the peer's writes wait), and they are read
 *   again once the source is down to .sourceResumeBytes;
 * - when the process holds more than .totalPauseBytes, every source holding more than
 *   .sourceResumeBytes is paused the same way (a source holding little, such as a trunk with a request
 *   in flight, is still read);
 * - a chunk that would take its source past .sourceMaxBytes, or the process past .totalMaxBytes, closes
 *   the connection it came on (`tcp_backlog`): reached only by bytes that arrive while paused.
 *
 * Pausing rather than refusing the newest connection: the bytes already held stay bounded whichever
 * connection brought them, a trunk that spreads a burst over several connections is slowed, not cut,
 * and no message already accepted is lost; refusing new connections would not bound what the open ones
 * hold (the connection count has its own limit, TCP_LIMITS.perSource). It is how a SIP proxy's reader
 * stays bounded too (Kamailio's reads only into a connection's free buffer space and leaves the rest to
 * TCP's flow control; a connection overrunning it is closed, as our hard caps do).
 */

/** Marks of the shared read budget, bytes. */
export interface StreamBudgetLimits {
  /** Unhandled bytes of one source (all its connections) beyond which its connections pause as they read. */
  sourcePauseBytes: number;
  /** A source's paused connections are read again once it holds at most this many. */
  sourceResumeBytes: number;
  /** Bytes a source may hold at most: a chunk taking it past this closes its connection. */
  sourceMaxBytes: number;
  /** Unhandled bytes of the process beyond which every source over .sourceResumeBytes pauses. */
  totalPauseBytes: number;
  /** Bytes the process may hold at most: a chunk taking it past this closes its connection. */
  totalMaxBytes: number;
}

export const STREAM_BUDGET: StreamBudgetLimits = {
  // Four connections' pause marks (./stream-limits.ts, 256 KB each): a trunk's pipelined burst fits.
  sourcePauseBytes: 1024 * 1024,
  sourceResumeBytes: 256 * 1024,
  // The pause mark plus a few reads of Bun's (up to ~512 KB each) that arrive as connections pause.
  sourceMaxBytes: 4 * 1024 * 1024,
  totalPauseBytes: 8 * 1024 * 1024,
  totalMaxBytes: 32 * 1024 * 1024,
};

/** Why a chunk was refused: the limit it would have passed. */
export type BudgetBreach = "source" | "process";

/** Unhandled received bytes per source and in all (see the file comment). One per process: ../../cli/sip-listeners.ts. */
export class StreamBudget {
  readonly limits: StreamBudgetLimits;
  private readonly bySource = new Map<string, number>();
  /** Unhandled bytes held by all connections. */
  total = 0;
  /** The most one source and the process held so far. */
  readonly peak = { source: 0, total: 0 };
  /** Called after bytes are released (the listeners read paused connections again if the budget allows). */
  private readonly released = new Set<() => void>();

  constructor(limits?: Partial<StreamBudgetLimits>) {
    this.limits = { ...STREAM_BUDGET, ...limits };
  }

  /** Unhandled bytes held by `host`'s connections. */
  heldBy(host: string): number {
    return this.bySource.get(host) ?? 0;
  }

  /** The limit that `n` more bytes from `host` would pass, or undefined when they fit. */
  breach(host: string, n: number): BudgetBreach | undefined {
    if (this.heldBy(host) + n > this.limits.sourceMaxBytes) return "source";
    if (this.total + n > this.limits.totalMaxBytes) return "process";
    return undefined;
  }

  /** Counts `n` bytes (negative: handled or dropped) against `host`. */
  add(host: string, n: number): void {
    if (n === 0) return;
    const held = this.heldBy(host) + n;
    if (held > 0) this.bySource.set(host, held);
    else this.bySource.delete(host);
    this.total += n;
    if (held > this.peak.source) this.peak.source = held;
    if (this.total > this.peak.total) this.peak.total = this.total;
    if (n < 0) for (const f of this.released) f();
  }

  /** Calls `f` whenever bytes are released; returns the unsubscribe. */
  onRelease(f: () => void): () => void {
    this.released.add(f);
    return () => void this.released.delete(f);
  }

  /** True when a connection of `host` that just read should stop reading. */
  shouldPause(host: string): boolean {
    const held = this.heldBy(host);
    return held > this.limits.sourcePauseBytes || (this.total > this.limits.totalPauseBytes && held > this.limits.sourceResumeBytes);
  }

  /**
   * True when a paused connection of `host` may be read again. `unfinished`: what it holds is one
   * message awaiting its remaining bytes (only reading completes it), so it may resume as soon as
   * neither pause mark holds, not only at the resume mark.
   */
  mayResume(host: string, unfinished: boolean): boolean {
    const held = this.heldBy(host);
    if (held <= this.limits.sourceResumeBytes) return true;
    return unfinished && held <= this.limits.sourcePauseBytes && this.total <= this.limits.totalPauseBytes;
  }
}
