/**
 * Responses sent without a transaction (RFC 3261 §8.2.7 "Stateless UAS Behavior"): the untrusted-source
 * 403 of the transport and the 401 digest challenge of the UA core, so that a flood of such requests
 * leaves no state behind.
 *
 * §8.2.7: "To header tags MUST be generated for responses in a stateless manner - in a manner that will
 * generate the same tag for the same request consistently." The tag here is an HMAC (key random per
 * process) over the request's Call-ID, From tag, CSeq number and top Via branch: a retransmission gets
 * the same tag, another request another one, and no one outside can predict it.
 * The other rules of §8.2.7 hold by construction: no 1xx is sent, nothing is retransmitted, ACK and
 * CANCEL for such a response match nothing and are ignored by the UA core.
 */
import { createHmac, randomBytes } from "node:crypto";
import { buildResponse, type SipRequest, type SipResponse } from "../message/index.ts";

const key = randomBytes(32);

/** The To tag a stateless response to `req` carries: 16 hex digits, the same for a retransmission. */
export function statelessToTag(req: SipRequest): string {
  let branch = "";
  try {
    branch = req.topVia.branch ?? "";
  } catch {
    /* no usable Via: the response cannot be routed anyway */
  }
  return createHmac("sha256", key).update(`${req.callId}\n${req.from.tag ?? ""}\n${req.cseq.seq}\n${branch}`).digest("hex").slice(0, 16);
}

/**
 * A final response to `req` for sending without a transaction (`transport.sendResponse`).
 * @throws SipParseError when the request lacks what a response must copy (Via, From, To, Call-ID, CSeq).
 */
export function statelessResponse(req: SipRequest, status: number, headers: Array<[string, string]> = [], reason?: string): SipResponse {
  return buildResponse(req, status, { toTag: statelessToTag(req), headers, reason });
}
