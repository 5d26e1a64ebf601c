import type { TimerHandle } from "../../util/clock.ts";
import { Dialog } from "../dialog/index.ts";
import { Headers, SipRequest, type SipResponse, parseNameAddr } from "../message/index.ts";
import type { InviteClientTransaction } from "../transaction/index.ts";
import type { Address } from "../transport/index.ts";
import { CallBase, safe, type CallState, type CommonCallEvents } from "./call-base.ts";
import type { UaContext } from "./context.ts";
import { DigestError, buildDigestAuthorization, parseDigestChallenge, type DigestCredentials } from "./digest.ts";
import { minSeOf, negotiateAsUac } from "./session-timer.ts";
import type { Party } from "./types.ts";

/** Events of an outbound call. */
export interface OutboundCallEvents extends CommonCallEvents {
  /** The first 100 Trying: the next hop has the INVITE (a CANCEL may now be sent, §9.1). */
  trying: [];
  /** 101-199 response (180 Ringing, 183 Session Progress with early-media SDP). */
  provisional: [status: number, reason: string, sdp: string | undefined];
  /** 2xx: the ACK has been sent; `sdp` is the callee's answer. */
  answered: [sdp: string];
  /** A final 300-699 (or 408 on Timer B) ended the attempt; `ended` follows. */
  failed: [status: number, reason: string];
}

/** Parameters of `UserAgent.invite`. */
export interface InviteOptions {
  /** Request-URI, e.g. `sip:+14155550100@trunk.example.com`. */
  requestUri: string;
  /** From: a URI or name-addr without tag, e.g. `"Agent" <sip:+14155550123@203.0.113.10>`. */
  from: string;
  /** To: a URI or name-addr without tag; default the Request-URI. */
  to?: string;
  /** Our SDP offer. */
  offerSdp: string;
  /** Extra header rows for the INVITE (e.g. P-Asserted-Identity, X- headers). */
  headers?: Record<string, string> | ReadonlyArray<readonly [string, string]>;
  /** Next hop (e.g. the trunk's signalling address); default: the Request-URI's host and port. */
  proxy?: Address;
  /** Answer one 401/407 digest challenge with these (RFC 3261 §22.2). */
  credentials?: DigestCredentials;
}

const TABLE: Partial<Record<CallState, readonly CallState[]>> = {
  calling: ["early", "confirmed", "ended"],
  early: ["confirmed", "ended"],
  confirmed: ["ended"],
};

/**
 * An outbound call (UAC side of an INVITE, RFC 3261 §13.2). States: calling ─1xx─▶ early ─2xx─▶
 * confirmed (ACK sent) ─BYE─▶ ended; calling/early ─300-699 / Timer B / CANCEL─▶ ended.
 */
export class OutboundCall extends CallBase<OutboundCallEvents> {
  readonly direction = "outbound" as const;
  readonly requestUri: string;
  readonly from: Party;
  readonly to: Party;
  /** The callee's SDP once answered. */
  remoteSdp: string | undefined;
  private invite: SipRequest;
  private tx: InviteClientTransaction | undefined;
  private readonly destination: Address;
  private gotProvisional = false;
  /** Any response at all to the INVITE (of any attempt). */
  private responded = false;
  /** ICMP unreachable reports for our destination while no response had arrived. */
  private unreachableReports = 0;
  /** ACKs of 2xx responses that came after the call ended (by To-tag), re-sent on retransmissions. */
  private readonly lateAcks = new Map<string, { ack: SipRequest; to: Address }>();
  private cancelRequested = false;
  private cancelSent = false;
  private cancelGuard: TimerHandle | undefined;
  private ack: SipRequest | undefined;
  private ackDestination: Address | undefined;
  private authAttempts = 0;

  /** @internal Built by `UserAgent.invite`, which then calls start(). */
  constructor(
    ctx: UaContext,
    invite: SipRequest,
    destination: Address,
    private readonly credentials: DigestCredentials | undefined,
  ) {
    super(ctx, invite.callId, "calling", TABLE);
    this.invite = invite;
    this.destination = destination;
    this.requestUri = invite.uri;
    const f = invite.from;
    const t = invite.to;
    this.from = { uri: f.uri.toString(), user: f.uri.user, displayName: f.displayName };
    this.to = { uri: t.uri.toString(), user: t.uri.user, displayName: t.displayName };
    this.localSdp = invite.bodyText;
  }

