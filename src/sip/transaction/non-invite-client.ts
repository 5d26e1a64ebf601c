import type { Clock } from "../../util/clock.ts";
import type { TransitionTable } from "../../util/state-machine.ts";
import type { SipRequest, SipResponse } from "../message/index.ts";
import type { Address, Transport } from "../transport/index.ts";
import { ClientTransactionBase, absorbWindow, type ClientTransactionUser } from "./base.ts";
import { DEFAULT_TIMERS, type TimerValues } from "./timers.ts";

/**
 * Non-INVITE client transaction states (RFC 3261 §17.1.2, Figure 6):
 *
 *   trying ──Timer E: resend, E = min(2E, T2)──▶ trying
 *   trying ──1xx──▶ proceeding ──Timer E: resend every T2──▶ proceeding
 *   trying/proceeding ──final──▶ completed ──Timer K (T4)──▶ terminated
 *   trying/proceeding ──Timer F (64·T1)──▶ terminated (TU told: timeout)
 */
export type NonInviteClientState = "trying" | "proceeding" | "completed" | "terminated";

const TABLE: TransitionTable<NonInviteClientState> = {
  trying: ["proceeding", "completed", "terminated"],
  proceeding: ["completed", "terminated"],
  completed: ["terminated"],
  terminated: [],
};

export interface NonInviteClientTransactionUser extends ClientTransactionUser {
  /** 1xx responses and the (first) final response. */
  onResponse(res: SipResponse): void;
  /** Timer F: no final response in 64·T1. */
  onTimeout?(): void;
}

/** The non-INVITE client transaction (BYE, CANCEL, OPTIONS). Call {@link start} once. */
export class NonInviteClientTransaction extends ClientTransactionBase<
  NonInviteClientState,
  "non-invite-client",
  NonInviteClientTransactionUser
> {
  constructor(
    id: string,
    request: SipRequest,
    destination: Address,
    transport: Transport,
    clock: Clock,
    user: NonInviteClientTransactionUser,
    timers: TimerValues = DEFAULT_TIMERS,
  ) {
    super("non-invite-client", id, request, destination, transport, clock, user, timers, TABLE, "trying", { retransmit: "E", timeout: "F" });
  }

  /** A response matched to this transaction (§17.1.3). */
  receiveResponse(res: SipResponse): void {
    const s = this.state;
    // Completed absorbs retransmitted finals — §17.1.2.2: "The "Completed" state exists to buffer any
    // additional response retransmissions that may be received".
    if (s !== "trying" && s !== "proceeding") return;
    if (res.status < 200) {
      // §17.1.2.2: "If a provisional response is received while in the "Trying" state, the response
      // MUST be passed to the TU, and then the client transaction SHOULD move to the "Proceeding" state."
      if (s === "trying") this.transition("proceeding");
      this.user.onResponse(res);
      return;
    }
    // §17.1.2.2: "If a final response (status codes 200-699) is received while in the "Trying" state,
    // the response MUST be passed to the TU, and the client transaction MUST transition to the
    // "Completed" state." (The same for "Proceeding".) "Once the client transaction enters the
    // "Completed" state, it MUST set Timer K to fire in T4 seconds for unreliable transports, and zero seconds
    // for reliable transports".
    this.stopRequestTimers();
    this.transition("completed");
    this.startTimer("K", absorbWindow(this.request, this.timers.K), () => this.transition("terminated"));
    this.user.onResponse(res);
  }

  /**
   * Timer E. §17.1.2.2, Trying: "retransmissions occur with an exponentially increasing interval that
   * caps at T2"; Proceeding: "If Timer E fires while in the "Proceeding" state, the request MUST be
   * passed to the transport layer for retransmission, and Timer E MUST be reset with a value of T2".
   */
  protected nextRetransmitInterval(intervalMs: number): number {
    return this.state === "proceeding" ? this.timers.T2 : this.doubleUpToT2(intervalMs);
  }
}
