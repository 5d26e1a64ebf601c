import type { Headers } from "./headers.ts";

/**
 * Why a datagram could not be parsed as a SIP message (RFC 3261 §7, §25 grammar).
 *
 * - `empty`: no bytes (or only CRLF: use {@link isKeepAlive} first).
 * - `start_line`: the Request-Line / Status-Line is not `Method SP URI SP SIP/2.0` / `SIP/2.0 SP 3DIGIT SP reason`,
 *   or it holds a NUL byte.
 * - `version`: a SIP version other than 2.0 (§7.1: "applications sending SIP messages MUST include a
 *   SIP-Version of "SIP/2.0""; a server answers 505 Version Not Supported, §21.5.6).
 * - `truncated`: no empty line ends the header section.
 * - `header_syntax`: a header line without `name:`, a continuation line with nothing to continue, a bare
 *   CR or a NUL byte inside a header line (§25.1: no rule admits %x00).
 * - `content_length`: Content-Length is not a number, or several disagree, or (stream transports) it is missing.
 * - `body_truncated`: fewer body bytes than Content-Length (§18.3: a request gets 400).
 * - `missing_header`: one of Via, From, To, Call-ID, CSeq is absent (§8.1.1).
 * - `via`, `cseq`, `uri`, `name_addr`: that element does not follow its grammar (§20.42, §20.16, §19.1, §20.10).
 */
export type SipParseErrorCode =
  | "empty"
  | "start_line"
  | "version"
  | "truncated"
  | "header_syntax"
  | "content_length"
  | "body_truncated"
  | "missing_header"
  | "via"
  | "cseq"
  | "uri"
  | "name_addr";

/**
 * What was recovered from a message that failed validation: enough, sometimes, to answer a request
 * with 400 (RFC 3261 §8.2.2, §18.3, §21.4.1). `method` is set for requests, `status` for responses.
 */
export interface PartialMessage {
  method?: string;
  status?: number;
  headers: Headers;
}

/** The only error the message layer throws. `code` is stable, `message` is a human detail. */
export class SipParseError extends Error {
  override readonly name = "SipParseError";
  constructor(
    readonly code: SipParseErrorCode,
    message: string,
    /** Set when the start line and headers were readable although the message is invalid. */
    readonly partial?: PartialMessage,
  ) {
    super(message);
  }
}
