/**
 * The session description inside a SIP body: `application/sdp` itself, or the SDP part of a
 * `multipart/mixed` (or `multipart/alternative`) body as SIP-I/SIP-T trunks send it (RFC 5621: an SDP
 * part plus e.g. an `application/isup` part). Pure; no I/O.
 *
 * A multipart body (RFC 2046 §5.1.1):
 *
 *   --boundary CRLF
 *   Content-Type: application/sdp CRLF
 *   CRLF
 *   v=0 ...                                 ← the part's body
 *   CRLF --boundary CRLF
 *   Content-Type: application/isup;version=itu-t92+ CRLF
 *   Content-Disposition: signal;handling=optional CRLF
 *   CRLF
 *   <binary ISUP>
 *   CRLF --boundary-- CRLF
 */
import type { SipMessage } from "./message.ts";

/** Why a body holds no SDP we can use; `status` is the response RFC 3261 §21.4 gives for it. */
export interface BodyProblem {
  /** 415 Unsupported Media Type (§21.4.13) or 400 for a multipart body that cannot be read. */
  status: 400 | 415;
  /** For the Warning / reason of the response: says what was found. */
  reason: string;
}

/**
 * The header rows every body refusal carries: the types (§21.4.13: "the server MUST return a list of
 * acceptable formats using the Accept … header field") and codings (§8.2.3: "The response MUST contain an
 * Accept-Encoding header field listing the encodings understood by the UAS") we read. We apply no content
 * coding: only `identity` (§20.12: "identity" is no coding at all).
 */
export const BODY_ACCEPT_ROWS: ReadonlyArray<[string, string]> = [["Accept", "application/sdp"], ["Accept-Encoding", "identity"]];

/**
 * The content codings of a message's `Content-Encoding` (compact form `e`) that we cannot undo, e.g.
 * `gzip`; undefined when there are none (absent, empty, or only `identity`). RFC 3261 §8.2.3: "If the
 * request contained content encodings not understood by the UAS, the UAS MUST respond with a 415
 * (Unsupported Media Type) response."
 */
export function unknownContentCoding(msg: SipMessage): string | undefined {
  const codings = msg.headers
    .getAll("Content-Encoding")
    .flatMap((v) => v.split(","))
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  return codings.length > 0 ? codings.join(", ") : undefined;
}

/** What a message body offers to offer/answer. */
export type SdpBody = { kind: "none" } | { kind: "sdp"; sdp: string } | { kind: "problem"; problem: BodyProblem };

/**
 * Finds the SDP in a message body.
 * - empty body → `none` (an offer-less INVITE, or a body-less request);
 * - a body under a content coding other than `identity` (`Content-Encoding: gzip`) → `problem` 415
 *   (§8.2.3; the bytes are not SDP as they stand, and we decode none);
 * - `application/sdp` → `sdp`;
 * - `multipart/mixed|alternative|related` with an `application/sdp` part → `sdp` (the first such part;
 *   RFC 5621 §3: a UA "MUST be able to process" multipart/mixed; the other parts are ignored unless they
 *   are marked `handling=required` — RFC 3204 / RFC 3261 §20.11 — in which case 415);
 * - anything else → `problem` 415 naming the type found (§21.4.13: "the server MUST return a list of
 *   acceptable formats using the Accept … header field").
 */
export function sdpBodyOf(msg: SipMessage): SdpBody {
  if (msg.body.length === 0) return { kind: "none" };
  const coding = unknownContentCoding(msg);
  if (coding !== undefined) {
    return { kind: "problem", problem: { status: 415, reason: `body with Content-Encoding ${coding}; only identity is accepted` } };
  }
  const type = msg.contentType;
  if (type === undefined || type === "application/sdp") {
    // §20.15: a body without Content-Type is a peer error; treat it as SDP (what every peer means).
    return { kind: "sdp", sdp: msg.bodyText };
  }
  if (!type.startsWith("multipart/")) {
    return { kind: "problem", problem: { status: 415, reason: `body of type ${type}; only application/sdp is accepted` } };
  }
  const boundary = boundaryOf(msg.headers.get("Content-Type") ?? "");
  if (!boundary) return { kind: "problem", problem: { status: 400, reason: `${type} body without a boundary parameter` } };
  const parts = splitMultipart(msg.bodyText, boundary);
  if (parts === undefined) return { kind: "problem", problem: { status: 400, reason: `${type} body: boundary "${boundary}" not found` } };
  let sdp: string | undefined;
  for (const p of parts) {
    const ct = p.headers.get("content-type")?.split(";")[0]!.trim().toLowerCase() ?? "text/plain";
    if (ct === "application/sdp") {
      sdp ??= p.body;
      continue;
    }
    // RFC 3261 §20.11 / RFC 3204 §6: a part with handling=required that we do not understand → 415.
    const disp = p.headers.get("content-disposition") ?? "";
    if (/;\s*handling\s*=\s*required/i.test(disp)) {
      return { kind: "problem", problem: { status: 415, reason: `required body part of type ${ct} is not supported` } };
    }
  }
  if (sdp === undefined) return { kind: "problem", problem: { status: 415, reason: `${type} body has no application/sdp part` } };
  return { kind: "sdp", sdp };
}

/** The `boundary` parameter of a multipart Content-Type value (quoted or token, RFC 2046 §5.1.1). */
export function boundaryOf(contentType: string): string | undefined {
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

interface Part {
  headers: Map<string, string>;
  body: string;
}

/**
 * Splits a multipart body at `--boundary` delimiter lines (RFC 2046 §5.1.1: "the boundary delimiter MUST
 * occur at the beginning of a line"; the CRLF before it belongs to the delimiter). Returns undefined
 * when no delimiter is found. Text parts are decoded as UTF-8 (binary parts are not used).
 */
export function splitMultipart(text: string, boundary: string): Part[] | undefined {
  const delim = `--${boundary}`;
  const lines = text.split(/\r?\n/);
  const parts: Part[] = [];
  let current: string[] | undefined;
  let seen = false;
  for (const line of lines) {
    const t = line.trimEnd();
    if (t === delim || t === `${delim}--`) {
      seen = true;
      if (current) parts.push(partOf(current));
      current = t === delim ? [] : undefined;
      if (t !== delim) break;
      continue;
    }
    current?.push(line);
  }
  if (!seen) return undefined;
  if (current) parts.push(partOf(current)); // no closing delimiter: take what came
  return parts;
}

function partOf(lines: string[]): Part {
  const headers = new Map<string, string>();
  let i = 0;
  for (; i < lines.length && lines[i] !== ""; i++) {
    const c = lines[i].indexOf(":");
    if (c > 0) headers.set(lines[i].slice(0, c).trim().toLowerCase(), lines[i].slice(c + 1).trim());
  }
  const body = lines.slice(i + 1).join("\r\n");
  return { headers, body: body.endsWith("\r\n") ? body : `${body.replace(/(\r\n)*$/, "")}\r\n` };
}
