import type { TimerHandle } from "../../util/clock.ts";
import { Dialog } from "../dialog/index.ts";
import { buildResponse, generateTag, type NameAddr, type SipRequest, type SipResponse } from "../message/index.ts";
import type { InviteServerTransaction } from "../transaction/index.ts";
import type { Address } from "../transport/index.ts";
import { CallBase, safe, type CallState, type CommonCallEvents } from "./call-base.ts";
import type { UaContext } from "./context.ts";
import { sdpBodyOf } from "../message/body.ts";
import { SUPPORTED_ROWS } from "./extensions.ts";
import { ALLOW_HEADER, type Party } from "./types.ts";

/** Events of an inbound call (subscribe with `call.on(name, fn)`). */
export interface InboundCallEvents extends CommonCallEvents {
  /** Our 200 OK went out (after the optional ringing delay). Start sending media now. */
  answered: [];
  /** The caller's ACK arrived: the dialog is confirmed. `ackSdp` is the answer of a late-offer call. */
  confirmed: [ackSdp: string | undefined];
}

/** Extra header rows for a rejection, e.g. `{ "Retry-After": "30" }` or `[["Warning", '399 h "x"']]`. */
export type ExtraHeaders = Record<string, string> | ReadonlyArray<readonly [string, string]>;

const TABLE: Partial<Record<CallState, readonly CallState[]>> = {
  offered: ["ringing", "answered", "ended"],
  ringing: ["answered", "ended"],
  answered: ["confirmed", "ended"],
  confirmed: ["ended"],
};

/**
 * An inbound call (UAS side of an INVITE, RFC 3261 §13.3). Created by the UserAgent, which has sent
 * 100 Trying; handed to `delegate.onInvite`. States:
 *
 *   offered ─accept()─▶ [ringing: 180, answerDelayMs] ─▶ answered (200 sent, retransmitted) ─ACK─▶ confirmed
 *   offered/ringing ─reject() / CANCEL / BYE─▶ ended;  answered/confirmed ─BYE / hangup() / no ACK─▶ ended
 */
export class InboundCall extends CallBase<InboundCallEvents> {
  readonly direction = "inbound" as const;
  /** The caller (From). */
  readonly from: Party;
  /** The called party (To). */
  readonly to: Party;
  /** The Request-URI of the INVITE (the DID for trunks). */
  readonly requestUri: string;
  /** Where the INVITE came from (the trunk's signalling address). */
  readonly remote: Address;
  /** dialog-peer.ts's base: the INVITE's source host. */
  protected get peerBase(): string {
    return this.remote.host;
  }
  /**
   * The caller's SDP offer (the SDP part of a multipart body, RFC 5621); "" for a late-offer INVITE
   * (then accept() sends our offer).
   */
  readonly offerSdp: string;
  /** The INVITE as received (for headers such as X-PH-*, P-Asserted-Identity). */
  readonly invite: SipRequest;
  /**
   * Our To-tag on every response after 100 Trying. §8.2.6.2: "The same tag MUST be used for all
   * responses to that request, both final and provisional (again excepting the 100 (Trying))."
   */
  readonly localTag = generateTag();
  private ringTimer: TimerHandle | undefined;

  /** @internal Built by the UserAgent. */
  constructor(
    ctx: UaContext,
    invite: SipRequest,
    private readonly tx: InviteServerTransaction,
    source: Address,
  ) {
    super(ctx, invite.callId, "offered", TABLE);
    this.invite = invite;
    this.from = party(invite.from);
    this.to = party(invite.to);
    this.requestUri = invite.uri;
    this.remote = { ...source };
    const body = sdpBodyOf(invite); // the UA answered 415 to anything else
    this.offerSdp = body.kind === "sdp" ? body.sdp : "";
    this.oa.remoteOfferPending = this.offerSdp !== ""; // answered by our 200 (RFC 3311 §5.2 glare rule)
    this.notePeerCapabilities(invite);
  }

