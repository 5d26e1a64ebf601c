import { parseCSeq } from "./cseq.ts";
import { SipParseError, type PartialMessage } from "./errors.ts";
import { LIST_HEADERS, canonicalHeaderName } from "./header-names.ts";
import { bodyStartAfter, findHeaderEnd } from "./header-end.ts";
import { Headers, splitHeaderList } from "./headers.ts";
import { SipRequest, SipResponse, type SipMessage } from "./message.ts";
import { parseNameAddr } from "./name-addr.ts";
import { isToken } from "./params.ts";
import { parseUri } from "./uri.ts";
import { parseVia } from "./via.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CR = 13;
const LF = 10;

/**
 * True for a datagram made only of CR and LF bytes: the CRLF keep-alive ping ("\r\n\r\n") and pong
 * ("\r\n") of RFC 5626 §3.5.1, which many trunks also send over UDP. Such datagrams are not messages
 * and are ignored (never answered).
 */
export function isKeepAlive(data: Uint8Array): boolean {
  if (data.length === 0) return false;
  for (const b of data) if (b !== CR && b !== LF) return false;
  return true;
}

const MANDATORY = ["Via", "From", "To", "Call-ID", "CSeq"] as const;

/**
 * Parses one datagram as a SIP request or response (RFC 3261 §7, §18.3).
 *
 * - Leading CRLFs are skipped (§7.5). Lines may end in CRLF or bare LF; folded lines are unfolded (§7.3.1).
 * - Header names are normalised (compact → full, canonical case); Via, Route, Record-Route, Contact and
 *   Path values are split at commas into one row each, in order.
 * - Content-Length is honoured (§18.3): extra bytes are dropped; fewer bytes → `body_truncated`. Without
 *   Content-Length the body is the rest of the datagram (allowed over UDP); with `stream` (the bytes came
 *   over TCP/TLS) a missing Content-Length is `content_length`: §18.3, "The Content-Length header field
 *   MUST be used with stream oriented transports".
 * - A NUL byte in the start line or a header line is a syntax error (§25.1 has no rule that admits %x00).
 * - Validated: start line, SIP/2.0, Request-URI, presence and syntax of Via, From, To, Call-ID and CSeq,
 *   and that the CSeq method equals the request method (§8.1.1.5).
 *
 * @throws SipParseError — the only error thrown. When the start line and header rows were readable its
 *   `partial` carries them, so a server can still answer a bad request with 400 (§21.4.1).
 */
