/**
 * Cutting a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3): pure, no I/O; ./tcp.ts reads the
 * sockets and calls {@link nextFrame} on what a connection holds.
 *
 * §18.3: "In the case of stream-oriented transports such as TCP, the Content-Length header field
 * indicates the size of the body. The Content-Length header field MUST be used with stream oriented
 * transports." §7.5: "Implementations processing SIP messages over stream-oriented transports MUST
 * ignore any CRLF appearing before the start-line [H4.1]" (CRLFs between messages are also RFC 5626
 * §3.5.1 keep-alives).
 *
 * The header section ends where the parser says it does (../message/header-end.ts: LF LF or LF CR LF,
 * RFC 2616 §19.3's bare-LF tolerance), and Content-Length is read from the header section unfolded as
 * the parser unfolds it. RFC 3261 §7.3.1: "Header fields can be extended over multiple lines by
 * preceding each extra line with at least one SP or horizontal tab (HT). The line break and the
 * whitespace at the beginning of the next line are treated as a single SP character." §25.1's grammar
 * allows that fold right after the colon: `Content-Length = ( "Content-Length" / "l" ) HCOLON 1*DIGIT`,
 * `HCOLON = *( SP / HTAB ) ":" SWS`, `SWS = [LWS]`, `LWS = [*WSP CRLF] 1*WSP`. So
 * "Content-Length:" CRLF SP "0" is a well-formed Content-Length of 0, read as such; digits split by a
 * fold ("1" CRLF SP "0") are not 1*DIGIT and leave the message unframed (400, connection closed).
 */
import { bodyStartAfter, findHeaderEnd } from "../message/index.ts";
import { MAX_BODY_BYTES, MAX_HEADER_BYTES } from "./oversize.ts";

/** What the bytes from one offset hold. Offsets are into the same buffer. */
export type Frame =
  /** No whole header section yet (wait for more bytes). */
  | { kind: "incomplete" }
  /** A header section over {@link MAX_HEADER_BYTES}, ended or not: [off, off + MAX_HEADER_BYTES) is its start. */
  | { kind: "headers_too_large" }
  /** A header section announcing a body over {@link MAX_BODY_BYTES}; [off, bodyStart) is that section. */
  | { kind: "body_too_large"; bodyStart: number }
  /** A header section with no readable Content-Length; [off, bodyStart) is that section. */
  | { kind: "unframed"; bodyStart: number }
  /** The header section is whole, its body not yet: `end` is where the message will end. */
  | { kind: "partial"; end: number }
  /** One whole message: [off, end). */
  | { kind: "message"; end: number };

const CR = 13;
const LF = 10;
const CONTENT_LENGTH = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$/im;
/** A line break followed by whitespace: a folded header line (§7.3.1). */
const FOLD = /\r?\n[ \t]+/g;
const decoder = new TextDecoder();

/**
 * The offset of the first byte at or after `off` that is not CR or LF (§7.5: CRLFs before a start
 * line are ignored; a bare LF too, as the parser does).
 */
export function skipKeepAlives(buf: Uint8Array, off: number): number {
  while (off < buf.length && (buf[off] === CR || buf[off] === LF)) off++;
  return off;
}

/** What `buf` holds from `off` (a start line's first byte: call {@link skipKeepAlives} first). */
export function nextFrame(buf: Uint8Array, off: number): Frame {
  const end = findHeaderEnd(buf, off, Math.min(buf.length, off + MAX_HEADER_BYTES + 3));
  if (end < 0) return buf.length - off > MAX_HEADER_BYTES ? { kind: "headers_too_large" } : { kind: "incomplete" };
  if (end - off > MAX_HEADER_BYTES) return { kind: "headers_too_large" };
  const bodyStart = bodyStartAfter(buf, end);
  const len = contentLengthOf(buf.subarray(off, end));
  if (len === undefined) return { kind: "unframed", bodyStart };
  if (len > MAX_BODY_BYTES) return { kind: "body_too_large", bodyStart };
  const total = bodyStart + len;
  return buf.length < total ? { kind: "partial", end: total } : { kind: "message", end: total };
}

/** The first Content-Length of a header section (folded lines unfolded), or undefined when none is readable. */
export function contentLengthOf(head: Uint8Array): number | undefined {
  const text = decoder.decode(head);
  const m = CONTENT_LENGTH.exec(text.includes("\n ") || text.includes("\n\t") ? text.replace(FOLD, " ") : text);
  return m ? Number(m[1]) : undefined;
}