  /**
   * Answers with `answerSdp`. With `answerDelayMs > 0`, sends 180 Ringing (To-tag, Contact,
   * Record-Route) and waits that long first. The 200 OK (same To-tag, Contact, Record-Route copied,
   * SDP) is retransmitted T1, 2T1 … ≤ T2 until the ACK; no ACK within 64·T1 → one BYE (not
   * retransmitted), ended("no_ack").
   * Returns false (and does nothing) unless the call is still "offered".
   * §13.3.1.4: "If the INVITE request contained an offer, and the UAS had not yet sent an answer, the
   * 2xx MUST contain an answer. If the INVITE did not contain an offer, the 2xx MUST contain an offer"
   * — `answerSdp` is that answer, or our offer for a late-offer INVITE.
   */
  accept(answerSdp: string): boolean {
    if (this.state !== "offered" || this.tx.state !== "proceeding") return false;
    this.localSdp = answerSdp;
    // A late-offer INVITE: our 200 carries the offer; until the ACK brings the answer a new offer from the
    // peer is glare (RFC 3311 §5.2: "If an UPDATE is received that contains an offer, and the UAS has
    // generated an offer (in an UPDATE, PRACK or INVITE) to which it has not yet received an answer, the
    // UAS MUST reject the UPDATE with a 491 response").
    if (this.offerSdp === "") this.oa.localOfferPending = true;
    this.dialog = Dialog.createUas(this.invite, this.localTag); // Contact checked by the UA (400 otherwise)
    if (/^(TCP|TLS)$/i.test(this.invite.topVia.transport)) {
      // Our BYE, REFER, refreshes go back over the caller's connection while it is open (Dialog.connection).
      const peer = this.remote;
      this.dialog.connection = { peer, open: () => this.ctx.transport.connected?.(peer) ?? false };
    }
    this.ctx.registerDialog(this.dialog.key, this);
    const delay = this.ctx.answerDelayMs;
    if (delay > 0) {
      // §13.3.1.1: "If the UAS is not able to answer the invitation immediately, it can choose to
      // indicate some kind of progress to the UAC (for example, an indication that a phone is ringing)."
      this.transition("ringing");
      this.tx.respond(this.dialogResponse(180));
      this.ringTimer = this.ctx.clock.setTimer(delay, () => {
        this.ringTimer = undefined;
        this.sendOk();
      });
    } else this.sendOk();
    return true;
  }

  /**
   * Rejects with a 300-699 final response, e.g. `reject(486)`, `reject(488, undefined, { Warning:
   * '304 agent "no common codec"' })`, `reject(503, undefined, { "Retry-After": "30" })`.
   * §13.3.1.3: "A UAS rejecting an offer contained in an INVITE SHOULD return a 488 (Not Acceptable
   * Here) response. Such a response SHOULD include a Warning header field value explaining why".
   * Ends the call with "rejected". Returns false unless the call is "offered" or "ringing".
   * @throws RangeError for a status outside 300-699.
   */
  reject(status: number, reason?: string, extraHeaders?: ExtraHeaders): boolean {
    if (status < 300 || status > 699) throw new RangeError(`reject status must be 300-699, got ${status}`);
    if (this.state !== "offered" && this.state !== "ringing") return false;
    this.clearRingTimer();
    const rows = extraHeaders ? (Array.isArray(extraHeaders) ? extraHeaders : Object.entries(extraHeaders)) : [];
    this.respondFinal(
      buildResponse(this.invite, status, { toTag: this.localTag, reason, headers: [...rows, ["Server", this.ctx.userAgent]] }),
    );
    this.end("rejected");
    return true;
  }

  /**
   * Ends the call from our side.
   * - before answer: rejects with 480 Temporarily Unavailable (ended "rejected"); §15: the callee's UA
   *   "MUST NOT send a BYE on early dialogs";
   * - answered but not yet ACKed: ended("local_bye") now, the BYE waits for the ACK or 64·T1 (§15: "the
   *   callee's UA MUST NOT send a BYE on a confirmed dialog until it has received an ACK for its 2xx
   *   response or until the server transaction times out");
   * - confirmed: BYE now, ended("local_bye").
   * Resolves when the BYE got a final response or timed out (Timer F, 32 s). Never rejects.
   */
  hangup(): Promise<void> {
    return this.terminate("local_bye");
  }

