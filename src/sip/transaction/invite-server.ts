import type { Clock } from "../../util/clock.ts";
import type { SipRequest, SipResponse } from "../message/index.ts";
import type { Transport } from "../transport/index.ts";
import { TransactionBase, TransactionStateError } from "./base.ts";
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

const TABLE: Record<InviteServerState, readonly InviteServerState[]> = {
  proceeding: ["accepted", "completed", "terminated"],
  accepted: ["terminated"],
  completed: ["confirmed", "terminated"],
  confirmed: ["terminated"],
  terminated: [],
};

/** Upward reports of an INVITE server transaction. All optional. */
export interface InviteServerTransactionUser {
  /** An ACK with this transaction's branch arrived in "accepted" (peers that reuse the INVITE branch for the 2xx ACK). */
  onAck?(ack: SipRequest): void;
  /** No ACK for our 2xx within 64·T1 (RFC 3261 §13.3.1.4): the session SHOULD be ended with BYE. */
  onNoAck?(): void;
  /** Timer H: no ACK for our 300-699 response (§17.2.1). */
  onTimeout?(): void;
  onTerminated?(): void;
}

/**
 * The INVITE server transaction. Retransmissions of the INVITE resend the last response; our 2xx is
 * retransmitted here (the §13.3.1.4 duty of the UAS core, kept next to Timer G since it is the same
 * schedule) until the TU reports the ACK with {@link ackReceived}, or one arrives on this branch.
 */
export class InviteServerTransaction extends TransactionBase<InviteServerState> {
  readonly kind = "invite-server" as const;
  private last: SipResponse | undefined;
  private acked = false;
  private interval = 0;

  constructor(
    id: string,
    readonly request: SipRequest,
    private readonly transport: Transport,
    clock: Clock,
    private readonly user: InviteServerTransactionUser = {},
    timers: TimerValues = DEFAULT_TIMERS,
  ) {
    super(id, clock, timers, TABLE, "proceeding");
  }

  /** The last response sent, if any. */
  get lastResponse(): SipResponse | undefined {
    return this.last;
  }

  /**
   * Sends a response from the TU (§17.2.1). 1xx only in "proceeding"; a 2xx moves to "accepted"
   * (further 2xx allowed there, RFC 6026 §7.1); 300-699 moves to "completed".
   * @throws TransactionStateError for a response the current state does not allow.
   */
  respond(res: SipResponse): void {
    const s = this.state;
    if (s === "accepted" && res.status >= 200 && res.status < 300) {
      this.send(res);
      return;
    }
    if (s !== "proceeding") throw new TransactionStateError(this.kind, s, `respond ${res.status}`);
    if (res.status < 200) {
      this.send(res);
    } else if (res.status < 300) {
      this.transition("accepted");
      this.send(res);
      this.interval = this.timers.T1;
      this.startTimer("2xx", this.interval, () => this.fire2xx());
      this.startTimer("L", this.timers.L, () => this.fireL());
    } else {
      this.transition("completed");
      this.send(res);
      this.interval = this.timers.G;
      this.startTimer("G", this.interval, () => this.fireG());
      this.startTimer("H", this.timers.H, () => this.fireH());
    }
  }

  /** A request that matched this transaction (§17.2.3): a retransmitted INVITE or an ACK. */
  receiveRequest(req: SipRequest): void {
    if (req.method === "INVITE") {
      // §17.2.1: retransmissions in Proceeding/Completed resend the last response; RFC 6026 §7.1 absorbs
      // them in Accepted — we resend the 2xx there too, which only helps a caller whose 2xx got lost.
      if (this.last && (this.state === "proceeding" || this.state === "completed" || this.state === "accepted")) {
        this.transport.sendResponse(this.last);
      }
      return;
    }
    if (req.method !== "ACK") return;
    if (this.state === "completed") {
      // §17.2.1: ACK in Completed → Confirmed; Timer G stops; Timer I absorbs ACK retransmissions.
      this.stopTimer("G");
      this.stopTimer("H");
      this.transition("confirmed");
      this.startTimer("I", this.timers.I, () => this.transition("terminated"));
    } else if (this.state === "accepted") {
      const first = !this.acked;
      this.ackReceived();
      if (first) this.user.onAck?.(req);
    }
  }

  /** The TU matched the ACK for our 2xx (a new transaction, §17.1.1.3): stop retransmitting. */
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

  protected onTerminated(): void {
    this.user.onTerminated?.();
  }

  private send(res: SipResponse): void {
    this.last = res;
    this.transport.sendResponse(res);
  }

  /** §13.3.1.4: "retransmitted ... starting with T1 and doubling ... until it reaches T2". */
  private fire2xx(): void {
    if (!this.last) return;
    this.transport.sendResponse(this.last);
    this.interval = Math.min(this.interval * 2, this.timers.T2);
    this.startTimer("2xx", this.interval, () => this.fire2xx());
  }

  private fireL(): void {
    const noAck = !this.acked;
    this.transition("terminated");
    if (noAck) this.user.onNoAck?.();
  }

  /** §17.2.1: Timer G resends the final response, doubling up to T2. */
  private fireG(): void {
    if (!this.last) return;
    this.transport.sendResponse(this.last);
    this.interval = Math.min(this.interval * 2, this.timers.T2);
    this.startTimer("G", this.interval, () => this.fireG());
  }

  /** §17.2.1: Timer H in Completed → Terminated, and the TU is told. */
  private fireH(): void {
    this.transition("terminated");
    this.user.onTimeout?.();
  }
}
