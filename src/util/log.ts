/**
 * Structured JSON logs (pino) with fixed messages and levels. Caller numbers, SIP URIs of callers and
 * transcripts go only under a `pii` field, removed entirely when `LOG_PII=false`.
 *
 *   log.info({ callId, pii: { from, text } }, "call answered")
 */
import pino from "pino";

export type Logger = pino.Logger;

export interface LogOptions {
  level?: string;
  /** Keep `pii.*` fields (default true). */
  pii?: boolean;
  /** Destination stream; stdout by default. */
  destination?: pino.DestinationStream;
}

/** Creates the process logger. */
export function createLogger(opts: LogOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: opts.pii === false ? { paths: ["pii"], remove: true } : undefined,
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A logger that discards everything (tests). */
export const silentLogger: Logger = pino({ level: "silent" });
