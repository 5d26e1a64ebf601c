import {
  SipParseError,
  buildResponseFromHeaders,
  generateTag,
  isKeepAlive,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseVia,
  warningValue,
  type Headers,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from "../message/index.ts";
import type { Address } from "./types.ts";

/** What to do with one received datagram. */
export type InboundResult =
  | { kind: "message"; message: SipMessage }
  | { kind: "keepalive" }
  /** Answer the (malformed) request with this 400/505 (send via `sendResponse`), then forget it. */
  | { kind: "reject"; response: SipResponse; error: SipParseError }
  /** Not answerable: log and forget. */
  | { kind: "drop"; error: SipParseError };

/**
 * Receive-side processing of one UDP datagram (RFC 3261 §18.1.2, §18.2.1, RFC 3581 §4). Pure; never throws.
 *
 * - CRLF keep-alives → `keepalive` (ignored, RFC 5626 §3.5.1).
 * - `reliable` (one message framed off a TCP/TLS connection): a message without Content-Length is
 *   malformed (§18.3 MUST), so such a request gets the 400 below.
 * - A valid request gets its top Via stamped (see {@link stampVia}).
 * - A malformed request (not ACK) with a routable top Via and From/To that parse → `reject` with 400 Bad Request (505 for another SIP version), its detail in a Warning header
 *   (§21.4.1, §20.43). Anything else malformed → `drop` (responses are never answered, §18.1.2).
 */
export function processDatagram(data: Uint8Array, source: Address, reliable = false): InboundResult {
  if (isKeepAlive(data)) return { kind: "keepalive" };
  try {
    const message = parseMessage(data, { stream: reliable });
    if (message.kind === "request") stampVia(message.headers, source, reliable);
    return { kind: "message", message };
  } catch (e) {
    const error = e instanceof SipParseError ? e : new SipParseError("empty", String(e));
    const response = badRequestFor(error, source);
    return response ? { kind: "reject", response, error } : { kind: "drop", error };
  }
}

/**
 * RFC 3261 §18.2.1 and RFC 3581 §4 on the top Via of a received request: add `received=<source IP>`
 * when the sent-by host differs from the source address; when `rport` is present (without value) set
 * it to the source port and always add `received`. A no-op when the top Via does not parse.
 * A `received` the sender wrote itself is replaced by the source address (§18.2.1: "the server
 * MUST add a 'received' parameter to that Via header field value" — the parameter is the server's to
 * set): responses go to `received` (§18.2.2), so a forged `received=<victim>` on a Via whose sent-by is
 * the real source would aim our responses — a 200 retransmitted until Timer H, a stateless 403 — at
 * any address.
 * `reliable` (a TCP/TLS connection): `received` and `rport` are always set to the connection's far end,
 * as if `rport` had been asked for. §18.2.2: "the response MUST be sent using the existing connection
 * to the source of the original request" — the stream transport finds that connection by the address
 * the Via yields; without `rport` it yielded the sent-by port (a client's listening port, never the
 * ephemeral port it connected from), no connection matched and the response went out over UDP.
 */
export function stampVia(headers: Headers, source: Address, reliable = false): void {
  const top = headers.get("Via");
  if (top === undefined) return;
  let via;
  try {
    via = parseVia(top);
  } catch {
    return;
  }
  const sourceHost = source.host.includes(":") ? `[${source.host}]` : source.host;
  const hostDiffers = via.host.toLowerCase() !== sourceHost.toLowerCase();
  if (reliable || via.params.has("rport")) {
    via.params.set("rport", String(source.port));
    via.params.set("received", source.host);
  } else if (hostDiffers || via.params.has("received")) {
    via.params.set("received", source.host);
  } else return;
  headers.setFirst("Via", via.toString());
}

function badRequestFor(error: SipParseError, source: Address): SipResponse | undefined {
  const p = error.partial;
  if (!p || p.method === undefined || p.method === "ACK") return undefined; // ACK is never answered (§17.2.1)
  const h = p.headers;
  const top = h.get("Via");
  // "Enough to answer" is a routable top Via (§18.2.2). From/To/Call-ID/CSeq are copied as they came
  // (§8.2.6.2) even when they are what is wrong: RFC 4475 §3.1.2 expects a 400 for such requests.
  if (top === undefined || !parses(top)) return undefined;
  try {
    parseNameAddr(h.get("From") ?? "");
    parseNameAddr(h.get("To") ?? ""); // the 400 needs a To it can put its tag on
  } catch {
    return undefined;
  }
  const headers = h.clone();
  const vias = headers.getAll("Via");
  if (!vias.every((v) => parses(v))) headers.setAll("Via", [top]); // answer the previous hop at least
  stampVia(headers, source);
  const status = error.code === "version" ? 505 : 400;
  const warning: [string, string] = ["Warning", warningValue(399, `${error.code}: ${error.message}`, "-")];
  try {
    return buildResponseFromHeaders(headers, status, { toTag: generateTag(), headers: [warning] });
  } catch {
    return undefined; // not even a 400 can be built from it: drop
  }
}

function parses(via: string): boolean {
  try {
    parseVia(via);
    return true;
  } catch {
    return false;
  }
}

/** The request's To tag, or undefined (none, or a To header that does not parse). */
export function toTagOf(req: SipRequest): string | undefined {
  try {
    return req.to.tag || undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when datagram `d` starts with `method` and a space: the request line of that method. RFC 3261
 * §7.1: "Request-Line = Method SP Request-URI SP SIP-Version CRLF", and "The method names are
 * case-sensitive", so "ack " or "ACKX " is not ACK. `method`: an ASCII token such as "ACK" or "OPTIONS".
 * Looks at the first method.length + 1 bytes only; never throws.
 */
export function isMethod(d: Uint8Array, method: string): boolean {
  const n = method.length;
  if (d.length <= n || d[n] !== 0x20) return false;
  for (let i = 0; i < n; i++) if (d[i] !== method.charCodeAt(i)) return false;
  return true;
}

/** True when the datagram starts with "ACK " (see {@link isMethod}). */
export const isAck = (d: Uint8Array): boolean => isMethod(d, "ACK");

/** True when the datagram starts with a status line ("SIP/2.0 ", case-insensitive, RFC 3261 §7.2). */
export function isResponse(d: Uint8Array): boolean {
  return (
    d.length >= 8 &&
    (d[0]! | 0x20) === 0x73 && // s
    (d[1]! | 0x20) === 0x69 && // i
    (d[2]! | 0x20) === 0x70 && // p
    d[3] === 0x2f && // /
    d[4] === 0x32 && // 2
    d[5] === 0x2e && // .
    d[6] === 0x30 && // 0
    d[7] === 0x20
  );
}