  /** @internal Sends the INVITE (INVITE client transaction: Timer A retransmits, Timer B = 64·T1). */
  start(): void {
    this.tx = this.ctx.layer.createInviteClient(this.invite, this.destination, {
      onResponse: (r) => this.onResponse(r),
      onTimeout: () => this.onTimeout(),
    });
  }

  /** Whether any response (even 100 Trying) has arrived for the INVITE. */
  get hasResponse(): boolean {
    return this.responded;
  }

  /**
   * Cancels a call not yet answered (§9.1). After a provisional response the CANCEL goes out and the
   * call ends with "canceled" on the 487 (or 64·T1 later at the latest). Before any response, §9.1:
   * "If no provisional response has been received, the CANCEL request MUST NOT be sent; rather, the
   * client MUST wait for the arrival of a provisional response before sending the request." The call
   * then ends at once with "canceled" for the layer above, while the INVITE transaction runs on: a
   * later provisional gets the CANCEL, a later 2xx is ACKed and BYEd (§15), a later final is ACKed by
   * the transaction (§17.1.1.3), and Timer B ends it quietly.
   */
  cancel(): void {
    if (this.state !== "calling" && this.state !== "early") return;
    if (this.cancelRequested) return;
    this.cancelRequested = true;
    if (this.gotProvisional) this.sendCancel();
    else if (!this.responded) this.end("canceled");
  }

  /**
   * @internal The transport saw ICMP unreachable after a send to `to`. While the INVITE has had no
   * response at all and it repeats for our destination (the INVITE and a Timer A retransmission), the
   * call ends with "unreachable" instead of waiting for Timer B (§17.1.1.2; §18.4 "the transport layer
   * SHOULD inform the transport user of a failure in sending"). Two reports are needed because the
   * socket error does not carry the address; one misattributed report is not enough.
   */
  destinationUnreachable(to: Address, code: string): void {
    if (this.state !== "calling" || this.responded) return;
    if (to.host !== this.destination.host || to.port !== this.destination.port) return;
    if (++this.unreachableReports < 2) return;
    this.ctx.log.warn({ sipCallId: this.callId, destination: `${to.host}:${to.port}`, code }, "sip destination unreachable: invite abandoned");
    this.tx?.dispose();
    this.end("unreachable");
  }

  /**
   * CANCEL before answer, BYE after. Resolves when that finished. Never rejects. §15: "For the caller's
   * UA, this would imply a CANCEL request if the initial INVITE has not generated a final response, and
   * a BYE to all confirmed dialogs after a final response."
   */
  hangup(): Promise<void> {
    if (this.state === "calling" || this.state === "early") {
      this.cancel();
      return this.done.then(() => undefined);
    }
    if (this.state === "confirmed") return this.endWithBye("local_bye");
    return Promise.resolve();
  }

  /**
   * @internal A 2xx that no transaction matched any more (after Timer M): re-ACK it. §13.2.2.4: "The
   * ACK MUST be passed to the client transport every time a retransmission of the 2xx final response
   * that triggered the ACK arrives."
   */
  receiveStray2xx(res: SipResponse): void {
    if (this.ack && this.ackDestination && res.to.tag === this.dialog?.remoteTag) this.ctx.transport.send(this.ack, this.ackDestination);
  }

  protected onRemoteBye(): void {
    this.end("remote_bye");
  }

  protected override onEnd(): void {
    this.ctx.clock.clearTimer(this.cancelGuard);
    this.cancelGuard = undefined;
  }

  private onResponse(res: SipResponse): void {
    const first = !this.responded;
    this.responded = true;
    if (res.status < 200) {
      this.gotProvisional = true;
      // §9.1: "If no provisional response has been received, the CANCEL request MUST NOT be sent; rather,
      // the client MUST wait for the arrival of a provisional response before sending the request."
      if (this.cancelRequested && !this.cancelSent) this.sendCancel();
      if (res.status === 100 && first && this.state !== "ended") this.emitter.emit("trying");
      if (res.status > 100 && this.state !== "ended") {
        if (this.state === "calling") this.transition("early");
        this.emitter.emit("provisional", res.status, res.reason, res.body.length > 0 ? res.bodyText : undefined);
      }
      return;
    }
    if (res.status < 300) return this.on2xx(res);
    // §8.1.3.5: "If a 401 (Unauthorized) or 407 (Proxy Authentication Required) response is received,
    // the UAC SHOULD follow the authorization procedures of Section 22.2 and Section 22.3".
    if ((res.status === 401 || res.status === 407) && !this.cancelRequested && this.retryWithAuth(res)) return;
    if (res.status === 422 && !this.cancelRequested && this.retryWithMinSe(res)) return;
    // §13.2.2.3: "Subsequent final responses (which would only arrive under error conditions) MUST be
    // ignored."
    if (this.state === "ended") return;
    this.emitter.emit("failed", res.status, res.reason);
    this.end(this.cancelRequested && res.status === 487 ? "canceled" : "rejected");
  }

