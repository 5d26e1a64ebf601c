/**
 * The first thing every received SIP datagram meets, before parsing and before any transaction
 * exists: who may talk to us, and how fast. What a carrier SBC does at its edge.
 *
 * 1. Trust (requests only): when a trusted list is set (SIP_TRUSTED_IPS, addresses or CIDR ranges),
 *    a request from any other source address is either dropped unanswered (`untrusted: "drop"`, the
 *    scanner learns nothing) or answered 403 statelessly by the transport (`"reject"`, the default):
 *    no transaction, no 100 Trying first (RFC 3261 §8.2.7: "A stateless UAS MUST NOT send provisional
 *    (1xx) responses."; §26.3.2.2 on refusing unknown sources). Responses are not trust-checked: they only
 *    ever match a client transaction we created (§17.1.3), anything else is discarded above.
 * 2. Rate (every datagram): one token bucket per source IP address (all its ports together, so a
 *    flood from 50 source ports counts once), `ratePerSecond` tokens refilled continuously up to
 *    `burst`. A datagram finding no token is dropped unanswered (answering a flood would amplify it).
 *    Untrusted sources in drop mode never get a bucket: spoofed addresses cost no memory. Buckets are
 *    kept for at most `maxSources` addresses, least recently seen evicted first.
 * 3. Reject budget: all 403s to untrusted sources together draw from one more bucket
 *    (`rejectPerSecond`, default 50/s, burst 2×). Past it an untrusted request is dropped like in drop
 *    mode, before parsing: a flood from many addresses (or spoofed ones, which would turn us into a
 *    reflector) costs a 403 parse-and-answer at most 50 times a second in total.
 *
 * Pure bookkeeping: O(1) per datagram, no I/O. Time is injected (`now`, ms, monotonic).
 */
import { inRanges, parseIpv4Range, type Ipv4Range } from "../../util/ip-range.ts";

export type UntrustedPolicy = "reject" | "drop";

/** What to do with one datagram. */
export type GateVerdict = "pass" | "rate_limited" | "untrusted_reject" | "untrusted_drop";

export interface SourceGateOptions {
  /** Trusted source addresses/ranges ("192.0.2.1", "198.51.100.0/24"); empty or absent = everyone. */
  trusted?: readonly (string | Ipv4Range)[];
  /** Requests from untrusted sources: answer 403 statelessly (default) or drop them silently. */
  untrusted?: UntrustedPolicy;
  /** Datagrams per second per source IP; 0 or absent = no rate limit. */
  ratePerSecond?: number;
  /** Bucket size: datagrams a quiet source may send at once. Default 2 × ratePerSecond (at least 1). */
  burst?: number;
  /** Source addresses whose bucket is remembered. Default 10,000. */
  maxSources?: number;
  /** 403s to untrusted sources per second, all sources together (burst 2×). Default 50. */
  rejectPerSecond?: number;
  /** Monotonic ms; default performance.now. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class SourceGate {
  readonly trusted: readonly Ipv4Range[];
  readonly untrusted: UntrustedPolicy;
  readonly ratePerSecond: number;
  readonly burst: number;
  private readonly maxSources: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly rejectRate: number;
  private readonly rejectBucket: Bucket;

  /** @throws Error naming a trusted entry that is not an IPv4 address or range. */
  constructor(opts: SourceGateOptions = {}) {
    this.trusted = (opts.trusted ?? []).map((t) => (typeof t === "string" ? parseIpv4Range(t) : t));
    this.untrusted = opts.untrusted ?? "reject";
    this.ratePerSecond = Math.max(0, opts.ratePerSecond ?? 0);
    this.burst = Math.max(1, opts.burst ?? this.ratePerSecond * 2);
    this.maxSources = Math.max(1, opts.maxSources ?? 10_000);
    this.now = opts.now ?? (() => performance.now());
    this.rejectRate = Math.max(0, opts.rejectPerSecond ?? 50);
    this.rejectBucket = { tokens: this.rejectRate * 2, at: this.now() };
  }

  /** Source addresses with a bucket (bounded by `maxSources`). */
  get trackedSources(): number {
    return this.buckets.size;
  }

  /** True when `host` may send requests (no trusted list, or on it). */
  isTrusted(host: string): boolean {
    return this.trusted.length === 0 || inRanges(host, this.trusted);
  }

  /**
   * Decides one datagram from `host`.
   * @param isRequest false for a response (status line `SIP/2.0 …`): rate-limited, never trust-checked.
   */
  admit(host: string, isRequest: boolean): GateVerdict {
    const trusted = !isRequest || this.isTrusted(host);
    if (!trusted && this.untrusted === "drop") return "untrusted_drop";
    if (this.ratePerSecond > 0 && !this.take(host)) return "rate_limited";
    if (trusted) return "pass";
    return refill(this.rejectBucket, this.now(), this.rejectRate, this.rejectRate * 2) ? "untrusted_reject" : "untrusted_drop";
  }

  /** Takes one token from `host`'s bucket; false when it is empty. */
  private take(host: string): boolean {
    const now = this.now();
    let b = this.buckets.get(host);
    if (b) {
      this.buckets.delete(host); // re-inserted below: Map order = least recently seen first
    } else {
      b = { tokens: this.burst, at: now };
      if (this.buckets.size >= this.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(host, b);
    return refill(b, now, this.ratePerSecond, this.burst);
  }
}

/** Refills `b` for the time since its last use (`rate` per second, up to `burst`), then takes a token if one is there. */
function refill(b: Bucket, now: number, rate: number, burst: number): boolean {
  b.tokens = Math.min(burst, b.tokens + ((now - b.at) * rate) / 1000);
  b.at = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}
