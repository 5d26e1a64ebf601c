/**
 * IPv4 address ranges in CIDR notation (RFC 4632 §3.1: "a.b.c.d/n", the first n bits are the
 * network). A bare address is a /32. Used for SIP_TRUSTED_IPS.
 */
import { isIP } from "node:net";

export interface Ipv4Range {
  /** Network address as an unsigned 32-bit number (host bits cleared). */
  readonly network: number;
  /** Prefix length, 0–32. */
  readonly prefix: number;
  /** As written back: "a.b.c.d/n" (or "a.b.c.d" for /32). */
  readonly text: string;
}

/** "192.0.2.1" → 0xc0000201; undefined for anything that is not a dotted-quad IPv4 address. */
export function ipv4ToNumber(address: string): number | undefined {
  const a = address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
  if (isIP(a) !== 4) return undefined;
  const p = a.split(".");
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * Parses "a.b.c.d" or "a.b.c.d/n" (0 ≤ n ≤ 32). Host bits under the mask are ignored
 * ("10.1.2.3/8" is 10.0.0.0/8).
 * @throws Error with a message naming the bad text.
 */
export function parseIpv4Range(text: string): Ipv4Range {
  const t = text.trim();
  const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(t);
  const addr = m ? ipv4ToNumber(m[1]!) : undefined;
  const prefix = m?.[2] === undefined ? 32 : Number(m[2]);
  if (addr === undefined || prefix > 32) throw new Error(`"${t}" is not an IPv4 address or a.b.c.d/n range`);
  return { network: (addr & mask(prefix)) >>> 0, prefix, text: t };
}

/** True when `address` (IPv4, or IPv4-mapped IPv6) falls in one of `ranges`. */
export function inRanges(address: string, ranges: readonly Ipv4Range[]): boolean {
  const n = ipv4ToNumber(address);
  if (n === undefined) return false;
  for (const r of ranges) if (((n & mask(r.prefix)) >>> 0) === r.network) return true;
  return false;
}

/**
 * Ranges that are not reachable from the public internet: RFC 1918 private, RFC 6598 shared (CGNAT),
 * loopback, link-local (RFC 3927), "this network" (RFC 1122) and the documentation/benchmark blocks.
 */
export const NON_PUBLIC_IPV4: readonly Ipv4Range[] = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "198.18.0.0/15",
].map(parseIpv4Range);

/** True for an IPv4 address outside {@link NON_PUBLIC_IPV4}. */
export function isPublicIpv4(address: string): boolean {
  return ipv4ToNumber(address) !== undefined && !inRanges(address, NON_PUBLIC_IPV4);
}
