/**
 * Blind transfer by REFER (RFC 3515) from inside a call, the transferor side: the NOTIFYs of the implicit
 * `refer` subscription carry a message/sipfrag (RFC 3420) status line of the transfer target's answer.
 *
 * NOTIFY handling (RFC 6665 and RFC 3515 §2.4.4):
 * - no Event header → 400 ("Event" is mandatory in NOTIFY, RFC 6665 §8.2.1);
 * - an event package other than `refer` → 489 Bad Event (RFC 6665 §8.3.1: "the subscriber will
 *   respond with a 489 (Bad Event) response" for packages it does not understand);
 * - `refer` matching no subscription of ours (no REFER sent in this dialog, its subscription ended, or
 *   an `id` naming no REFER of ours) → 481. RFC 6665 §4.1.3: "the subscriber should check that it
 *   matches at least one of its outstanding subscriptions; if not, it MUST return a "481 Subscription
 *   does not exist" response unless another 400- or 500-class response is more appropriate";
 * - `refer` matching one → 200, and the sipfrag's status code (100–699) reported; Subscription-State
 *   `terminated` marks the last one (the subscription is then closed).
 */
import type { SipRequest } from "../message/index.ts";

export interface ReferNotify {
  /** SIP status code of the sipfrag's status line (e.g. 100, 180, 200, 486); undefined when unreadable. */
  status: number | undefined;
  /** Subscription-State said `terminated` (the last NOTIFY of this REFER). */
  terminated: boolean;
}

export type NotifyVerdict = { respond: 200; notify: ReferNotify } | { respond: 400 | 481 | 489; reason: string };

/** Reads the status line of a message/sipfrag body: "SIP/2.0 200 OK" → 200. */
export function sipfragStatus(body: string): number | undefined {
  const m = /^\s*SIP\/2\.0\s+(\d{3})\b/.exec(body);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n >= 100 && n <= 699 ? n : undefined;
}

/**
 * The implicit subscriptions of the REFERs sent in one dialog, by the REFER's CSeq number. RFC 3515
 * §2.4.6: "the NOTIFY requests for a REFER ... MUST include an id parameter in the Event header field
 * ... whose value is the CSeq number of the REFER" when a dialog carries several; the first may omit it
 * (an `Event: refer` without id then matches any open one).
 */
export class ReferSubscriptions {
  private readonly open = new Set<number>();

  /** A REFER with CSeq `seq` went out: its subscription exists from now (a NOTIFY may beat the 202). */
  opened(seq: number): void {
    this.open.add(seq);
  }

  /** The REFER got a non-2xx final response (no subscription, RFC 6665 §4.1.2.1), or its last NOTIFY came. */
  closed(seq: number): void {
    this.open.delete(seq);
  }

  /** The CSeq of the open subscription `id` names (any open one without id), or undefined. */
  match(id: string | undefined): number | undefined {
    if (id === undefined) return this.open.values().next().value;
    const seq = /^\d{1,10}$/.test(id) ? Number(id) : NaN;
    return this.open.has(seq) ? seq : undefined;
  }
}

/**
 * Classifies a NOTIFY (see the file comment) against the dialog's REFER subscriptions; out of a dialog
 * (`subscriptions` undefined) a `refer` NOTIFY matches none. A matching `terminated` one closes its
 * subscription.
 */
export function classifyNotify(req: SipRequest, subscriptions?: ReferSubscriptions): NotifyVerdict {
  const event = req.headers.get("Event") ?? req.headers.get("o");
  if (event === undefined || event.trim() === "") return { respond: 400, reason: "Missing Event" };
  const [pkg, ...params] = event.split(";");
  if (pkg!.trim().toLowerCase() !== "refer") return { respond: 489, reason: "Bad Event" };
  const id = params.map((p) => p.split("=")).find(([k]) => k!.trim().toLowerCase() === "id")?.[1]?.trim();
  const seq = subscriptions?.match(id);
  if (seq === undefined) return { respond: 481, reason: "Subscription does not exist" };
  const state = (req.headers.get("Subscription-State") ?? "").split(";")[0]!.trim().toLowerCase();
  const terminated = state === "terminated";
  if (terminated) subscriptions!.closed(seq);
  return { respond: 200, notify: { status: sipfragStatus(req.bodyText), terminated } };
}
