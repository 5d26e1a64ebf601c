import type { Clock } from "../../util/clock.ts";
import { Headers, SipRequest, type SipResponse } from "../message/index.ts";
import type { Address, Transport } from "../transport/index.ts";
import { TransactionBase } from "./base.ts";
import { DEFAULT_TIMERS, type TimerValues } from "./timers.ts";

/**
 * INVITE client transaction states (RFC 3261 §17.1.1, Figure 5, with RFC 6026 §7.2 "Accepted"):
 *
 *   calling ──(Timer A: resend, doubling)──▶ calling
 *   calling ──1xx──▶ proceeding ──1xx──▶ proceeding
 *   calling/proceeding ──2xx──▶ accepted ──Timer M (64·T1)──▶ terminated   (2xx retransmits go to the TU)
 *   calling/proceeding ─300-699─▶ completed (ACK sent, same branch) ──Timer D (32 s)──▶ terminated
 *   calling ──Timer B (64·T1)──▶ terminated (TU told: timeout)
 */
export type InviteClientState = "calling" | "proceeding" | "accepted" | "completed" | "terminated";

const TABLE: Record<InviteClientState, readonly InviteClientState[]> = {
  calling: ["proceeding", "accepted", "completed", "terminated"],
  proceeding: ["accepted", "completed", "terminated"],
  accepted: ["terminated"],
  completed: ["terminated"],
  terminated: [],
};

export interface InviteClientTransactionUser {
  /** Every 1xx, every 2xx (retransmissions included: the TU re-ACKs), and the first 300-699. */
  onResponse(res: SipResponse): void;
  /** Timer B fired in Calling: no response at all (the TU acts as if a 408 arrived, §8.1.3.1). */
  onTimeout?(): void;
  onTerminated?(): void;
}

/** The INVITE client transaction. Call {@link start} once to send the INVITE. */
export class InviteClientTransaction extends TransactionBase<InviteClientState> {
  readonly kind = "invite-client" as const;
  private interval = 0;
  private ack: SipRequest | undefined;

  constructor(
    id: string,
    readonly request: SipRequest,
    readonly destination: Address,
    private readonly transport: Transport,
    clock: Clock,
    private readonly user: InviteClientTransactionUser,
    timers: TimerValues = DEFAULT_TIMERS,
  ) {
    super(id, clock, timers, TABLE, "calling");
  }

  /** Sends the INVITE; starts Timer A (UDP) and Timer B (§17.1.1.2). */
  start(): void {
    this.transport.send(this.request, this.destination);
    this.interval = this.timers.A;
    this.startTimer("A", this.interval, () => this.fireA());
    this.startTimer("B", this.timers.B, () => this.fireB());
  }

  /** A response matched to this transaction (§17.1.3). */
  receiveResponse(res: SipResponse): void {
    const s = this.state;
    if (res.status < 200) {
      if (s === "calling") {
        this.stopTimer("A");
        this.stopTimer("B");
        this.transition("proceeding");
      }
      if (s === "calling" || s === "proceeding") this.user.onResponse(res);
      return;
    }
    if (res.status < 300) {
      if (s === "calling" || s === "proceeding") {
        // RFC 6026 §7.2: → Accepted, Timer M; the TU generates the ACK for a 2xx (§13.2.2.4).
        this.stopTimer("A");
        this.stopTimer("B");
        this.transition("accepted");
        this.startTimer("M", this.timers.M, () => this.transition("terminated"));
        this.user.onResponse(res);
      } else if (s === "accepted") {
        this.user.onResponse(res); // retransmitted 2xx (or a forked one): the TU re-ACKs
      }
      return;
    }
    if (s === "calling" || s === "proceeding") {
      // §17.1.1.2: ACK on the same branch, pass the response up, Completed with Timer D.
      this.stopTimer("A");
      this.stopTimer("B");
      this.ack = buildNon2xxAck(this.request, res);
      this.transport.send(this.ack, this.destination);
      this.transition("completed");
      this.startTimer("D", this.timers.D, () => this.transition("terminated"));
      this.user.onResponse(res);
    } else if (s === "completed" && this.ack) {
      this.transport.send(this.ack, this.destination); // §17.1.1.2: retransmitted final → resend ACK
    }
  }

  protected onTerminated(): void {
    this.user.onTerminated?.();
  }

  /** §17.1.1.2: retransmit, doubling the interval (no cap for INVITE). */
  private fireA(): void {
    this.transport.send(this.request, this.destination);
    this.interval *= 2;
    this.startTimer("A", this.interval, () => this.fireA());
  }

  private fireB(): void {
    this.transition("terminated");
    this.user.onTimeout?.();
  }
}

/**
 * The ACK for a 300-699 response (RFC 3261 §17.1.1.3): Request-URI, Call-ID, From and CSeq number of
 * the INVITE, method ACK; To from the response (with its tag); one Via = the INVITE's top Via (same
 * branch); the INVITE's Route headers; no body.
 */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  const h = new Headers();
  h.append("Via", invite.headers.get("Via")!);
  for (const r of invite.headers.getAll("Route")) h.append("Route", r);
  h.append("Max-Forwards", "70");
  h.append("From", invite.headers.get("From")!);
  h.append("To", res.headers.get("To") ?? invite.headers.get("To")!);
  h.append("Call-ID", invite.headers.get("Call-ID")!);
  h.append("CSeq", `${invite.cseq.seq} ACK`);
  return new SipRequest("ACK", invite.uri, h);
}
