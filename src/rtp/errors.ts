/** Typed errors of the RTP layer. */

export type RtpParseErrorCode =
  /** Fewer than 12 bytes (fixed header, RFC 3550 §5.1), or a telephone-event payload under 4 bytes. */
  | "too_short"
  /** Version field is not 2 (RFC 3550 §5.1). */
  | "bad_version"
  /** CC says more CSRC identifiers than the packet holds (RFC 3550 §5.1). */
  | "truncated_csrc"
  /** X=1 but the extension header or its data runs past the end (RFC 3550 §5.3.1). */
  | "truncated_extension"
  /** P=1 with a pad count of 0 or longer than what follows the header (RFC 3550 §5.1). */
  | "bad_padding";

/** Thrown by `parseRtp` / `parseTelephoneEvent` for bytes that are not a valid packet. Never retryable. */
export class RtpParseError extends Error {
  override readonly name = "RtpParseError";
  readonly retryable = false;
  constructor(
    readonly code: RtpParseErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type RtpPortPoolErrorCode =
  /** Every port of the range is leased or could not be bound. Retryable once calls end. */
  | "exhausted"
  /** The range holds no even port pair (start/end wrong). */
  | "bad_range"
  /**
   * The process may open no more files (EMFILE, ENFILE: e.g. idle HTTP connections holding every descriptor,
   * README "On a public address"). Retryable once some close.
   */
  | "no_descriptors"
  /** Binding failed for another reason than "port in use" (e.g. EADDRNOTAVAIL: host not local). */
  | "bind_failed";

/** Thrown by `RtpPortPool`. */
export class RtpPortPoolError extends Error {
  override readonly name = "RtpPortPoolError";
  constructor(
    readonly code: RtpPortPoolErrorCode,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
