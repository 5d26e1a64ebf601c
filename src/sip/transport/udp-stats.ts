/** UdpTransport's counters (./udp.ts): per transport for tests and logs, process-wide for metrics. */

/** Counters for metrics and tests. */
export interface UdpTransportStats {
  received: number;
  keepalives: number;
  /** Malformed requests answered 400/505. */
  rejected: number;
  /** Unanswerable garbage, and messages arriving while no delegate is set. */
  dropped: number;
  /** Dropped by the per-source rate limit. */
  rateLimited: number;
  /** Requests from untrusted sources answered 403 statelessly. */
  untrustedRejected: number;
  /** Datagrams from untrusted sources dropped (SIP_UNTRUSTED=drop, or an ACK/garbage in reject mode). */
  untrustedDropped: number;
  /** Datagrams over the message size limit (./oversize.ts): answered 513, or dropped. */
  oversize: number;
  /** Datagrams the kernel took (`send` returned true). */
  sent: number;
  /** Datagrams `send` refused without an error (would block: send buffer full), not sent. */
  notSent: number;
  sendErrors: number;
  /** Socket errors (ICMP unreachable reports and others). */
  socketErrors: number;
  /** Dropped unhandled because the receive queue was full or held it over RECEIVE_MAX_AGE_MS (./receive-queue.ts): the agent could not keep up. */
  overloaded: number;
}

/**
 * Process-wide outcomes of UDP SIP sends, for metrics (`voice_agent_sip_udp_datagrams_total{outcome}`):
 * sent (the kernel took it), not_sent (would block: dropped unsent), error (the send threw).
 */
export const sipUdpTotals = { sent: 0, not_sent: 0, error: 0 };
