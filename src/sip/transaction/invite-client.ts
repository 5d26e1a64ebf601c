import type { Clock } from "../../util/clock.ts";
import { Headers, SipRequest, type SipResponse } from "../message/index.ts";
import type { Address, Transport } from "../transport/index.ts";
import { ClientTransactionBase, absorbWindow, type ClientTransactionUser } from "./base.ts";
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

export interface InviteClientTransactionUser extends ClientTransactionUser {
  /** Every 1xx, every 2xx (retransmissions included: the TU re-ACKs), and the first 300-699. */
  onResponse(res: SipResponse): void;
  /** Timer B fired in Calling: no response at all (the TU acts as if a 408 arrived, §8.1.3.1). */
  onTimeout?(): void;
}

/** The INVITE client transaction. Call {@link start} once to send the INVITE. */
export class InviteClientTransaction extends ClientTransactionBase<InviteClientState, "invite-client", InviteClientTransactionUser> {
  private ack: SipRequest | undefined;

  constructor(
    id: string,
    request: SipRequest,
    destination: Address,
    transport: Transport,
    clock: Clock,
    user: InviteClientTransactionUser,
    timers: TimerValues = DEFAULT_TIMERS,
  ) {
    super("invite-client", id, request, destination, transport, clock, user, timers, TABLE, "calling", { retransmit: "A", timeout: "B" });
  }

  /** A response matched to this transaction (§17.1.3). */
  receiveResponse(res: SipResponse): void {
    const s = this.state;
    if (res.status < 200) {
      // §17.1.1.2: "If the client transaction receives a provisional response while in the "Calling"
      // state, it transitions to the "Proceeding" state. In the "Proceeding" state, the client
      // transaction SHOULD NOT retransmit the request any longer. Furthermore, the provisional response
      // MUST be passed to the TU." (Timer B stops too: a 1xx proves the server has the INVITE.)
      if (s === "calling") {
        this.stopRequestTimers();
        this.transition("proceeding");
      }
      if (s === "calling" || s === "proceeding") this.user.onResponse(res);
      return;
    }
    if (res.status < 300) {
      if (s === "calling" || s === "proceeding") {
        // RFC 6026 §7.2 (replacing §17.1.1.2's move to Terminated): a 2xx moves the transaction to
        // "Accepted" and starts Timer M = 64·T1; the 2xx goes up, and the TU, not the transaction,
        // generates the ACK (§13.2.2.4: "The UAC core MUST generate an ACK request for each 2xx").
        this.stopRequestTimers();
        this.transition("accepted");
        this.startTimer("M", this.timers.M, () => this.transition("terminated"));
        this.user.onResponse(res);
      } else if (s === "accepted") {
        // RFC 6026 §7.2: 2xx retransmissions (or a forked 2xx) in Accepted are passed up, so the TU
        // re-ACKs them — §13.2.2.4: "The ACK MUST be passed to the client transport every time a
        // retransmission of the 2xx final response that triggered the ACK arrives."
        this.user.onResponse(res);
      }
      return;
    }
    if (s === "calling" || s === "proceeding") {
      // §17.1.1.2: "reception of a response with status code from 300-699 MUST cause the client
      // transaction to transition to "Completed". The client transaction MUST pass the received response
      // up to the TU, and the client transaction MUST generate an ACK request [...]. The ACK MUST be sent
      // to the same address, port, and transport to which the original request was sent. The client
      // transaction SHOULD start timer D when it enters the "Completed" state, with a value of at least
      // 32 seconds for unreliable transports, and a value of zero seconds for reliable transports".
      this.stopRequestTimers();
      this.ack = buildNon2xxAck(this.request, res);
      this.transport.send(this.ack, this.destination);
      this.transition("completed");
      this.startTimer("D", absorbWindow(this.request, this.timers.D), () => this.transition("terminated"));
      this.user.onResponse(res);
    } else if (s === "completed" && this.ack) {
      // §17.1.1.2: "Any retransmissions of the final response that are received while in the
      // "Completed" state MUST cause the ACK to be re-passed to the transport layer for
      // retransmission, but the newly received response MUST NOT be passed up to the TU."
      this.transport.send(this.ack, this.destination);
    }
  }

  /**
   * §17.1.1.2: Timer A "MUST reset the timer with a value of 2*T1 [...]. This process MUST continue so
   * that the request is retransmitted with intervals that double after each transmission." No cap.
   */
  protected nextRetransmitInterval(intervalMs: number): number {
    return intervalMs * 2;
  }
}

/**
 * The ACK for a 300-699 response (RFC 3261 §17.1.1.3): Request-URI, Call-ID, From and CSeq number of
 * the INVITE, method ACK; To from the response (with its tag); one Via = the INVITE's top Via (same
 * branch); the INVITE's Route headers; no body. §17.1.1.3: "The To header field in the ACK MUST equal
 * the To header field in the response being acknowledged [...]. The ACK MUST contain a single Via header
 * field, and this MUST be equal to the top Via header field of the original request." "If the INVITE
 * request whose response is being acknowledged had Route header fields, those header fields MUST appear
 * in the ACK."
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