  /**
   * §13.2.2.4: "The UAC core MUST generate an ACK request for each 2xx received from the transaction
   * layer." A 2xx with another To-tag (a forked INVITE) is a second dialog: "If, after acknowledging any
   * 2xx response to an INVITE, the UAC does not want to continue with that dialog, then the UAC MUST
   * terminate the dialog by sending a BYE request".
   */
  private on2xx(res: SipResponse): void {
    const toTag = safe(() => res.to.tag);
    if (!this.dialog && this.state === "ended") {
      // Cancelled before any response (see cancel()); the callee answered anyway. §15: "The UAC MAY
      // continue with the sessions established by any 2xx responses, or MAY terminate them with BYE."
      this.ackAndBye(res);
      return;
    }
    if (this.dialog) {
      if (toTag === this.dialog.remoteTag) {
        if (this.ack && this.ackDestination) this.ctx.transport.send(this.ack, this.ackDestination);
      } else this.ackAndBye(res);
      return;
    }
    let dialog: Dialog;
    try {
      dialog = Dialog.createUac(this.invite, res);
    } catch (err) {
      this.ctx.log.warn({ sipCallId: this.callId, code: (err as { code?: string })?.code, pii: { err: String(err) } }, "sip 2xx unusable for a dialog");
      if (this.state !== "ended") {
        this.emitter.emit("failed", 502, "Bad 2xx");
        this.end("error");
      }
      return;
    }
    this.dialog = dialog;
    dialog.state = "confirmed";
    this.ctx.registerDialog(dialog.key, this);
    this.sendAck(dialog);
    if (this.cancelRequested || this.state === "ended") {
      // The CANCEL lost the race with a 2xx. §15: "If the INVITE results in 2xx final response(s) to the
      // INVITE, this means that a UAS accepted the invitation while the CANCEL was in progress. The UAC
      // MAY continue with the sessions established by any 2xx responses, or MAY terminate them with BYE."
      void this.endWithBye("canceled");
      return;
    }
    this.transition("confirmed");
    this.localSdp = this.invite.bodyText;
    this.notePeerCapabilities(res);
    // RFC 4028 §7.2: the 2xx's Session-Expires starts the session timer, its refresher says who refreshes.
    const timer = negotiateAsUac(res);
    if (timer) this.sessionTimer.start(timer.seconds, timer.refresher);
    this.remoteSdp = res.bodyText;
    this.emitter.emit("answered", this.remoteSdp);
  }

  /**
   * §13.2.2.4: the ACK is built as any in-dialog request, with the INVITE's CSeq number ("The sequence
   * number of the CSeq header field MUST be the same as the INVITE being acknowledged, but the CSeq
   * method MUST be ACK"), and "the request is passed to the transport layer directly for transmission,
   * rather than a client transaction."
   */
  private sendAck(dialog: Dialog): void {
    const ack = dialog.createRequest("ACK", { ackFor: this.invite.cseq.seq, headers: [["User-Agent", this.ctx.userAgent]] });
    this.ctx.addVia(ack);
    this.ack = ack;
    this.ackDestination = safe(() => dialog.nextHop(ack)) ?? this.destination;
    this.ctx.transport.send(ack, this.ackDestination);
  }

  private ackAndBye(res: SipResponse): void {
    const toTag = safe(() => res.to.tag) ?? "";
    const acked = this.lateAcks.get(toTag);
    if (acked) {
      // A retransmission of a 2xx already ACKed and BYEd: §13.2.2.4, ACK again, no second BYE.
      this.ctx.transport.send(acked.ack, acked.to);
      return;
    }
    const other = safe(() => Dialog.createUac(this.invite, res));
    if (!other) return;
    const ack = other.createRequest("ACK", { ackFor: this.invite.cseq.seq });
    this.ctx.addVia(ack);
    const dest = safe(() => other.nextHop(ack)) ?? this.destination;
    if (this.lateAcks.size < 16) this.lateAcks.set(toTag, { ack, to: dest });
    this.ctx.transport.send(ack, dest);
    const bye = other.createRequest("BYE");
    this.ctx.addVia(bye);
    this.ctx.layer.createNonInviteClient(bye, dest, { onResponse: () => {} });
  }