  private terminate(reason: "local_bye" | "error"): Promise<void> {
    switch (this.state) {
      case "offered":
      case "ringing":
        if (reason === "error") {
          this.clearRingTimer();
          this.respondFinal(buildResponse(this.invite, 500, { toTag: this.localTag }));
          this.end("error");
        } else this.reject(480);
        return Promise.resolve();
      case "answered":
        return new Promise<void>((resolve) => {
          this.pendingBye = resolve;
          this.end(reason, { keepDialog: true });
        });
      case "confirmed":
        return this.endWithBye(reason);
      default:
        return Promise.resolve();
    }
  }

  private pendingBye: (() => void) | undefined;

  /**
   * @internal The UA matched a CANCEL to our INVITE and answered it 200. §9.2: "If the UAS has not
   * issued a final response for the original request, [...] If the original request was an INVITE, the
   * UAS SHOULD immediately respond to the INVITE with a 487 (Request Terminated)."
   */
  receiveCancel(): void {
    // §9.2: once a final response was sent, "the CANCEL request has no effect on the processing of the
    // original request, no effect on any session state, and no effect on the responses generated".
    if (this.state !== "offered" && this.state !== "ringing") return;
    this.clearRingTimer();
    this.respondFinal(buildResponse(this.invite, 487, { toTag: this.localTag, headers: [["Server", this.ctx.userAgent]] }));
    this.end("canceled");
  }

  /** @internal The onInvite delegate threw: 500 before answer (else BYE), ended("error"). */
  fail(): void {
    void this.terminate("error");
  }

  /** @internal INVITE server transaction: the ACK reused the INVITE branch. */
  ackOnInviteBranch(ack: SipRequest): void {
    this.onAck(ack);
  }

  /**
   * @internal INVITE server transaction: 64·T1 without ACK for our 200. §13.3.1.4: "If the server
   * retransmits the 2xx response for 64*T1 seconds without receiving an ACK, the dialog is confirmed,
   * but the session SHOULD be terminated. This is accomplished with a BYE". The BYE goes out once, not
   * retransmitted (see {@link giveUp}: a peer that never ACKed may be a forged address).
   */
  noAck(): void {
    if (this.pendingBye) {
      // We hung up before the ACK (§15) and it never came: the same single BYE, then done.
      const resolve = this.pendingBye;
      this.pendingBye = undefined;
      this.byeOnce();
      this.releaseDialog();
      resolve();
      return;
    }
    if (this.state !== "answered") return;
    this.byeOnce();
    this.end("no_ack");
  }

  /**
   * Gives up waiting for the ACK of our 2xx before 64·T1, because the agent needs the place for a new
   * call (src/call/inbound.ts decides when). Only in "answered" (200 sent, no ACK yet); returns false and
   * does nothing otherwise. Stops the 2xx retransmissions, sends one BYE and ends the call with
   * "no_ack".
   *
   * §13.3.1.4: "If the server retransmits the 2xx response for 64*T1 seconds without receiving an ACK,
   * the dialog is confirmed, but the session SHOULD be terminated. This is accomplished with a BYE" —
   * the same end, sooner. The BYE goes out once and is not retransmitted (no client transaction, no
   * Timer E): a peer that never ACKed has not shown it asked for this call (UDP sources are forged), so
   * the address it names gets at most this one datagram more, never a retransmission schedule. A real
   * caller whose ACKs were lost learns from it that the call is over; its answer (200 or 481) matches no
   * transaction and is dropped.
   */
  giveUp(): boolean {
    if (this.state !== "answered") return false;
    this.tx.stopRetransmitting();
    this.byeOnce();
    this.end("no_ack");
    return true;
  }

  /**
   * One BYE in the dialog straight to the transport: no client transaction, so no Timer E retransmission
   * and no Timer F wait; its answer matches nothing and is dropped. Only for a dialog whose 2xx was never
   * ACKed (§13.3.1.4's BYE), where the peer may not exist or may be someone else's forged address.
   */
  private byeOnce(): void {
    const d = this.dialog;
    const bye = d?.createRequest("BYE", { headers: [["User-Agent", this.ctx.userAgent]] });
    const dest = bye && safe(() => d!.nextHop(bye));
    if (!bye || !dest) return;
    this.ctx.addVia(bye);
    this.ctx.transport.send(bye, dest);
  }

