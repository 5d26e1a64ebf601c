import type { Clock } from "../../util/clock.ts";
import type { TransitionTable } from "../../util/state-machine.ts";
import type { SipRequest, SipResponse } from "../message/index.ts";
import type { Transport } from "../transport/index.ts";
import { ServerTransactionBase, absorbWindow, overUnreliableTransport, type TransactionUser } from "./base.ts";
import { DEFAULT_TIMERS, type TimerValues } from "./timers.ts";

/**
 * INVITE server transaction states (RFC 3261 §17.2.1, Figure 7, with RFC 6026 §7.1 "Accepted"):
 *
 *   proceeding ──1xx──▶ proceeding
 *   proceeding ──2xx──▶ accepted   (2xx retransmitted T1, 2T1, … ≤ T2 until ACK; Timer L = 64·T1)
 *   proceeding ─300-699─▶ completed (Timer G retransmits, Timer H = 64·T1 waits for ACK)
 *   completed ──ACK──▶ confirmed  (Timer I = T4 absorbs ACK retransmissions) ──▶ terminated
 *   accepted ──Timer L──▶ terminated
 */
export type InviteServerState = "proceeding" | "accepted" | "completed" | "confirmed" | "terminated";

const TABLE: TransitionTable<InviteServerState> = {
  proceeding: ["accepted", "completed", "terminated"],
  accepted: ["terminated"],
  completed: ["confirmed", "terminated"],
  confirmed: ["terminated"],
  terminated: [],
};

/** Upward reports of an INVITE server transaction. All optional. */
export interface InviteServerTransactionUser extends TransactionUser {
  /** An ACK with this transaction's branch arrived in "accepted" (peers that reuse the INVITE branch for the 2xx ACK). */
  onAck?(ack: SipRequest): void;
  /** No ACK for our 2xx within 64·T1 (RFC 3261 §13.3.1.4): the session SHOULD be ended with BYE. */
  onNoAck?(): void;
  /** Timer H: no ACK for our 300-699 response (§17.2.1). */
  onTimeout?(): void;
}

/**
 * The INVITE server transaction. Retransmissions of the INVITE resend the last response; our 2xx is
 * retransmitted here (the §13.3.1.4 duty of the UAS core, kept next to Timer G since it is the same
 * schedule) until the TU reports the ACK with {@link ackReceived}, or one arrives on this branch.
 */
export class InviteServerTransaction extends ServerTransactionBase<InviteServerState, "invite-server", InviteServerTransactionUser> {
  private acked = false;

  constructor(
    id: string,
    request: SipRequest,
    transport: Transport,
    clock: Clock,
    user: InviteServerTransactionUser = {},
    timers: TimerValues = DEFAULT_TIMERS,
  ) {
    super("invite-server", id, request, transport, clock, user, timers, TABLE, "proceeding");
  }

  /**
   * Sends a response from the TU (§17.2.1). 1xx only in "proceeding"; a 2xx moves to "accepted"
   * (further 2xx allowed there, RFC 6026 §7.1); 300-699 moves to "completed".
   * @throws IllegalTransitionError (`code` "illegal_transition") for a response the state does not allow.
   */
  respond(res: SipResponse): void {
    const s = this.state;
    if (s === "accepted" && res.status >= 200 && res.status < 300) {
      this.send(res); // RFC 6026 §7.1: further 2xx from the TU (forked responses) are passed on in Accepted
      return;
    }
    if (s !== "proceeding") throw this.illegal(`respond ${res.status}`);
    if (res.status < 200) {
      // §17.2.1: "So long as the server transaction is in the "Proceeding" state, each of these MUST be
      // passed to the transport layer for transmission. They are not sent reliably by the transaction
      // layer (they are not retransmitted by it) and do not cause a change in the state".
      this.send(res);
    } else if (res.status < 300) {
      // §17.2.1: "If, while in the "Proceeding" state, the TU passes a 2xx response to the server
      // transaction, the server transaction MUST pass this response to the transport layer for
      // transmission." RFC 6026 §7.1 then moves it to "Accepted" (not Terminated) with Timer L = 64·T1.
      // The 2xx retransmission is the UAS core's (§13.3.1.4): "The 2xx response is passed to the
      // transport with an interval that starts at T1 seconds and doubles for each retransmission until
      // it reaches T2 seconds".
      this.transition("accepted");
      this.send(res);
      this.startRetransmit("2xx", this.timers.T1, this.doubleUpToT2, () => this.resendLast());
      this.startTimer("L", this.timers.L, () => this.fireL());
    } else {
      // §17.2.1: "if the TU passes a response with status code from 300 to 699 to the server transaction,
      // the response MUST be passed to the transport layer for transmission, and the state machine MUST
      // enter the "Completed" state. For unreliable transports, timer G is set to fire in T1 seconds".
      // "When the "Completed" state is entered, timer H MUST be set to fire in 64*T1 seconds". Timer G
      // then resends "with a value that doubles, unless that value exceeds T2".
      this.transition("completed");
      this.send(res);
      if (overUnreliableTransport(this.request)) this.startRetransmit("G", this.timers.G, this.doubleUpToT2, () => this.resendLast());
      this.startTimer("H", this.timers.H, () => this.fireH());
    }
  }

