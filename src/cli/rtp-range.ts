/**
 * Whether RTP_PORT_START–RTP_PORT_END can hold MAX_CALLS calls. Each call takes an even RTP port and
 * the odd RTCP port above it (RFC 3550 §11; src/rtp/port-pool.ts), so a range holds about half its
 * size in calls; a smaller one is legal (a narrow firewall opening) but every call past it is refused
 * with 503 while the ports are taken. check-config and the start print the warning.
 */
import { evenRtpPorts } from "../rtp";
import type { Config } from "./config.ts";

/** Calls whose ports fit in `start`–`end` (the port pool's own rule, src/rtp/port-pool.ts `evenRtpPorts`). */
export function rtpPortPairs(start: number, end: number): number {
  return evenRtpPorts(start, end).length;
}

/** A warning naming both variables when the range holds fewer calls than MAX_CALLS, else undefined. */
export function rtpRangeWarning(cfg: Pick<Config, "rtpPortStart" | "rtpPortEnd" | "maxCalls">): string | undefined {
  const calls = rtpPortPairs(cfg.rtpPortStart, cfg.rtpPortEnd);
  if (calls >= cfg.maxCalls) return undefined;
  return (
    `voice-agent: warning: RTP_PORT_START-RTP_PORT_END (${cfg.rtpPortStart}-${cfg.rtpPortEnd}) hold ports for ${calls} calls ` +
    `(an even RTP port and the RTCP port above it each), fewer than MAX_CALLS=${cfg.maxCalls}: calls beyond ${calls} get 503. ` +
    `Widen the range to ${cfg.rtpPortStart}-${cfg.rtpPortStart + 2 * cfg.maxCalls - 1} or more (and open it in the firewall), or lower MAX_CALLS.`
  );
}
