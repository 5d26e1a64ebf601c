/**
 * Back-off for inbound digest authentication (./digest-server.ts): a source that keeps sending wrong
 * credentials is locked out for a while, so guessing a password costs hours instead of the per-source
 * rate limit's 100 tries a second (SIP_RATE_LIMIT).
 *
 * The pattern of Kamailio's htable auth-failure counter and of fail2ban's asterisk jail: count failed
 * attempts per source; at `maxFailures` within `lockoutMs` of each other the source is locked out for
 * `lockoutMs` (fail2ban's `maxretry`/`findtime`/`bantime`: 5 / 10 min / 10 min by default). Kamailio
 * answers a locked-out UAC `403 Try later` (sl_send_reply) instead of challenging it again; so does the
 * UA core here, statelessly (RFC 3261 §8.2.7), one datagram per request.
 *
 * Counted as failures (`countsAsFailure`): a wrong response on a nonce of ours, or an unknown user or
 * realm — a guess. Not counted: no credentials (every caller's first INVITE, answered with the challenge),
 * a stale nonce (RFC 7616 §3.3: valid credentials on an old nonce), a replayed nonce count, a nonce we did
 * not make (e.g. one from before a restart) and malformed credentials (an algorithm we do not offer): a
 * UAC that is only out of step gets its fresh challenge, as before. A success clears the source's count.
 * Keyed by IP address: every UAC behind one proxy or NAT shares it, and over UDP someone who forges a
 * source address can lock that source out (as with fail2ban); SIP_TRUSTED_IPS is the stronger fence.
 *
 * Bounded: at most `maxSources` sources are remembered (the least recently failed forgotten first);
 * entries expire lazily, no timer.
 *
 *   const lockout = new DigestLockout({ maxFailures: 5, lockoutMs: 600_000, now: () => clock.now() });
 *   if (lockout.isLocked(source.host)) → 403, stateless
 *   lockout.failed(source.host)   // true when this failure locked the source out
 */

/** Defaults: 5 failures, then 10 minutes locked out (fail2ban's defaults for its asterisk jail). */
export const DEFAULT_DIGEST_MAX_FAILURES = 5;
export const DEFAULT_DIGEST_LOCKOUT_MS = 600_000;
/** Sources remembered at most (~100 bytes each: under 1 MB). */
export const DIGEST_LOCKOUT_MAX_SOURCES = 8192;

export interface DigestLockoutOptions {
  /** Failed attempts (each within `lockoutMs` of the one before) that lock a source out; 0 = never. */
  maxFailures: number;
  /** How long a source stays locked out, and how long a failure is remembered, ms. */
  lockoutMs: number;
  /** Monotonic ms (the UA's clock). */
  now: () => number;
  /** Sources remembered at most. Default DIGEST_LOCKOUT_MAX_SOURCES. */
  maxSources?: number;
}

/** Whether a verdict of DigestVerifier.verify counts toward a lockout (see above). */
export function countsAsFailure(verdict: string): boolean {
  return verdict === "bad_response" || verdict === "wrong_user";
}

interface Entry {
  failures: number;
  /** When the last failure was counted, ms. */
  last: number;
  /** Locked out until then, ms; 0 when not locked. */
  lockedUntil: number;
}

export class DigestLockout {
  /** Source IP → its failures; insertion order is the order of the last failure. */
  private readonly bySource = new Map<string, Entry>();
  private readonly maxSources: number;

  constructor(private readonly o: DigestLockoutOptions) {
    this.maxSources = o.maxSources ?? DIGEST_LOCKOUT_MAX_SOURCES;
  }

  /** The lockout's length, s (for logs). */
  get lockoutS(): number {
    return Math.round(this.o.lockoutMs / 1000);
  }

  /** Sources remembered now (failed recently or locked out). */
  get size(): number {
    return this.bySource.size;
  }

  /** Whether `host` is locked out now (its requests are refused without checking their credentials). */
  isLocked(host: string): boolean {
    const e = this.bySource.get(host);
    if (!e) return false;
    const now = this.o.now();
    if (e.lockedUntil > now) return true;
    if (e.lockedUntil !== 0 || now - e.last >= this.o.lockoutMs) this.bySource.delete(host); // lockout or failures over
    return false;
  }

  /** Counts one failed authentication from `host`; true when it locks the source out (from now on). */
  failed(host: string): boolean {
    if (this.o.maxFailures <= 0) return false;
    const now = this.o.now();
    const old = this.bySource.get(host);
    const failures = old && old.lockedUntil === 0 && now - old.last < this.o.lockoutMs ? old.failures + 1 : 1;
    const locked = failures >= this.o.maxFailures;
    this.bySource.delete(host); // re-inserted last: the Map's order stays the order of failures
    this.bySource.set(host, { failures, last: now, lockedUntil: locked ? now + this.o.lockoutMs : 0 });
    if (this.bySource.size > this.maxSources) this.bySource.delete(this.bySource.keys().next().value!);
    return locked;
  }

  /** `host` authenticated: its failures are forgotten. */
  succeeded(host: string): void {
    this.bySource.delete(host);
  }

  clear(): void {
    this.bySource.clear();
  }
}