  /** A request that matched this transaction (§17.2.3): a retransmitted INVITE or an ACK. */
  receiveRequest(req: SipRequest): void {
    if (req.method === "INVITE") {
      // §17.2.1: "If a request retransmission is received while in the "Proceeding" state, the most
      // recent provisional response that was received from the TU MUST be passed to the transport layer
      // for retransmission." In Completed, "the server SHOULD pass the response to the transport for
      // retransmission." RFC 6026 §7.1 absorbs them in Accepted — we resend the 2xx there too, which
      // only helps a caller whose 2xx got lost.
      if (this.state === "proceeding" || this.state === "completed" || this.state === "accepted") this.resendLast();
      return;
    }
    if (req.method !== "ACK") return;
    if (this.state === "completed") {
      // §17.2.1: "If an ACK is received while the server transaction is in the "Completed" state, the
      // server transaction MUST transition to the "Confirmed" state. As Timer G is ignored in this state,
      // any retransmissions of the response will cease." "When this state is entered, timer I is set to
      // fire in T4 seconds for unreliable transports, and zero seconds for reliable transports".
      this.stopTimer("G");
      this.stopTimer("H");
      this.transition("confirmed");
      this.startTimer("I", absorbWindow(this.request, this.timers.I), () => this.transition("terminated"));
    } else if (this.state === "accepted") {
      const first = !this.acked;
      this.ackReceived();
      if (first) this.user.onAck?.(req);
    }
  }

  /**
   * The TU matched the ACK for our 2xx (a transaction of its own, §17) and stops retransmitting.
   * §13.3.1.4: "Response retransmissions cease when an ACK request for the response is received."
   */
  ackReceived(): void {
    if (this.state !== "accepted") return;
    this.acked = true;
    this.stopTimer("2xx");
  }

  /** Stops 2xx retransmission without an ACK (e.g. the dialog ended by BYE, §15.1.2). */
  stopRetransmitting(): void {
    this.stopTimer("2xx");
    this.stopTimer("G");
  }

  /**
   * Timer L ends "Accepted" (RFC 6026 §7.1). Without an ACK by then, §13.3.1.4: "If the server
   * retransmits the 2xx response for 64*T1 seconds without receiving an ACK, the dialog is confirmed,
   * but the session SHOULD be terminated." The TU is told (onNoAck) and sends the BYE.
   */
  private fireL(): void {
    const noAck = !this.acked;
    this.transition("terminated");
    if (noAck) this.user.onNoAck?.();
  }

  /**
   * §17.2.1: "If timer H fires while in the "Completed" state, it implies that the ACK was never
   * received. In this case, the server transaction MUST transition to the "Terminated" state, and MUST
   * indicate to the TU that a transaction failure has occurred."
   */
  private fireH(): void {
    this.transition("terminated");
    this.user.onTimeout?.();
  }
}
