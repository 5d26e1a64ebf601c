/**
 * The bounds of the SIP stream transport (./tcp.ts, RFC 3261 §18 over TCP/TLS): connections per source
 * and in all, the deadline of a message, the read backpressure marks, and the slice of a connection's
 * messages handled per event-loop turn on the call thread.
 */

/** Bounds on inbound connections (see the file comment); a trunk or proxy needs a handful. */
export interface TcpLimits {
  /** Open inbound connections per source IP. */
  perSource: number;
  /** Open inbound connections in total. */
  total: number;
  /** ms a message may take from its first byte (or from the connection's opening) to its last. */
  messageDeadlineMs: number;
  /** Bytes received on one connection and not yet handled beyond which reading pauses. */
  pauseBufferedBytes: number;
  /** A paused connection is read again once its unhandled bytes are at most this many. */
  resumeBufferedBytes: number;
  /** Unhandled bytes beyond which the connection is closed (bytes that still arrive while paused). */
  maxBufferedBytes: number;
}
export const TCP_LIMITS: TcpLimits = {
  perSource: 64,
  total: 1024,
  messageDeadlineMs: 32_000,
  pauseBufferedBytes: 256 * 1024,
  resumeBufferedBytes: 64 * 1024,
  // The pause mark plus one read of Bun's (up to 512 KB seen) and room: never reached while pause() holds.
  maxBufferedBytes: 1024 * 1024,
};

/** Longest run of one connection's messages per event-loop turn, ms (as the teardown queue's slice). */
export const STREAM_SLICE_MS = 1;
/** Most messages of one connection handled per event-loop turn. */
export const STREAM_SLICE_MESSAGES = 32;
