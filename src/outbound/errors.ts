/**
 * Typed errors of the outbound dialer. HTTP statuses are chosen at the edge (src/http/outbound.ts).
 */
export type OutboundErrorCode =
  /** A request field is invalid; `field` names it. */
  | "invalid_request"
  /** Outbound calling is off (--mode inbound) or the trunk is not configured. */
  | "disabled"
  /** MAX_OUTBOUND_CALLS (or the server's MAX_CALLS) calls are live. */
  | "at_capacity"
  /** OUTBOUND_CALLS_PER_MINUTE reached; `retryAfterMs` says when a slot frees. */
  | "rate_limited"
  /** The agent is shutting down. */
  | "draining"
  /** No free RTP port. */
  | "no_media_port"
  /** The number is outside OUTBOUND_ALLOW_PREFIXES or inside OUTBOUND_DENY_PREFIXES; `field` is phone_number. */
  | "destination_not_allowed"
  | "not_found";

export class OutboundError extends Error {
  override readonly name = "OutboundError";
  constructor(
    readonly code: OutboundErrorCode,
    message: string,
    readonly opts: { field?: string; retryAfterMs?: number; retryable?: boolean } = {},
  ) {
    super(message);
  }
  get field(): string | undefined {
    return this.opts.field;
  }
  get retryable(): boolean {
    return this.opts.retryable ?? (this.code === "at_capacity" || this.code === "rate_limited" || this.code === "no_media_port");
  }
}
