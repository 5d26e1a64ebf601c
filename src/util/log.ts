/**
 * Structured JSON logs (pino) with fixed messages and levels. Caller numbers, SIP URIs of callers,
 * DTMF digits, SIP parse details and transcripts go only under a `pii` field, removed entirely when
 * `LOG_PII=false`.
 *
 *   log.info({ callId, pii: { from, text } }, "call answered")
 *
 * Logging never blocks the thread that paces RTP:
 * - the process logger writes to stdout asynchronously (pino's SonicBoom with `sync: false`); when the
 *   reader of stdout stalls, lines are buffered up to LOG_BUFFER_MAX_BYTES and then dropped and counted
 *   (`logTotals.dropped`), never waited for. `flushLog()` writes what is buffered at exit.
 * - lines are written in batches: one `write(2)` per LOG_BATCH_BYTES of text or per LOG_FLUSH_MS,
 *   whichever comes first, instead of one per line (at 200 calls ~55 lines a second, each its own
 *   write); an error line is written at once with what is buffered before it (after the write in
 *   flight, if any, within LOG_FLUSH_MS). A kill -9 can lose the last LOG_FLUSH_MS of lines; an
 *   orderly exit writes them (`flushLog`).
 * - each message kind (the fixed message string) is rate-limited: at most `burst` lines per window
 *   (default 50 per second); the rest are counted, and when the window ends one line
 *   "log lines suppressed" gives the kind and the count (`logTotals.suppressed`).
 */
import pino from "pino";
import { logTotals } from "./log-totals";

export type Logger = pino.Logger;

/** Largest amount of log text held in memory while stdout is not being read, bytes. */
export const LOG_BUFFER_MAX_BYTES = 4 * 1024 * 1024;
/** Buffered log text that is written at once, bytes (below SonicBoom's maxWrite of 16 KiB). */
export const LOG_BATCH_BYTES = 8 * 1024;
/** Longest time a line waits in the buffer before it is written, ms. */
export const LOG_FLUSH_MS = 100;
/** Default rate limit: lines per message kind per window. */
export const DEFAULT_LOG_BURST = 50;
/** Default rate-limit window, ms. */
export const DEFAULT_LOG_WINDOW_MS = 1000;
/** The summary message of a suppressed burst (itself never suppressed). */
export const SUPPRESSED_MSG = "log lines suppressed";

export { logTotals } from "./log-totals";

export interface LogRateLimit {
  /** Lines of one message kind let through per window; 0 turns the limit off. */
  burst: number;
  /** Window, ms. */
  windowMs?: number;
}

export interface LogOptions {
  level?: string;
  /** Keep `pii.*` fields (default true). */
  pii?: boolean;
  /** Destination stream; default stdout, written asynchronously. */
  destination?: pino.DestinationStream;
  /** Per-message-kind limit; default DEFAULT_LOG_BURST per DEFAULT_LOG_WINDOW_MS. */
  rateLimit?: LogRateLimit;
}

/**
 * Counts lines per message kind in fixed windows and decides which pass. Bounded: at most 1,000
 * kinds are tracked per window (messages are fixed strings, so real logs have far fewer).
 */
export class LogLimiter {
  private readonly counts = new Map<string, { seen: number; level: number }>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly burst: number,
    private readonly windowMs: number,
    /** Writes the summary of a kind whose lines were suppressed in the window that just ended. */
    private readonly summarise: (kind: string, suppressed: number, level: number) => void,
  ) {}

  /** True when a line of `kind` may be written now. */
  admit(kind: string, level: number): boolean {
    if (this.burst <= 0 || kind === SUPPRESSED_MSG) return true;
    let c = this.counts.get(kind);
    if (!c) {
      if (this.counts.size >= 1000) return true;
      c = { seen: 0, level };
      this.counts.set(kind, c);
    }
    // The window starts with the first line counted in it; it ends on a timer that does not keep the
    // process alive.
    if (!this.timer) {
      this.timer = setTimeout(() => this.endWindow(), this.windowMs);
      (this.timer as { unref?: () => void }).unref?.();
    }
    c.seen++;
    c.level = Math.max(c.level, level);
    if (c.seen <= this.burst) return true;
    logTotals.suppressed++;
    return false;
  }

  /** Ends the current window now: summaries for the kinds over their burst. */
  endWindow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const over = [...this.counts.entries()].filter(([, c]) => c.seen > this.burst);
    this.counts.clear();
    for (const [kind, c] of over) this.summarise(kind, c.seen - this.burst, c.level);
  }
}

