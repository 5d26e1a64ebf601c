/**
 * The logging seam of the SIP stack: a structural subset of pino's `Logger` (pass the process logger
 * from `src/util/log.ts` directly). Messages are fixed strings; fields are structured. Caller URIs and
 * numbers go only under a `pii` key (STYLE habit 10).
 */
export interface SipLogger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

/** Discards everything. Default when no logger is given. */
export const nullLogger: SipLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
