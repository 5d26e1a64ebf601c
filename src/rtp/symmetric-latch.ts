/**
 * Where to send RTP, and which source to listen to: symmetric RTP (RFC 4961 §3: "a device sends its
 * RTP from the same address and port it receives on") with latching, the usual answer to NAT in front
 * of the caller, done the way a carrier SBC does it so a stray or forged source cannot take the call's
 * audio.
 *
 * Rule:
 *  1. Until the first accepted packet, send to the SDP address.
 *  2. Only sources on an *allowed address* are ever latched onto: the address the SDP `c=` line named
 *     or the address the signalling came from (the INVITE's source, the trunk) — and, for signalling
 *     from loopback, the address our SDP advertised (allowedSources below). The port may differ
 *     (NAT rewrites ports; RFC 4961 §4 notes that the port a peer sends from need not be the one its
 *     SDP names when it is not symmetric). Packets from any other address are dropped, always —
 *     in mode `signalled` (the default). In mode `any` (RTP_LATCH=any) the address check is off: a
 *     caller behind NAT reached through a proxy names a private address in its SDP and signals from
 *     the proxy, so its media comes from an address neither names; the first source latches, and
 *     rules 3–5 (takeover only after silence, SSRC changes counted) still hold.
 *  3. Latch: the first packet of an expected payload type (the session filters on that) from an
 *     allowed address fixes the remote to its source address and port.
 *  4. Takeover: a packet from another allowed source is dropped while the latched source is alive; it
 *     moves the latch only when the latched source has been silent for `takeoverSilenceMs` (default
 *     500 ms) — a real move (media server failover, NAT rebinding) costs ≤ 500 ms, a burst from a
 *     second source while the caller talks moves nothing, however many packets it holds.
 *  5. An SSRC change on the latched source is not a takeover signal; the session only counts it.
 *
 * Time is injected: every `observe` call carries `now` (ms, monotonic).
 */

export interface RtpEndpoint {
  address: string;
  port: number;
}

/**
 * Which sources may be latched onto: `signalled` = only the SDP address or the signalling source's
 * address (rule 2); `any` = any source (behind-NAT callers via a proxy), takeover rule unchanged.
 */
export type LatchMode = "signalled" | "any";

export const LATCH_MODES: readonly LatchMode[] = ["signalled", "any"];

export interface SymmetricLatchOptions {
  /** Rule 2 on (`signalled`, default) or off (`any`). */
  mode?: LatchMode;
  /**
   * Addresses a source may latch from besides the SDP address (the signalling source). The SDP
   * address of `initial` and of every `retarget` is always allowed.
   */
  allowedAddresses?: readonly string[];
  /** Silence of the latched source (ms) after which another allowed source may take over. Default 500. */
  takeoverSilenceMs?: number;
}

/**
 * The addresses rule 2 allows besides the SDP's: the signalling source's, and — only when that source
 * is a loopback address — the address our own SDP advertised. A caller on this host that sends to the
 * address in our SDP gets that address as its packets' source (the kernel picks the source from the
 * route to it): s15 finding 1, baresip on 127.0.0.1 calling an agent that advertised 192.0.2.2 had all
 * 1,503 of its packets dropped. Only a process on this host can send from one of its addresses: Linux
 * drops a packet arriving from outside with a local source address (a martian; net.ipv4.conf.*.accept_local
 * is off by default).
 */
export function allowedSources(signalling: string | undefined, advertised: string | undefined): string[] {
  if (signalling === undefined) return [];
  const loopback = /^(::ffff:)?127\./.test(signalling) || signalling === "::1";
  return loopback && advertised !== undefined && advertised !== signalling ? [signalling, advertised] : [signalling];
}

/** Default silence (ms) of the latched source before another one may take over. */
export const DEFAULT_TAKEOVER_SILENCE_MS = 500;

/** Why `observe` refused a packet. */
export type LatchVerdict = "accepted" | "foreign_address" | "latched_elsewhere";