  protected override onAck(ack: SipRequest): void {
    // §13.2.2.4: "The sequence number of the CSeq header field MUST be the same as the INVITE being
    // acknowledged"; an ACK of another CSeq belongs to a re-INVITE (handled in CallBase) or is stale.
    if (ack.cseq.seq !== this.invite.cseq.seq) return;
    this.tx.ackReceived();
    if (this.pendingBye) {
      this.sendPendingBye();
      return;
    }
    if (this.state !== "answered") return;
    this.transition("confirmed");
    this.dialog!.state = "confirmed";
    this.oa.localOfferPending = false; // a late offer's answer is in this ACK
    // Late offer: §13.2.2.4 "If the 2xx contains an offer (based on the rules above), the ACK MUST carry
    // an answer in its body."
    this.emitter.emit("confirmed", ack.body.length > 0 ? ack.bodyText : undefined);
  }

  protected onRemoteBye(): void {
    if (this.pendingBye) {
      // We had hung up and were waiting for the ACK to send our BYE; the peer's BYE settles it.
      this.tx.stopRetransmitting();
      const resolve = this.pendingBye;
      this.pendingBye = undefined;
      this.releaseDialog();
      resolve();
      return;
    }
    if (this.state === "ringing" || this.state === "offered") {
      // BYE on an early dialog (§15: "The caller's UA MAY send a BYE for either confirmed or early
      // dialogs"). §15.1.2: "The UAS MUST still respond to any pending requests received for that
      // dialog. It is RECOMMENDED that a 487 (Request Terminated) response be generated".
      this.clearRingTimer();
      this.respondFinal(buildResponse(this.invite, 487, { toTag: this.localTag }));
    } else {
      // A BYE before our 2xx was ACKed: the peer has the 2xx, so retransmitting it is moot.
      this.tx.stopRetransmitting();
    }
    this.end("remote_bye");
  }

  protected override onEnd(): void {
    this.clearRingTimer();
  }

  private sendPendingBye(): void {
    const resolve = this.pendingBye!;
    this.pendingBye = undefined;
    void this.sendBye().then(resolve);
  }

  private sendOk(): void {
    if (this.tx.state !== "proceeding") return;
    this.transition("answered");
    this.oa.remoteOfferPending = false;
    this.tx.respond(this.dialogResponse(200, this.localSdp));
    this.ctx.transport.expectAck?.(this.remote, this.localTag); // its ACK overtakes new requests (receive-lanes.ts)
    this.emitter.emit("answered");
  }

  /**
   * 180/200 on the dialog: To-tag, Record-Route copied in order, our Contact. §12.1.1: "the UAS MUST copy
   * all Record-Route header field values from the request into the response [...] and MUST maintain the
   * order of those values. The UAS MUST add a Contact header field to the response." §13.3.1.4: "A 2xx
   * response to an INVITE SHOULD contain the Allow header field and the Supported header field" (we
   * support no extension, so Supported is left out).
   */
  private dialogResponse(status: number, sdp?: string): SipResponse {
    const headers: Array<[string, string]> = [["Contact", this.ctx.contactHeader]];
    if (status === 200) headers.push(["Allow", ALLOW_HEADER], ...SUPPORTED_ROWS, ...this.sessionRefreshed(this.invite));
    headers.push(["Server", this.ctx.userAgent]);
    return buildResponse(this.invite, status, {
      toTag: this.localTag,
      copyRecordRoute: true,
      headers,
      body: sdp,
      contentType: sdp !== undefined ? "application/sdp" : undefined,
    });
  }

  private respondFinal(res: SipResponse): void {
    if (this.tx.state === "proceeding") this.tx.respond(res);
  }

  private clearRingTimer(): void {
    this.ctx.clock.clearTimer(this.ringTimer);
    this.ringTimer = undefined;
  }
}

function party(a: NameAddr): Party {
  return { uri: a.uri.toString(), user: a.uri.user, displayName: a.displayName };
}
