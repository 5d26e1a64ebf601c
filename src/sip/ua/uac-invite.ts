import type { TimerHandle } from "../../util/clock.ts";
import { Dialog } from "../dialog/index.ts";
import { Headers, SipRequest, type SipResponse } from "../message/index.ts";
import type { InviteClientTransaction } from "../transaction/index.ts";
import type { Address } from "../transport/index.ts";
import type { UaContext } from "./context.ts";
import { safe } from "./session-modification.ts";

/** What the INVITE's responses go to while the call lives (the OutboundCall). */
export interface UacInviteOwner {
  onInviteResponse(res: SipResponse): void;
  onInviteTimeout(): void;
  /** 64·T1 after the CANCEL without a final response (§9.1): the INVITE transaction was dropped. */
  onCancelGivenUp(): void;
}

const NOOP = (): void => {};

/**
 * The INVITE side of an outbound call (RFC 3261 §13.2, §9.1): the INVITE client transaction, the ACK
 * for the 2xx, the CANCEL, and the ACK + BYE of unwanted 2xx. It is what the transaction's callbacks
 * hold; the call is reached through `owner`, which {@link detach} drops when the call ends. The
 * transaction outlives the call by up to 64·T1 (Timer M, RFC 6026 §7.2; Timer D, §17.1.1.2) and would
 * otherwise keep the call and all the layer above hangs on it (media, sockets, providers) that long.
 * Detached, it still does what the protocol asks of a UAC after the end: §13.2.2.4 "The ACK MUST be
 * passed to the client transport every time a retransmission of the 2xx final response that triggered
 * the ACK arrives"; a 2xx of another dialog (or after a CANCEL) is ACKed and BYEd (§15); a late
 * provisional gets the deferred CANCEL (§9.1).
 */
export class UacInvite {
  /** The INVITE of the current attempt (a 401/407/422 retry replaces it with CSeq + 1). */
  invite: SipRequest;
  tx: InviteClientTransaction | undefined;
  owner: UacInviteOwner | undefined;
  gotProvisional = false;
  cancelRequested = false;
  cancelSent = false;
  /** The ACK of the 2xx that made the call's dialog, its next hop, and that 2xx's To-tag. */
  private ack: SipRequest | undefined;
  private ackDestination: Address | undefined;
  private remoteTag: string | undefined;
  /** ACKs of 2xx responses of other dialogs (by To-tag), re-sent on retransmissions. At most 16. */
  private readonly lateAcks = new Map<string, { ack: SipRequest; to: Address }>();
  private cancelGuard: TimerHandle | undefined;

  constructor(
    private readonly ctx: UaContext,
    invite: SipRequest,
    readonly destination: Address,
    owner: UacInviteOwner,
  ) {
    this.invite = invite;
    this.owner = owner;
  }

  /** Sends `invite` in a new INVITE client transaction (Timer A retransmits, Timer B = 64·T1). */
  start(): void {
    this.tx = this.ctx.layer.createInviteClient(this.invite, this.destination, {
      onResponse: (r) => (this.owner ? this.owner.onInviteResponse(r) : this.afterEnd(r)),
      onTimeout: () => this.owner?.onInviteTimeout(),
    });
  }

  /** The call ended: from now on responses are handled here, without it. */
  detach(): void {
    this.owner = undefined;
    const s = this.tx?.state;
    if (s !== "calling" && s !== "proceeding") {
      this.ctx.clock.clearTimer(this.cancelGuard);
      this.cancelGuard = undefined;
    }
  }

  /**
   * §13.2.2.4: the ACK is built as any in-dialog request, with the INVITE's CSeq number ("The sequence
   * number of the CSeq header field MUST be the same as the INVITE being acknowledged, but the CSeq
   * method MUST be ACK"), and "the request is passed to the transport layer directly for transmission,
   * rather than a client transaction."
   */
  sendAck(dialog: Dialog): void {
    const ack = dialog.createRequest("ACK", { ackFor: this.invite.cseq.seq, headers: [["User-Agent", this.ctx.userAgent]] });
    this.ctx.addVia(ack);
    this.ack = ack;
    this.remoteTag = dialog.remoteTag;
    this.ackDestination = safe(() => dialog.nextHop(ack)) ?? this.destination;
    this.ctx.transport.send(ack, this.ackDestination);
  }

