import type { SipResponse, Via } from "../message/index.ts";
import type { Address } from "./types.ts";

/** The default SIP port for UDP (RFC 3261 §19.1.2). */
export const DEFAULT_SIP_PORT = 5060;

/**
 * Where a response goes over UDP (RFC 3261 §18.2.2, RFC 3581 §4), from the top Via:
 * 1. `received` present → that address, port from `rport` if it has a value (RFC 3581), else sent-by
 *    port, else 5060;
 * 2. otherwise sent-by host and port (5060 by default).
 * Host names are returned as is (the transport resolves them); IPv6 brackets are removed.
 *
 * `maddr` is ignored, as a carrier SBC does. §18.2.2 says "if the topmost Via header field value
 * contains a 'maddr' parameter, the response MUST be forwarded to the address listed there" — meant
 * for multicast, which we never use; honoured, one datagram with `maddr=<victim>` (or a host name we
 * would then look up) aims our responses — a 200 retransmitted until Timer H, a stateless 403 — at any
 * address. A received request's top Via always has `received` unless its sent-by host is the
 * source address itself (`stampVia`, inbound.ts), so responses go back where the request came from.
 */
export function responseDestination(via: Via): Address {
  const unbracket = (h: string) => (h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h);
  const rport = via.rport;
  if (via.received) {
    return { host: unbracket(via.received), port: typeof rport === "number" ? rport : (via.port ?? DEFAULT_SIP_PORT) };
  }
  return { host: unbracket(via.host), port: typeof rport === "number" ? rport : (via.port ?? DEFAULT_SIP_PORT) };
}

/** {@link responseDestination} of a response's top Via. @throws SipParseError if it has no valid Via. */
export function responseDestinationOf(res: SipResponse): Address {
  return responseDestination(res.topVia);
}