export function parseMessage(data: Uint8Array | string, opts?: { stream?: boolean }): SipMessage {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const len = bytes.length;
  let start = 0;
  while (start < len && (bytes[start] === CR || bytes[start] === LF)) start++;
  if (start >= len) throw new SipParseError("empty", "no message in datagram");

  const headerEnd = findHeaderEnd(bytes, start);
  const bodyStart = headerEnd < 0 ? -1 : bodyStartAfter(bytes, headerEnd);
  const lines = decoder
    .decode(bytes.subarray(start, headerEnd < 0 ? len : headerEnd))
    .split("\n")
    .map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));

  // ---- start line (§7.1 Request-Line, §7.2 Status-Line)
  const startLine = lines[0]!;
  // RFC 3261 §25.1: no rule of the message grammar admits %x00 (Request-URI, reason phrase and header
  // values are built from TEXT-UTF8char = %x21-7E / UTF8-NONASCII, LWS and escaped octets).
  if (startLine.includes("\0")) throw new SipParseError("start_line", "NUL byte in the start line");
  let method: string | undefined;
  let uri = "";
  let status: number | undefined;
  let reason = "";
  let version: string;
  if (/^SIP\//i.test(startLine)) {
    const m = /^(SIP\/\S+) +(\d{3})(?: (.*))?$/i.exec(startLine);
    if (!m) throw new SipParseError("start_line", "malformed Status-Line");
    version = m[1]!;
    status = Number(m[2]);
    reason = (m[3] ?? "").trim();
    if (status < 100 || status > 699) throw new SipParseError("start_line", `status code ${status} outside 100-699`);
  } else {
    const m = /^(\S+) +(\S+) +(\S+)$/.exec(startLine.trim());
    if (!m || !isToken(m[1]!)) throw new SipParseError("start_line", "malformed Request-Line");
    method = m[1]!;
    uri = m[2]!;
    version = m[3]!;
    if (!/^SIP\/\d+\.\d+$/i.test(version)) throw new SipParseError("start_line", "malformed SIP-Version");
  }
  if (headerEnd < 0) throw new SipParseError("truncated", "no empty line after the header section");

  // ---- header rows, unfolded (§7.3.1)
  const rows: Array<[string, string]> = [];
  let syntaxError: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.includes("\r")) {
      syntaxError ??= `bare CR in header line ${i}`;
      continue;
    }
    // §25.1 again: a NUL is no character of any header's grammar (field values are TEXT-UTF8char, LWS,
    // quoted-string, escaped octets). The line is left out of `partial`, so the 400 does not echo it.
    if (line.includes("\0")) {
      syntaxError ??= `NUL byte in header line ${i}`;
      continue;
    }
    if (line.startsWith(" ") || line.startsWith("\t")) {
      const prev = rows[rows.length - 1];
      if (prev) prev[1] = `${prev[1]} ${line.trim()}`.trim();
      else syntaxError ??= "continuation line before any header";
      continue;
    }
    const colon = line.indexOf(":");
    const name = colon < 0 ? "" : line.slice(0, colon).trim();
    if (!name || !isToken(name)) {
      syntaxError ??= `malformed header line ${i}`;
      continue;
    }
    rows.push([name, line.slice(colon + 1).trim()]);
  }
  const headers = new Headers();
  for (const [name, value] of rows) {
    if (LIST_HEADERS.has(canonicalHeaderName(name).toLowerCase()) && value !== "*") {
      for (const part of splitHeaderList(value)) headers.append(name, part);
    } else headers.append(name, value);
  }
  const partial: PartialMessage = method !== undefined ? { method, headers } : { status, headers };
  const fail = (code: ConstructorParameters<typeof SipParseError>[0], msg: string): never => {
    throw new SipParseError(code, msg, partial);
  };
  if (syntaxError) fail("header_syntax", syntaxError);
  if (version.toUpperCase() !== "SIP/2.0") fail("version", `unsupported version ${version}`);

  // ---- mandatory headers (§8.1.1) and their grammar
  for (const name of MANDATORY) {
    const v = headers.get(name);
    if (v === undefined || v.trim() === "") fail("missing_header", `missing ${name}`);
  }
  try {
    if (method !== undefined && /^sips?:|^tel:/i.test(uri)) parseUri(uri);
    else if (method !== undefined && !/^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$/.test(uri)) fail("uri", "malformed Request-URI");
    for (const v of headers.getAll("Via")) parseVia(v);
    parseNameAddr(headers.get("From")!);
    parseNameAddr(headers.get("To")!);
    const cseq = parseCSeq(headers.get("CSeq")!);
    if (method !== undefined && cseq.method !== method) fail("cseq", `CSeq method ${cseq.method} differs from ${method}`);
  } catch (e) {
    if (e instanceof SipParseError && !e.partial) throw new SipParseError(e.code, e.message, partial);
    throw e;
  }

  // ---- body (§18.3, §20.14)
  let body = bytes.subarray(bodyStart);
  const lengths = headers.getAll("Content-Length");
  if (lengths.length > 0) {
    if (!lengths.every((l) => /^\d{1,10}$/.test(l) && Number(l) === Number(lengths[0]))) {
      fail("content_length", `bad Content-Length "${lengths.join(",").slice(0, 40)}"`);
    }
    const n = Number(lengths[0]);
    if (body.length < n) fail("body_truncated", `body has ${body.length} bytes, Content-Length says ${n}`);
    body = body.subarray(0, n);
  } else if (opts?.stream) {
    // RFC 3261 §18.3: "The Content-Length header field MUST be used with stream oriented transports."
    fail("content_length", "no Content-Length on a stream transport (RFC 3261 section 18.3 MUST)");
  }
  const copy = body.slice();
  return method !== undefined
    ? new SipRequest(method, uri, headers, copy)
    : new SipResponse(status!, reason, headers, copy);
}