  /** A retransmission of the 2xx with To-tag `toTag`: its ACK again (§13.2.2.4). False if none was sent. */
  resendAck(toTag: string | undefined): boolean {
    if (this.ack && this.ackDestination && toTag === this.remoteTag) {
      this.ctx.transport.send(this.ack, this.ackDestination);
      return true;
    }
    const late = toTag === undefined ? undefined : this.lateAcks.get(toTag);
    if (late) this.ctx.transport.send(late.ack, late.to);
    return late !== undefined;
  }

  /**
   * A 2xx we do not want (another dialog of a forked INVITE, or after a CANCEL): ACK it and BYE that
   * dialog. §13.2.2.4: "If, after acknowledging any 2xx response to an INVITE, the UAC does not want to
   * continue with that dialog, then the UAC MUST terminate the dialog by sending a BYE request". A
   * retransmission is ACKed again, without a second BYE.
   */
  ackAndBye(res: SipResponse): void {
    const toTag = safe(() => res.to.tag) ?? "";
    if (this.resendAck(toTag)) return;
    const other = safe(() => Dialog.createUac(this.invite, res));
    if (!other) return;
    const ack = other.createRequest("ACK", { ackFor: this.invite.cseq.seq });
    this.ctx.addVia(ack);
    const dest = safe(() => other.nextHop(ack)) ?? this.destination;
    if (this.lateAcks.size < 16) this.lateAcks.set(toTag, { ack, to: dest });
    this.ctx.transport.send(ack, dest);
    const bye = other.createRequest("BYE");
    this.ctx.addVia(bye);
    this.ctx.layer.createNonInviteClient(bye, dest, { onResponse: NOOP });
  }

  /**
   * §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields in the CANCEL
   * request MUST be identical to those in the request being cancelled, including tags. A CANCEL
   * constructed by a client MUST have only a single Via header field value matching the top Via value in
   * the request being cancelled." "If the request being cancelled contains a Route header field, the
   * CANCEL request MUST include that Route header field's values." "The destination address, port, and
   * transport for the CANCEL MUST be identical to those used to send the original request."
   */
  sendCancel(): void {
    this.cancelSent = true;
    const inv = this.invite;
    const h = new Headers();
    h.append("Via", inv.headers.get("Via")!);
    for (const r of inv.headers.getAll("Route")) h.append("Route", r);
    h.append("Max-Forwards", "70");
    h.append("From", inv.headers.get("From")!);
    h.append("To", inv.headers.get("To")!);
    h.append("Call-ID", inv.callId);
    h.append("CSeq", `${inv.cseq.seq} CANCEL`);
    h.append("User-Agent", this.ctx.userAgent);
    this.ctx.layer.createNonInviteClient(new SipRequest("CANCEL", inv.uri, h), this.destination, { onResponse: NOOP });
    // §9.1: "If there is no final response for the original request in 64*T1 seconds [...], the client
    // SHOULD then consider the original transaction cancelled and SHOULD destroy the client transaction
    // handling the original request."
    this.ctx.clock.clearTimer(this.cancelGuard);
    this.cancelGuard = this.ctx.clock.setTimer(this.ctx.layer.timers.B, () => {
      this.cancelGuard = undefined;
      this.tx?.dispose();
      this.owner?.onCancelGivenUp();
    });
  }

  /** Stops the cancel guard (the call got its final response). */
  clearCancelGuard(): void {
    this.ctx.clock.clearTimer(this.cancelGuard);
    this.cancelGuard = undefined;
  }

  /**
   * A response to the INVITE after the call ended. 1xx: the CANCEL deferred by §9.1 ("the client MUST
   * wait for the arrival of a provisional response before sending the request") goes out now. 2xx:
   * the dialog's 2xx again → its ACK again; any other → ACK and BYE (§15: "The UAC MAY continue with the
   * sessions established by any 2xx responses, or MAY terminate them with BYE"). 300-699: the
   * transaction ACKs it (§17.1.1.3); §13.2.2.3 "Subsequent final responses [...] MUST be ignored."
   */
  private afterEnd(res: SipResponse): void {
    if (res.status >= 200) this.clearCancelGuard();
    if (res.status < 200) {
      this.gotProvisional = true;
      if (this.cancelRequested && !this.cancelSent) this.sendCancel();
    } else if (res.status < 300) this.ackAndBye(res);
  }
}
