/** SIP message layer: pure parse/serialize of RFC 3261 messages, headers, URIs. No I/O. */
export { SipParseError, type SipParseErrorCode, type PartialMessage } from "./errors.ts";
export { COMPACT_FORMS, LIST_HEADERS, canonicalHeaderName } from "./header-names.ts";
export { Headers, splitHeaderList, type HeaderEntry } from "./headers.ts";
export { formatParams, parseParams, quote, unquote, isToken, type Params } from "./params.ts";
export { SipUri, formatUri, parseUri } from "./uri.ts";
export { NameAddr, formatNameAddr, parseNameAddr } from "./name-addr.ts";
export { BRANCH_MAGIC_COOKIE, Via, formatVia, parseVia } from "./via.ts";
export { formatCSeq, parseCSeq, type CSeq } from "./cseq.ts";
export { SipRequest, SipResponse, type SipMessage } from "./message.ts";
export { isKeepAlive, parseMessage } from "./parser.ts";
export { bodyStartAfter, findHeaderEnd } from "./header-end.ts";
export { messageToString, serializeMessage } from "./serializer.ts";
export { REASON_PHRASES, buildResponse, buildResponseFromHeaders, reasonPhrase, type BuildResponseOptions } from "./response.ts";
export { generateBranch, generateCallId, generateTag } from "./ids.ts";
export { sdpBodyOf, unknownContentCoding, BODY_ACCEPT_ROWS, boundaryOf, splitMultipart, type SdpBody, type BodyProblem } from "./body.ts";
export { MAX_WARN_TEXT, WARN_AGENT, warnText, warningValue } from "./warning.ts";
