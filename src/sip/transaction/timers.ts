/**
 * RFC 3261 §17 timer values (Table 4, §A), in milliseconds, for an unreliable transport (UDP).
 *
 * | name | value    | meaning                                                             |
 * |------|----------|---------------------------------------------------------------------|
 * | T1   | 500      | RTT estimate                                                        |
 * | T2   | 4000     | maximum retransmit interval for non-INVITE requests and INVITE responses |
 * | T4   | 5000     | maximum duration a message remains in the network                   |
 * | A    | T1       | INVITE request retransmit, doubles each time (§17.1.1.2)             |
 * | B    | 64·T1    | INVITE client transaction timeout                                   |
 * | D    | 32000    | wait for response retransmits, INVITE client (">32 s for UDP")       |
 * | E    | T1       | non-INVITE request retransmit, doubles up to T2 (§17.1.2.2)          |
 * | F    | 64·T1    | non-INVITE client transaction timeout                               |
 * | G    | T1       | INVITE final-response retransmit, doubles up to T2 (§17.2.1)         |
 * | H    | 64·T1    | wait for ACK receipt (non-2xx)                                      |
 * | I    | T4       | wait for ACK retransmits                                            |
 * | J    | 64·T1    | wait for non-INVITE request retransmits (§17.2.2)                    |
 * | K    | T4       | wait for non-INVITE response retransmits                            |
 * | L    | 64·T1    | RFC 6026 §8.7: INVITE server "Accepted" state; also the 64·T1 limit of 2xx retransmission without ACK (RFC 3261 §13.3.1.4) |
 * | M    | 64·T1    | RFC 6026 §8.4: INVITE client "Accepted" state (absorbs 2xx retransmits) |
 *
 * Over a reliable transport (TCP, TLS) Timers A, E and G resend nothing and D, I, J, K are zero
 * (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2; ./base.ts `absorbWindow`).
 */
export const T1 = 500;
export const T2 = 4000;
export const T4 = 5000;

export interface TimerValues {
  T1: number;
  T2: number;
  T4: number;
  A: number;
  B: number;
  D: number;
  E: number;
  F: number;
  G: number;
  H: number;
  I: number;
  J: number;
  K: number;
  L: number;
  M: number;
}

/** Derives every timer from T1, T2, T4 (RFC 3261 §17, Table 4; RFC 6026 §8.4, §8.7). */
export function timerValues(t1 = T1, t2 = T2, t4 = T4): TimerValues {
  return {
    T1: t1,
    T2: t2,
    T4: t4,
    A: t1,
    B: 64 * t1,
    D: Math.max(32_000, 64 * t1),
    E: t1,
    F: 64 * t1,
    G: t1,
    H: 64 * t1,
    I: t4,
    J: 64 * t1,
    K: t4,
    L: 64 * t1,
    M: 64 * t1,
  };
}

/** The defaults: T1 = 500 ms, T2 = 4 s, T4 = 5 s. */
export const DEFAULT_TIMERS: Readonly<TimerValues> = Object.freeze(timerValues());