  private onTimeout(): void {
    if (this.state === "ended") return;
    if (this.cancelRequested) return this.end("canceled");
    // §13.2.2: "If the INVITE client transaction returns a timeout rather than a response the TU acts as
    // if a 408 (Request Timeout) response had been received".
    this.emitter.emit("failed", 408, "Request Timeout");
    this.end("timeout");
  }

  /**
   * §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields in the CANCEL
   * request MUST be identical to those in the request being cancelled, including tags. A CANCEL
   * constructed by a client MUST have only a single Via header field value matching the top Via value in
   * the request being cancelled." "If the request being cancelled contains a Route header field, the
   * CANCEL request MUST include that Route header field's values." "The destination address, port, and
   * transport for the CANCEL MUST be identical to those used to send the original request."
   */
  private sendCancel(): void {
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
    this.ctx.layer.createNonInviteClient(new SipRequest("CANCEL", inv.uri, h), this.destination, { onResponse: () => {} });
    // §9.1: "If there is no final response for the original request in 64*T1 seconds [...], the client
    // SHOULD then consider the original transaction cancelled and SHOULD destroy the client transaction
    // handling the original request."
    this.cancelGuard = this.ctx.clock.setTimer(this.ctx.layer.timers.B, () => {
      this.cancelGuard = undefined;
      this.tx?.dispose();
      this.end("canceled");
    });
  }

  /**
   * §22.2: on 401/407 re-send the INVITE with Authorization / Proxy-Authorization, same Call-ID and
   * From tag, CSeq + 1, a new branch. One attempt per challenge, or another if the nonce was stale.
   * §22.2: "When a UAC resubmits a request with its credentials after receiving a 401 (Unauthorized) or
   * 407 (Proxy Authentication Required) response, it MUST increment the CSeq header field value as it
   * would normally when sending an updated request." §8.1.3.5: "This new request constitutes a new
   * transaction and SHOULD have the same value of the Call-ID, To, and From of the previous request".
   */
  /**
   * RFC 4028 §7.4: "If a 422 response is received, the UAC … SHOULD retry the request … with a
   * Session-Expires … equal to the Min-SE value from the 422", and a Min-SE of that value. Once.
   */
  private retryWithMinSe(res: SipResponse): boolean {
    const minSe = minSeOf(res);
    if (minSe === undefined || this.minSeRetried || minSe > 86_400) return false;
    this.minSeRetried = true;
    const next = this.invite.clone();
    next.headers.delete("Via");
    next.headers.set("CSeq", `${this.invite.cseq.seq + 1} INVITE`);
    next.headers.set("Session-Expires", String(minSe));
    next.headers.set("Min-SE", String(minSe));
    this.ctx.addVia(next);
    this.invite = next;
    this.gotProvisional = false;
    this.start();
    return true;
  }

  private minSeRetried = false;

  private retryWithAuth(res: SipResponse): boolean {
    if (!this.credentials) return false;
    const [challengeHeader, answerHeader] =
      res.status === 401 ? ["WWW-Authenticate", "Authorization"] : ["Proxy-Authenticate", "Proxy-Authorization"];
    let challenge;
    for (const v of res.headers.getAll(challengeHeader)) {
      try {
        const c = parseDigestChallenge(v);
        if (this.credentials.realm === undefined || this.credentials.realm === c.realm) {
          challenge = c;
          break;
        }
      } catch (e) {
        if (!(e instanceof DigestError)) throw e;
      }
    }
    if (!challenge) return false;
    if (this.authAttempts >= 1 && !challenge.stale) return false; // the credentials were refused
    if (this.authAttempts >= 3) return false;
    this.authAttempts++;
    const next = this.invite.clone();
    next.headers.delete("Via");
    next.headers.set("CSeq", `${this.invite.cseq.seq + 1} INVITE`);
    next.headers.set(answerHeader, buildDigestAuthorization(challenge, this.credentials, "INVITE", next.uri, { body: next.body }));
    this.ctx.addVia(next);
    this.invite = next;
    this.gotProvisional = false;
    this.start();
    return true;
  }
}

/** Parses a From/To given as URI or name-addr; a bare URI becomes `<uri>`. @throws SipParseError. */
export function normaliseAddress(text: string): string {
  const a = parseNameAddr(text.includes("<") ? text : `<${text.trim()}>`);
  a.params.delete("tag");
  return a.toString();
}
