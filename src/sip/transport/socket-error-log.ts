import type { SipLogger } from "../log.ts";

/** Same destination and error code: logged once per this window, with the count of the rest, ms. */
export const SOCKET_ERROR_LOG_WINDOW_MS = 60_000;

/**
 * Socket errors and refused sends, logged once per destination and code per
 * {@link SOCKET_ERROR_LOG_WINDOW_MS} with the count of those not logged since: a dead peer or a full send
 * buffer under a flood must not become a log line per datagram. Bounded: at most 1,000 keys remembered.
 */
export class SocketErrorLog {
  /** `ip:port code` → when it was last logged and how many were not logged since. */
  private readonly seen = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly log: SipLogger) {}

  /** Logs `msg` with `fields` at warn, unless `key` (`ip:port`) and `code` were logged within the window. */
  note(key: string, code: string, fields: Record<string, unknown>, msg: string): void {
    const k = `${key} ${code}`;
    const now = performance.now();
    const seen = this.seen.get(k);
    if (seen && now - seen.at < SOCKET_ERROR_LOG_WINDOW_MS) {
      seen.suppressed++;
      return;
    }
    if (this.seen.size > 1000) this.seen.clear(); // bounded: a scan of many destinations
    this.seen.set(k, { at: now, suppressed: 0 });
    this.log.warn({ ...fields, suppressedBefore: seen?.suppressed || undefined, windowMs: SOCKET_ERROR_LOG_WINDOW_MS }, msg);
  }
}
