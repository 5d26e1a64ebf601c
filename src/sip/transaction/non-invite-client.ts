import type { Clock } from "../../util/clock.ts";
import type { SipRequest, SipResponse } from "../message/index.ts";
import type { Address, Transport } from "../transport/index.ts";
import { TransactionBase } from "./base.ts";
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

const TABLE: Record<NonInviteClientState, readonly NonInviteClientState[]> = {
  trying: ["proceeding", "completed", "terminated"],
  proceeding: ["completed", "terminated"],
  completed: ["terminated"],
  terminated: [],
};

export interface NonInviteClientTransactionUser {
  /** 1xx responses and the (first) final response. */
  onResponse(res: SipResponse): void;
  /** Timer F: no final response in 64·T1. */
  onTimeout?(): void;
  onTerminated?(): void;
}

/** The non-INVITE client transaction (BYE, CANCEL, OPTIONS). Call {@link start} once. */
export class NonInviteClientTransaction extends TransactionBase<NonInviteClientState> {
  readonly kind = "non-invite-client" as const;
  private interval = 0;

  constructor(
    id: string,
    readonly request: SipRequest,
    readonly destination: Address,
    private readonly transport: Transport,
    clock: Clock,
    private readonly user: NonInviteClientTransactionUser,
    timers: TimerValues = DEFAULT_TIMERS,
  ) {
    super(id, clock, timers, TABLE, "trying");
  }

  /** Sends the request; starts Timer E (UDP) and Timer F (§17.1.2.2). */
  start(): void {
    this.transport.send(this.request, this.destination);
    this.interval = this.timers.E;
    this.startTimer("E", this.interval, () => this.fireE());
    this.startTimer("F", this.timers.F, () => this.fireF());
  }

  receiveResponse(res: SipResponse): void {
    const s = this.state;
    if (s !== "trying" && s !== "proceeding") return; // Completed absorbs retransmitted finals
    if (res.status < 200) {
      if (s === "trying") this.transition("proceeding");
      this.user.onResponse(res);
      return;
    }
    this.stopTimer("E");
    this.stopTimer("F");
    this.transition("completed");
    this.startTimer("K", this.timers.K, () => this.transition("terminated"));
    this.user.onResponse(res);
  }

  protected onTerminated(): void {
    this.user.onTerminated?.();
  }

  /** §17.1.2.2: in Trying E doubles up to T2; in Proceeding it is reset to T2. */
  private fireE(): void {
    this.transport.send(this.request, this.destination);
    this.interval = this.state === "proceeding" ? this.timers.T2 : Math.min(this.interval * 2, this.timers.T2);
    this.startTimer("E", this.interval, () => this.fireE());
  }

  private fireF(): void {
    this.transition("terminated");
    this.user.onTimeout?.();
  }
}
