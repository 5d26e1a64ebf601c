import type { Clock } from "../../util/clock.ts";
import type { TransitionTable } from "../../util/state-machine.ts";
import type { SipRequest, SipResponse } from "../message/index.ts";
import type { Transport } from "../transport/index.ts";
import { ServerTransactionBase, absorbWindow, type TransactionUser } from "./base.ts";
import { DEFAULT_TIMERS, type TimerValues } from "./timers.ts";

/**
 * Non-INVITE server transaction states (RFC 3261 §17.2.2, Figure 8):
 *
 *   trying ──1xx──▶ proceeding ──final──▶ completed ──Timer J (64·T1)──▶ terminated
 *   trying ──final──▶ completed
 */
export type NonInviteServerState = "trying" | "proceeding" | "completed" | "terminated";

const TABLE: TransitionTable<NonInviteServerState> = {
  trying: ["proceeding", "completed", "terminated"],
  proceeding: ["completed", "terminated"],
  completed: ["terminated"],
  terminated: [],
};

export type NonInviteServerTransactionUser = TransactionUser;

/** The non-INVITE server transaction: absorbs retransmissions, resends the last response. */
export class NonInviteServerTransaction extends ServerTransactionBase<
  NonInviteServerState,
  "non-invite-server",
  NonInviteServerTransactionUser
> {
  constructor(
    id: string,
    request: SipRequest,
    transport: Transport,
    clock: Clock,
    user: NonInviteServerTransactionUser = {},
    timers: TimerValues = DEFAULT_TIMERS,
  ) {
    super("non-invite-server", id, request, transport, clock, user, timers, TABLE, "trying");
  }

  /**
   * Sends a TU response (§17.2.2).
   * @throws IllegalTransitionError (`code` "illegal_transition") once a final response was sent (§17.2.2
   *   has the transaction discard "Any other final responses passed by the TU [...] in the "Completed"
   *   state"; a second final response from our own TU is a bug, so we report it).
   */
  respond(res: SipResponse): void {
    const s = this.state;
    if (s !== "trying" && s !== "proceeding") throw this.illegal(`respond ${res.status}`);
    if (res.status < 200) {
      // §17.2.2: "While in the "Trying" state, if the TU passes a provisional response to the server
      // transaction, the server transaction MUST enter the "Proceeding" state. The response MUST be
      // passed to the transport layer for transmission."
      if (s === "trying") this.transition("proceeding");
      this.send(res);
      return;
    }
    // §17.2.2: "If the TU passes a final response (status codes 200-699) to the server while in the
    // "Proceeding" state, the transaction MUST enter the "Completed" state, and the response MUST be
    // passed to the transport layer for transmission." "When the server transaction enters the
    // "Completed" state, it MUST set Timer J to fire in 64*T1 seconds for unreliable transports, and zero
    // seconds for reliable transports".
    this.transition("completed");
    this.send(res);
    this.startTimer("J", absorbWindow(this.request, this.timers.J), () => this.transition("terminated"));
  }

  /**
   * A retransmission of the request (§17.2.2): "Once in the "Trying" state, any further request
   * retransmissions are discarded." In Proceeding "the most recently sent provisional response MUST be
   * passed to the transport layer for retransmission"; in Completed "the server transaction MUST pass
   * the final response to the transport layer for retransmission whenever a retransmission of the
   * request is received."
   */
  receiveRequest(_req: SipRequest): void {
    if (this.state === "proceeding" || this.state === "completed") this.resendLast();
  }
}
