/**
 * Where a SIP message's header section ends: the one rule the parser (./parser.ts), the stream framer
 * (../transport/stream-framing.ts) and the size check (../transport/oversize.ts) share, so that no two
 * of them can disagree on where a message's body starts (a framer that cut elsewhere than the parser
 * read swallowed the next pipelined message on TCP, session 20).
 *
 * RFC 3261 §7: "The start-line, each message-header line, and the empty line MUST be terminated by a
 * carriage-return line-feed sequence (CRLF)." That binds the sender. §7 also takes the message syntax
 * from HTTP/1.1 ("much of SIP's message and header field syntax is identical to HTTP/1.1"), whose
 * RFC 2616 §19.3 (Tolerant Applications) says: "The line terminator for message-header fields is the
 * sequence CRLF. However, we recommend that applications, when parsing such headers, recognize a single
 * LF as a line terminator and ignore the leading CR." So a line may end in CRLF or a bare LF, and the
 * header section ends at the first LF followed by an empty line: LF LF or LF CR LF.
 */

const CR = 13;
const LF = 10;

/**
 * Offset of the LF that ends the last header line (the empty line follows it), searched from `from` to
 * `to` (exclusive, default the end); -1 when the empty line has not been seen (yet).
 */
export function findHeaderEnd(bytes: Uint8Array, from = 0, to = bytes.length): number {
  for (let i = bytes.indexOf(LF, from); i >= 0 && i < to; i = bytes.indexOf(LF, i + 1)) {
    if (i + 1 < to && bytes[i + 1] === LF) return i;
    if (i + 2 < to && bytes[i + 1] === CR && bytes[i + 2] === LF) return i;
  }
  return -1;
}

/** Offset of the body's first byte for a header end found by {@link findHeaderEnd}. */
export function bodyStartAfter(bytes: Uint8Array, headerEnd: number): number {
  return headerEnd + (bytes[headerEnd + 1] === LF ? 2 : 3);
}
