import { Headers, SipRequest, SipResponse, buildResponse, parseMessage, serializeMessage } from "../../src/sip/message/index.ts";
import type { SentRecord } from "../../src/sip/transport/index.ts";

/** A request as a peer would send it (serialised and re-parsed, so it is exactly wire-shaped). */
export function request(
  method: string,
  opts: { branch?: string; cseq?: number; callId?: string; fromTag?: string; toTag?: string; sentBy?: string; uri?: string; body?: string; extra?: Array<[string, string]> } = {},
): SipRequest {
  const h = new Headers([
    ["Via", `SIP/2.0/UDP ${opts.sentBy ?? "198.51.100.7:5060"};branch=${opts.branch ?? "z9hG4bKpeer1"}`],
    ["Max-Forwards", "70"],
    ["From", `"Caller" <sip:+15550001@198.51.100.7>;tag=${opts.fromTag ?? "peer-tag"}`],
    ["To", `<sip:agent@203.0.113.10>${opts.toTag ? `;tag=${opts.toTag}` : ""}`],
    ["Call-ID", opts.callId ?? "call-1@198.51.100.7"],
    ["CSeq", `${opts.cseq ?? 1} ${method}`],
    ["Contact", "<sip:+15550001@198.51.100.7:5060>"],
    ...(opts.extra ?? []),
  ]);
  if (opts.body !== undefined) h.append("Content-Type", "application/sdp");
  const r = new SipRequest(method, opts.uri ?? "sip:agent@203.0.113.10:5060", h, opts.body);
  return parseMessage(serializeMessage(r)) as SipRequest;
}

/** A response to `req` as a peer would send it. */
export function response(req: SipRequest, status: number, toTag = "uas-tag", extra: Array<[string, string]> = [], body?: string): SipResponse {
  const r = buildResponse(req, status, { toTag, headers: extra, body, contentType: body !== undefined ? "application/sdp" : undefined });
  return parseMessage(serializeMessage(r)) as SipResponse;
}

/** Short description of a sent record: "INVITE" or "200 INVITE". */
export function describeSent(rec: SentRecord): string {
  const m = rec.message;
  return m.kind === "request" ? m.method : `${m.status} ${m.cseq.method}`;
}
