/**
 * One size limit for a received SIP message, whatever carried it (UDP datagram, TCP/TLS stream): a
 * header block of at most {@link MAX_HEADER_BYTES} and a body of at most {@link MAX_BODY_BYTES}.
 * Anything larger is never parsed in full.
 *
 * RFC 3261 §21.5.14 (513 Message Too Large): "The server was unable to process the request since the
 * message length exceeded its capabilities." The 513 is built statelessly (§8.2.7) from the request
 * line and the five header fields a response copies (Via, From, To, Call-ID, CSeq, §8.2.6.2), found by
 * one scan over the lines without parsing the rest; when they are not there, or the message is a
 * response or an ACK (§17.2.1: never answered), it is dropped.
 */
import { bodyStartAfter, findHeaderEnd, type SipRequest, type SipResponse } from "../message/index.ts";
import { processDatagram } from "./inbound.ts";
import { statelessResponse } from "./stateless.ts";
import type { Address } from "./types.ts";

/** Header block limit per message, bytes (start line and headers, without the blank line). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Body limit per message, bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** A header line longer than this is never one the 513 copies. */
const MAX_COPIED_LINE = 2048;
/** The header fields a response copies, long and compact forms (RFC 3261 §7.3.3, §8.2.6.2). */
const COPIED = /^(via|v|from|f|to|t|call-id|i|cseq)[ \t]*:/i;
const decoder = new TextDecoder();

/** Which limit a whole received message (one UDP datagram) exceeds; undefined when it fits. */
export function oversizeOf(data: Uint8Array): "headers" | "body" | undefined {
  const end = findHeaderEnd(data, 0, Math.min(data.length, MAX_HEADER_BYTES + 4));
  if (end < 0) return data.length > MAX_HEADER_BYTES ? "headers" : undefined;
  return data.length - bodyStartAfter(data, end) > MAX_BODY_BYTES ? "body" : undefined;
}

/**
 * The stateless 513 Message Too Large for an oversized request (`head`: its bytes, at least the start
 * line and the header fields a response copies), or undefined when it cannot or must not be answered.
 * `head` may stop inside the header block (a stream whose headers went past the limit): its last,
 * unfinished line is then not used.
 * The top Via gets `received`/`rport` from `source` (RFC 3261 §18.2.1, RFC 3581 §4). Never throws.
 */
export function tooLargeResponse(head: Uint8Array, source: Address): SipResponse | undefined {
  const end = findHeaderEnd(head);
  const lines = decoder.decode(end >= 0 ? head.subarray(0, end) : head).replace(/\r$/, "").split(/\r?\n/);
  if (end < 0) lines.pop(); // cut mid-line (or empty after the last CRLF)
  const start = lines[0] ?? "";
  if (/^SIP\//i.test(start) || /^ACK /i.test(start)) return undefined;
  const kept = lines.slice(1).filter((l) => l.length <= MAX_COPIED_LINE && COPIED.test(l));
  const minimal = new TextEncoder().encode([start, ...kept, "Content-Length: 0", "", ""].join("\r\n"));
  const r = processDatagram(minimal, source);
  if (r.kind !== "message" || r.message.kind !== "request") return undefined;
  try {
    return statelessResponse(r.message as SipRequest, 513, [["Warning", `399 - "message larger than ${MAX_HEADER_BYTES} bytes of headers or ${MAX_BODY_BYTES} of body"`]]);
  } catch {
    return undefined;
  }
}

