import { BRANCH_MAGIC_COOKIE, type SipRequest, type SipResponse } from "../message/index.ts";

/**
 * Server transaction key (RFC 3261 §17.2.3). With an RFC 3261 branch (magic cookie): branch + sent-by
 * of the top Via + method, where ACK maps to INVITE (so the ACK for a non-2xx finds its INVITE
 * transaction). CANCEL keeps its own method, so it forms its own transaction. §17.2.3: "The request
 * matches a transaction if: 1. the branch parameter in the request is equal to the one in the top Via
 * header field of the request that created the transaction, and 2. the sent-by value in the top Via of
 * the request is equal to the one in the request that created the transaction, and 3. the method of the
 * request matches the one that created the transaction, except for ACK, where the method of the request
 * that created the transaction is INVITE."
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
 * The key of the INVITE transaction a CANCEL targets: the CANCEL carries the INVITE's top Via branch, so
 * it is the CANCEL's own key with method INVITE. §9.2: "The TU determines the transaction to be
 * cancelled by taking the CANCEL request, and then assuming that the request method is anything but
 * CANCEL or ACK and applying the transaction matching procedures of Section 17.2.3."
 */
export function cancelTargetKey(cancel: SipRequest): string {
  return serverTransactionKey(cancel, "INVITE");
}

/**
 * Client transaction key (RFC 3261 §17.1.3): the top Via branch and the CSeq method. §17.1.3: a response
 * matches "If the response has the same value of the branch parameter in the top Via header field as
 * the branch parameter in the top Via header field of the request that created the transaction" and "If
 * the method parameter in the CSeq header field matches the method of the request that created the
 * transaction. The method is needed since a CANCEL request constitutes a different transaction, but
 * shares the same value of the branch parameter."
 * @throws SipParseError when Via or CSeq is malformed.
 */
export function clientTransactionKey(msg: SipRequest | SipResponse): string {
  const method = msg.cseq.method;
  return `${msg.topVia.branch ?? ""}|${method === "ACK" ? "INVITE" : method}`;
}
