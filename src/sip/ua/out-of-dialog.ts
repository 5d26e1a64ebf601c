/**
 * Answers to requests for methods we support only inside a dialog (UPDATE, INFO, NOTIFY) when they
 * arrive outside one (no To-tag). These methods are in our Allow header (types.ts), so a 405 would
 * contradict it: RFC 3261 §8.2.1 sends 405 only when the UAS "recognizes but does not support the
 * method", and the Allow of that 405 "MUST list the set of methods supported by the UAS".
 *
 * - UPDATE (RFC 3311) modifies the session of an existing dialog and INFO (RFC 6086) is sent inside
 *   an invite dialog usage; outside one there is nothing to act on → 481 (Call/Transaction Does Not
 *   Exist), the answer §12.2.2 gives a request whose dialog does not exist.
 * - NOTIFY: classified as in a dialog (refer.ts: no Event → 400, a package other than `refer` → 489);
 *   a `refer` NOTIFY matches no subscription of ours (our REFERs are sent in dialogs, so their NOTIFYs
 *   carry a To-tag). RFC 6665 §4.1.3: the subscriber checks that a NOTIFY "matches at least one of its
 *   outstanding subscriptions; if not, it MUST return a '481 Subscription does not exist' response
 *   unless another 400- or 500-class response is more appropriate".
 */
import type { SipRequest } from "../message/index.ts";
import { classifyNotify } from "./refer.ts";

export interface OutOfDialogAnswer {
  status: 400 | 481 | 489;
  reason: string;
}

/** The answer to an out-of-dialog UPDATE, INFO or NOTIFY; undefined for any other method. */
export function outOfDialogAnswer(req: SipRequest): OutOfDialogAnswer | undefined {
  switch (req.method) {
    case "UPDATE":
    case "INFO":
      return { status: 481, reason: "Call/Transaction Does Not Exist" };
    case "NOTIFY": {
      const v = classifyNotify(req); // no dialog, no subscription: 481 for a `refer` NOTIFY
      return v.respond === 200 ? { status: 481, reason: "Subscription does not exist" } : { status: v.respond, reason: v.reason };
    }
    default:
      return undefined;
  }
}
