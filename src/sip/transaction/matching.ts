import { BRANCH_MAGIC_COOKIE, type SipRequest, type SipResponse } from "../message/index.ts";

/**
 * Server transaction key (RFC 3261 §17.2.3). With an RFC 3261 branch (magic cookie): branch + sent-by
 * of the top Via + method, where ACK maps to INVITE (so the ACK for a non-2xx finds its INVITE
 * transaction). CANCEL keeps its own method, so it forms its own transaction.
 * Without the cookie (RFC 2543 peers) a key from Call-ID, From tag, CSeq number, top Via and
 * Request-URI approximates §17.2.3's fallback rules.
 * @throws SipParseError when the Via, From or CSeq is malformed.
 */
export function serverTransactionKey(req: SipRequest, methodOverride?: string): string {
  const via = req.topVia;
  const method = methodOverride ?? (req.method === "ACK" ? "INVITE" : req.method);
  const branch = via.branch;
  if (branch && branch.startsWith(BRANCH_MAGIC_COOKIE)) return `${branch}|${via.sentBy}|${method}`;
  return `2543|${req.callId}|${req.from.tag ?? ""}|${req.cseq.seq}|${via.sentBy}|${branch ?? ""}|${method}`;
}

/**
 * The key of the INVITE transaction a CANCEL targets (§9.2): the CANCEL carries the INVITE's top Via
 * branch, so it is the CANCEL's own key with method INVITE.
 */
export function cancelTargetKey(cancel: SipRequest): string {
  return serverTransactionKey(cancel, "INVITE");
}

/**
 * Client transaction key (RFC 3261 §17.1.3): the top Via branch and the CSeq method.
 * @throws SipParseError when Via or CSeq is malformed.
 */
export function clientTransactionKey(msg: SipRequest | SipResponse): string {
  const method = msg.cseq.method;
  return `${msg.topVia.branch ?? ""}|${method === "ACK" ? "INVITE" : method}`;
}
