/**
 * Logging of refused SIP datagrams as a rate, not a line per packet: a flood of 10,000 datagrams a
 * second must not become 10,000 log lines a second (the log is a resource an attacker could exhaust).
 *
 * Per interval (default 10 s): the first `detailLines` (default 3) refusals are logged in full as
 * they happen; after that they are only counted, and when the interval ends one summary line gives
 * the counts by reason, the number of distinct sources and the busiest ones.
 */
import { type Clock, SystemClock, type TimerHandle } from "../../util/clock.ts";
import type { SipLogger } from "../log.ts";
import type { Address } from "./types.ts";

export type RefusalReason =
  | "rate_limited"
  | "untrusted_rejected"
  | "untrusted_dropped"
  | "malformed_rejected"
  | "malformed_dropped"
  /** Over the message size limit (./oversize.ts), answered 513 Message Too Large. */
  | "oversize_rejected"
  /** Over the message size limit, dropped (no 513 possible), or its TCP/TLS connection closed. */
  | "oversize_dropped"
  /** Dropped unhandled: the receive queue was full (./receive-queue.ts), the agent could not keep up. */
  | "overloaded"
  /** A TCP/TLS connection refused at once: over the per-source or total connection limit. */
  | "tcp_connection_limit"
  /** A TCP/TLS connection from a source not in SIP_TRUSTED_IPS, closed at once. */
  | "tcp_untrusted"
  /** A TCP/TLS connection closed because a message did not arrive whole within the deadline. */
  | "tcp_message_timeout"
  /** A TCP/TLS connection closed because its unhandled received bytes exceeded the limit (./tcp.ts). */
  | "tcp_backlog"
  /** An in-dialog request from an address other than the dialog's peer, answered one stateless 403 (UA core). */
  | "dialog_stranger"
  /** An inbound INVITE with wrong digest credentials (a wrong response, or an unknown user or realm), answered 401. */
  | "auth_failed"
  /** An inbound INVITE from a source locked out after repeated digest failures, answered one stateless 403. */
  | "auth_locked_out";

/** Process-wide totals by reason, for metrics (`voice_agent_sip_refused_total{reason}`). */
export const sipRefusedTotals: Record<RefusalReason, number> = {
  rate_limited: 0,
  untrusted_rejected: 0,
  untrusted_dropped: 0,
  malformed_rejected: 0,
  malformed_dropped: 0,
  oversize_rejected: 0,
  oversize_dropped: 0,
  overloaded: 0,
  tcp_connection_limit: 0,
  tcp_untrusted: 0,
  tcp_message_timeout: 0,
  tcp_backlog: 0,
  dialog_stranger: 0,
  auth_failed: 0,
  auth_locked_out: 0,
};

/** Distinct sources remembered per interval for the summary; more are counted as one "other". */
const MAX_SOURCES_PER_INTERVAL = 1000;

export interface DropReportOptions {
  log: SipLogger;
  clock?: Clock;
  /** Summary interval, ms. Default 10,000. */
  intervalMs?: number;
  /** Refusals logged in full per interval before only counting. Default 3. */
  detailLines?: number;
}

export class DropReport {
  private readonly log: SipLogger;
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly detailLines: number;
  private counts: Partial<Record<RefusalReason, number>> = {};
  private readonly sources = new Map<string, number>();
  private total = 0;
  private detailed = 0;
  private timer: TimerHandle | undefined;

  constructor(o: DropReportOptions) {
    this.log = o.log;
    this.clock = o.clock ?? new SystemClock();
    this.intervalMs = o.intervalMs ?? 10_000;
    this.detailLines = o.detailLines ?? 3;
  }

  /**
   * Notes one refused datagram. `detail` (fixed message + fields) is logged only while the interval's
   * detail budget lasts.
   */
  note(reason: RefusalReason, source: Address, detail?: { msg: string; fields: object }): void {
    sipRefusedTotals[reason]++;
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    this.total++;
    const key = this.sources.has(source.host) || this.sources.size < MAX_SOURCES_PER_INTERVAL ? source.host : "other";
    this.sources.set(key, (this.sources.get(key) ?? 0) + 1);
    if (this.detailed < this.detailLines) {
      this.detailed++;
      this.log.warn({ source, reason, ...(detail?.fields ?? {}) }, detail?.msg ?? "sip datagram refused");
    }
    this.timer ??= this.clock.setTimer(this.intervalMs, () => this.flush());
  }

  /** Ends the interval now: logs the summary when some refusals were only counted. */
  flush(): void {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    if (this.total > this.detailed) {
      const top = [...this.sources.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([host, count]) => ({ host, count }));
      this.log.warn(
        { intervalMs: this.intervalMs, total: this.total, counts: this.counts, sources: this.sources.size, top },
        "sip datagrams refused (summary)",
      );
    }
    this.counts = {};
    this.sources.clear();
    this.total = 0;
    this.detailed = 0;
  }

  /** Flushes and stops the interval timer. */
  close(): void {
    this.flush();
  }
}