const limiters = new WeakMap<Logger, LogLimiter>();
const destinations = new WeakMap<Logger, { flushSync?: () => void }>();

/** Creates the process logger. */
export function createLogger(opts: LogOptions = {}): Logger {
  let dest = opts.destination;
  /** Writes the buffered lines now (a no-op with nothing buffered or a write in flight: its end writes them). */
  let flushNow = (): void => {};
  if (!dest) {
    const boom = pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, maxLength: LOG_BUFFER_MAX_BYTES });
    boom.on("drop", () => void logTotals.dropped++);
    // A closed stdout (EPIPE) must not become an uncaught exception: logs are best effort.
    boom.on("error", () => void logTotals.dropped++);
    // SonicBoom's own periodicFlush writes an empty string when nothing is buffered: this timer does not.
    const state = boom as unknown as { _writing?: boolean; _len?: number; destroyed?: boolean };
    flushNow = () => {
      if (!state._writing && state._len && !state.destroyed) boom.flush();
    };
    const t = setInterval(flushNow, LOG_FLUSH_MS);
    (t as { unref?: () => void }).unref?.();
    dest = boom;
  }
  const burst = opts.rateLimit?.burst ?? DEFAULT_LOG_BURST;
  const windowMs = opts.rateLimit?.windowMs ?? DEFAULT_LOG_WINDOW_MS;
  let logger!: Logger;
  const limiter = new LogLimiter(burst, windowMs, (kind, suppressed, level) => {
    const fields = { kind, suppressed, windowMs };
    if (level >= 50) logger.error(fields, SUPPRESSED_MSG);
    else logger.warn(fields, SUPPRESSED_MSG);
  });
  logger = pino(
    {
      level: opts.level ?? "info",
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: opts.pii === false ? { paths: ["pii"], remove: true } : undefined,
      hooks: {
        logMethod(args, method, level) {
          const kind = typeof args[1] === "string" ? args[1] : typeof args[0] === "string" ? args[0] : "";
          if (!limiter.admit(kind, level)) return;
          method.apply(this, args as Parameters<typeof method>);
          if (level >= 50) flushNow(); // error and fatal: on stdout now (the file comment)
        },
      },
    },
    dest,
  );
  limiters.set(logger, limiter);
  destinations.set(logger, dest as { flushSync?: () => void });
  return logger;
}

/**
 * Writes out everything buffered (the summaries of the current window, then the asynchronous buffer)
 * and waits, at most `timeoutMs`, until the last write has reached stdout. Call before the process
 * exits. Never rejects; with stdout blocked it gives up after the timeout.
 */
export async function flushLog(logger: Logger, timeoutMs = 2000): Promise<void> {
  limiters.get(logger)?.endWindow();
  // SonicBoom's state (`_writing`: an asynchronous write in flight; `_len`: bytes not yet written):
  // its flush(cb) does not wait with minLength 0, and flushSync() skips a write in flight.
  const dest = destinations.get(logger) as { flushSync?: () => void; _writing?: boolean; _len?: number } | undefined;
  if (!dest?.flushSync) return;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!dest._writing) {
      if (!dest._len) return;
      try {
        dest.flushSync();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return; // closed or not ready: give up
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A logger that discards everything (tests). */
export const silentLogger: Logger = pino({ level: "silent" });
