/**
 * The stateless refusals of new INVITEs (503 + Retry-After from screening), remembered per server
 * transaction key so that a retransmission of a refused INVITE is refused the same way.
 *
 * RFC 3261 §8.2.7: "If a stateless UAS receives a retransmission of a request, it regenerates the response
 * and resends it, just as if it were replying to the first instance of the request. A UAS cannot be
 * stateless unless the request processing for that method would always result in the same response if
 * the requests are identical." Screening depends on the load of the moment (full, draining, the source's
 * pending cap), so screening a retransmission again could answer 200 to an INVITE whose first copy got
 * 503: the caller, done with that transaction, would never ACK or hang up the call it does not know it
 * has (seen in the CANCEL storm: a burst's retransmitted INVITEs, queued behind the burst, became calls
 * once earlier calls ended, held their RTP ports until no-ACK 64·T1 or the RTP timeout).
 *
 * No transaction and no timer per refusal: entries expire lazily, 64·T1 after the refusal (Timer B, the
 * longest a UAC retransmits an INVITE, §17.1.1.2), and at most `max` are kept (the oldest forgotten first),
 * so a flood costs bounded memory: past the bound, a late retransmission is simply screened again.
 *
 *   const refused = new RefusedInvites(() => clock.now(), timers.B);
 *   const again = refused.get(key); // undefined: screen it
 *   refused.remember(key, { status: 503, headers: [["Retry-After", "10"]] });
 */
import type { InviteRefusal } from "./delegate.ts";

/** Refusals remembered at most (~100 bytes each with the key: under 1 MB). */
export const REFUSED_INVITES_MAX = 8192;

export class RefusedInvites {
  /** Key → refusal and when it was sent; insertion order is time order. */
  private readonly byKey = new Map<string, { at: number; refusal: InviteRefusal }>();

  /**
   * @param now monotonic ms (the UA's clock)
   * @param ttlMs how long a refusal is remembered, ms: 64·T1 (Timer B)
   * @param max refusals kept at most
   */
  constructor(
    private readonly now: () => number,
    private readonly ttlMs: number,
    private readonly max = REFUSED_INVITES_MAX,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  /** The refusal sent to the INVITE with server transaction key `key` within the last `ttlMs`, if any. */
  get(key: string): InviteRefusal | undefined {
    const e = this.byKey.get(key);
    if (!e) return undefined;
    if (this.now() - e.at < this.ttlMs) return e.refusal;
    this.byKey.delete(key);
    return undefined;
  }

  /** Remembers that the INVITE with key `key` was refused with `refusal` now. */
  remember(key: string, refusal: InviteRefusal): void {
    const now = this.now();
    this.byKey.delete(key); // re-inserted last: the Map's order stays the order of time
    this.byKey.set(key, { at: now, refusal });
    for (const [k, e] of this.byKey) {
      if (this.byKey.size <= this.max && now - e.at < this.ttlMs) break;
      this.byKey.delete(k);
    }
  }

  clear(): void {
    this.byKey.clear();
  }
}
