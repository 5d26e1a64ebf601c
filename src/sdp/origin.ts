/**
 * `o=` fields we generate (RFC 4566 §5.2): a numeric session id unique enough per host, a version that
 * the SIP layer increments on every new offer/answer in the same session (re-INVITE).
 */

/** A random decimal session id (up to 63 bits; RFC 4566 §5.2 leaves the method open). */
export function newSessionId(): string {
  const w = crypto.getRandomValues(new Uint32Array(2));
  return (((BigInt(w[0]) << 32n) | BigInt(w[1])) & ((1n << 63n) - 1n)).toString();
}

/** "IN IP4" or "IN IP6" for a literal address (a name is assumed to be IPv4-reachable). */
export function ipVersionOf(address: string): 4 | 6 {
  return address.includes(":") ? 6 : 4;
}

/** Product name in o= and s=. */
export const SDP_USERNAME = "voice-agent";
