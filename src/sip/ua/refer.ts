/**
 * Blind transfer by REFER (RFC 3515) from inside a call, the transferor side: the NOTIFYs of the implicit
 * `refer` subscription carry a message/sipfrag (RFC 3420) status line of the transfer target's answer.
 *
 * NOTIFY handling (RFC 6665 and RFC 3515 §2.4.4):
 * - no Event header → 400 ("Event" is mandatory in NOTIFY, RFC 6665 §8.2.1);
 * - an event package other than `refer` → 489 Bad Event (RFC 6665 §8.3.1: "the subscriber will
 *   respond with a 489 (Bad Event) response" for packages it does not understand);
 * - `refer` → 200, and the sipfrag's status code (100–699) reported; Subscription-State
 *   `terminated` marks the last one.
 */
import type { SipRequest } from "../message/index.ts";

export interface ReferNotify {
  /** SIP status code of the sipfrag's status line (e.g. 100, 180, 200, 486); undefined when unreadable. */
  status: number | undefined;
  /** Subscription-State said `terminated` (the last NOTIFY of this REFER). */
  terminated: boolean;
}

export type NotifyVerdict = { respond: 200; notify: ReferNotify } | { respond: 400 | 489; reason: string };

/** Reads the status line of a message/sipfrag body: "SIP/2.0 200 OK" → 200. */
export function sipfragStatus(body: string): number | undefined {
  const m = /^\s*SIP\/2\.0\s+(\d{3})\b/.exec(body);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n >= 100 && n <= 699 ? n : undefined;
}

/** Classifies an in-dialog NOTIFY (see the file comment). */
export function classifyNotify(req: SipRequest): NotifyVerdict {
  const event = req.headers.get("Event") ?? req.headers.get("o");
  if (event === undefined || event.trim() === "") return { respond: 400, reason: "Missing Event" };
  const pkg = event.split(";")[0]!.trim().toLowerCase();
  if (pkg !== "refer") return { respond: 489, reason: "Bad Event" };
  const state = (req.headers.get("Subscription-State") ?? "").split(";")[0]!.trim().toLowerCase();
  return { respond: 200, notify: { status: sipfragStatus(req.bodyText), terminated: state === "terminated" } };
}