export class SymmetricLatch {
  private current: RtpEndpoint;
  private isLatched = false;
  private lastSeenAt = 0;
  /**
   * The source address exactly as the socket last reported it for an accepted packet from the latched
   * source (before normalising): the same string again from the same port is that source, accepted
   * without normalising or a set look-up (once per packet at 50 packets/s per call). "" when none.
   */
  private latchedRaw = "";
  private readonly allowed = new Set<string>();
  private readonly takeoverSilenceMs: number;
  private readonly anySource: boolean;
  /** Times the latch moved after the first latch. */
  relatches = 0;

  /** @param initial the remote from SDP */
  constructor(initial: RtpEndpoint, opts: SymmetricLatchOptions = {}) {
    this.current = { ...initial };
    this.takeoverSilenceMs = opts.takeoverSilenceMs ?? DEFAULT_TAKEOVER_SILENCE_MS;
    this.anySource = opts.mode === "any";
    this.allow(initial.address);
    for (const a of opts.allowedAddresses ?? []) this.allow(a);
  }

  /** Where to send now. */
  get target(): RtpEndpoint {
    return this.current;
  }

  get latched(): boolean {
    return this.isLatched;
  }

  /**
   * The remote moved its media (a re-INVITE with a new `c=`/`m=`, RFC 3264 §8.3.1): send to the new
   * SDP address from now on, allow it, and latch afresh on the first packet from an allowed address —
   * but not on a packet from where the media was before: a late packet of the old stream still in
   * flight must not pull our audio back (RFC 3264 §8.3.1: the offerer "MUST be prepared to receive
   * media on both the old and new ports" — receive, not send there). Only when the old source goes on
   * for `takeoverSilenceMs` with nothing from anywhere else (the peer's media really stayed) does it
   * latch again, the takeover rule.
   */
  retarget(remote: RtpEndpoint): void {
    if (this.isLatched || this.stale === undefined) this.stale = { ...this.current };
    this.staleSince = undefined;
    this.current = { ...remote };
    this.allow(remote.address);
    this.isLatched = false;
  }

  /** Where the media was before the last retarget, until the first packet latches after it. */
  private stale: RtpEndpoint | undefined;
  /** When the first packet from `stale` arrived after the retarget (ms). */
  private staleSince: number | undefined;

  /**
   * Reports a valid packet of an expected payload type from `address:port` at `now` (ms).
   * @returns "accepted" when the packet comes from the (possibly just) latched source and should be
   *   used; otherwise why it must be dropped.
   */
  observe(address: string, port: number, now: number): LatchVerdict {
    // Fast path: the latched source's own packet (its address normalises to `current.address`, which
    // is allowed: `allowed` only grows, and a retarget unlatches).
    if (this.isLatched && port === this.current.port && address === this.latchedRaw) {
      this.lastSeenAt = now;
      return "accepted";
    }
    const addr = normaliseAddress(address);
    if (!this.anySource && !this.allowed.has(addr)) return "foreign_address";
    if (this.isLatched && addr === this.current.address && port === this.current.port) {
      this.lastSeenAt = now;
      this.latchedRaw = address;
      return "accepted";
    }
    if (this.isLatched) {
      if (now - this.lastSeenAt < this.takeoverSilenceMs) return "latched_elsewhere";
      this.relatches++;
    } else if (this.stale && addr === this.stale.address && port === this.stale.port) {
      this.staleSince ??= now;
      if (now - this.staleSince < this.takeoverSilenceMs) return "latched_elsewhere";
      this.relatches++;
    }
    this.stale = undefined;
    this.isLatched = true;
    this.current = { address: addr, port };
    this.latchedRaw = address;
    this.lastSeenAt = now;
    return "accepted";
  }

  private allow(address: string): void {
    const a = normaliseAddress(address);
    if (a !== "" && a !== "0.0.0.0" && a !== "::") this.allowed.add(a);
  }
}

/** IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack socket reports) → plain IPv4; lower case. */
export function normaliseAddress(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}
