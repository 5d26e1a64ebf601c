import { Headers } from "./headers.ts";
import { SipResponse, type SipRequest } from "./message.ts";
import { parseNameAddr } from "./name-addr.ts";

/**
 * Default reason phrases: RFC 3261 §21, plus the codes of later RFCs that we send — 422 (RFC 4028 §6,
 * Session-Expires below our Min-SE), 469 (RFC 6086 §11.6, an INFO of an Info Package we did not indicate)
 * and 489 (RFC 6665 §8.3.1, an event package we do not know).
 * A status we send must be in here: an empty phrase ("SIP/2.0 422 ") is legal but says nothing.
 */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: "Trying",
  180: "Ringing",
  181: "Call Is Being Forwarded",
  182: "Queued",
  183: "Session Progress",
  200: "OK",
  202: "Accepted",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Moved Temporarily",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  410: "Gone",
  413: "Request Entity Too Large",
  415: "Unsupported Media Type",
  416: "Unsupported URI Scheme",
  420: "Bad Extension",
  421: "Extension Required",
  422: "Session Interval Too Small",
  423: "Interval Too Brief",
  469: "Bad Info Package",
  480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist",
  482: "Loop Detected",
  483: "Too Many Hops",
  484: "Address Incomplete",
  486: "Busy Here",
  487: "Request Terminated",
  488: "Not Acceptable Here",
  489: "Bad Event",
  491: "Request Pending",
  500: "Server Internal Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Server Time-out",
  505: "Version Not Supported",
  513: "Message Too Large",
  600: "Busy Everywhere",
  603: "Decline",
  604: "Does Not Exist Anywhere",
  606: "Not Acceptable",
};

/** The default reason phrase of a status code ("" for an unknown one). */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? "";
}

export interface BuildResponseOptions {
  /** Reason phrase; default from {@link REASON_PHRASES}. */
  reason?: string;
  /** To-tag added when the request's To has none (§8.2.6.2). Ignored for 100 Trying. */
  toTag?: string;
  /** Extra rows appended after the copied ones, in order. */
  headers?: Iterable<readonly [string, string]>;
  /** Body; give `contentType` with it. */
  body?: string | Uint8Array;
  contentType?: string;
  /** Copy the request's Record-Route rows (§12.1.1, dialog-creating responses). */
  copyRecordRoute?: boolean;
}

/**
 * Builds a response to `req` (RFC 3261 §8.2.6): copies every Via in order, From, Call-ID and CSeq
 * unchanged, To with a tag added when absent and `toTag` is given (a UAS MUST add one to non-100
 * responses on a new dialog, §8.2.6.2), and Timestamp on 100 Trying (§8.2.6.1). Header values are copied
 * as raw text, so this also works on the partial headers of a malformed request.
 * @throws SipParseError if the To header is present but malformed and a tag must be added.
 */
export function buildResponse(req: SipRequest, status: number, opts: BuildResponseOptions = {}): SipResponse {
  return buildResponseFromHeaders(req.headers, status, opts);
}

/** {@link buildResponse} from a request's header rows only (used for 400 to unparsable requests). */
export function buildResponseFromHeaders(reqHeaders: Headers, status: number, opts: BuildResponseOptions = {}): SipResponse {
  const h = new Headers();
  for (const v of reqHeaders.getAll("Via")) h.append("Via", v);
  if (opts.copyRecordRoute) for (const v of reqHeaders.getAll("Record-Route")) h.append("Record-Route", v);
  const from = reqHeaders.get("From");
  if (from !== undefined) h.append("From", from);
  const to = reqHeaders.get("To");
  if (to !== undefined) {
    let value = to;
    if (opts.toTag && status !== 100) {
      const addr = parseNameAddr(to);
      if (addr.tag === undefined) value = `${to};tag=${opts.toTag}`;
    }
    h.append("To", value);
  }
  const callId = reqHeaders.get("Call-ID");
  if (callId !== undefined) h.append("Call-ID", callId);
  const cseq = reqHeaders.get("CSeq");
  if (cseq !== undefined) h.append("CSeq", cseq);
  if (status === 100) {
    const ts = reqHeaders.get("Timestamp");
    if (ts !== undefined) h.append("Timestamp", ts);
  }
  if (opts.headers) for (const [n, v] of opts.headers) h.append(n, v);
  if (opts.body !== undefined && opts.contentType) h.append("Content-Type", opts.contentType);
  return new SipResponse(status, opts.reason ?? reasonPhrase(status), h, opts.body);
}
