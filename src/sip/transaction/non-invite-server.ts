import type { Clock } from "../../util/clock.ts";
import type { SipRequest, SipResponse } from "../message/index.ts";
import type { Transport } from "../transport/index.ts";
import { TransactionBase, TransactionStateError } from "./base.ts";
import { DEFAULT_TIMERS, type TimerValues } from "./timers.ts";

/**
 * Non-INVITE server transaction states (RFC 3261 §17.2.2, Figure 8):
 *
 *   trying ──1xx──▶ proceeding ──final──▶ completed ──Timer J (64·T1)──▶ terminated
 *   trying ──final──▶ completed
 */
export type NonInviteServerState = "trying" | "proceeding" | "completed" | "terminated";

const TABLE: Record<NonInviteServerState, readonly NonInviteServerState[]> = {
  trying: ["proceeding", "completed", "terminated"],
  proceeding: ["completed", "terminated"],
  completed: ["terminated"],
  terminated: [],
};

export interface NonInviteServerTransactionUser {
  onTerminated?(): void;
}

/** The non-INVITE server transaction: absorbs retransmissions, resends the last response. */
export class NonInviteServerTransaction extends TransactionBase<NonInviteServerState> {
  readonly kind = "non-invite-server" as const;
  private last: SipResponse | undefined;

  constructor(
    id: string,
    readonly request: SipRequest,
    private readonly transport: Transport,
    clock: Clock,
    private readonly user: NonInviteServerTransactionUser = {},
    timers: TimerValues = DEFAULT_TIMERS,
  ) {
    super(id, clock, timers, TABLE, "trying");
  }

  get lastResponse(): SipResponse | undefined {
    return this.last;
  }

  /**
   * Sends a TU response (§17.2.2). @throws TransactionStateError once a final response was sent.
   */
  respond(res: SipResponse): void {
    const s = this.state;
    if (s !== "trying" && s !== "proceeding") throw new TransactionStateError(this.kind, s, `respond ${res.status}`);
    this.last = res;
    if (res.status < 200) {
      if (s === "trying") this.transition("proceeding");
      this.transport.sendResponse(res);
      return;
    }
    this.transition("completed");
    this.transport.sendResponse(res);
    this.startTimer("J", this.timers.J, () => this.transition("terminated"));
  }

  /** A retransmission of the request (§17.2.2): ignored in Trying, answered with the last response after. */
  receiveRequest(_req: SipRequest): void {
    if ((this.state === "proceeding" || this.state === "completed") && this.last) this.transport.sendResponse(this.last);
  }

  protected onTerminated(): void {
    this.user.onTerminated?.();
  }
}
