import { Dialog } from "../dialog/index.ts";
import { type SipRequest, type SipResponse, parseNameAddr } from "../message/index.ts";
import type { Address } from "../transport/index.ts";
import { CallBase, safe, type CallState, type CommonCallEvents } from "./call-base.ts";
import type { UaContext } from "./context.ts";
import { DigestError, buildDigestAuthorization, parseDigestChallenge, type DigestCredentials } from "./digest.ts";
import { MIN_SE_S, minSeOf, negotiateAsUac } from "./session-timer.ts";
import type { Party } from "./types.ts";
import { UacInvite, type UacInviteOwner } from "./uac-invite.ts";

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

/**
 * Longest wait (ms) of a due ring timeout for the messages already received (a starved agent's receive
 * queue; starve.sh at 25 % of a core: 6.6 and 11.1 s for the whole urgent backlog once). T2 = 4 s: a UAS
 * resends its 2xx at least every T2 until ACKed (RFC 3261 §13.3.1.4, "doubles for each retransmission
 * until it reaches T2"), and the queue handles fresh copies before stale ones, so a 2xx already sent has
 * a copy handled within about T2.
 */
export const RING_TIMEOUT_DRAIN_MAX_MS = 4000;

const TABLE: Partial<Record<CallState, readonly CallState[]>> = {
  calling: ["early", "confirmed", "ended"],
  early: ["confirmed", "ended"],
  confirmed: ["ended"],
};

/**
 * An outbound call (UAC side of an INVITE, RFC 3261 §13.2). States: calling ─1xx─▶ early ─2xx─▶
 * confirmed (ACK sent) ─BYE─▶ ended; calling/early ─300-699 / Timer B / CANCEL─▶ ended.
 */
export class OutboundCall extends CallBase<OutboundCallEvents> implements UacInviteOwner {
  readonly direction = "outbound" as const;
  readonly requestUri: string;
  readonly from: Party;
  readonly to: Party;
  /** The callee's SDP once answered. */
  remoteSdp: string | undefined;
  /**
   * The INVITE transaction's side (ACKs, CANCEL); what the transaction holds. Detached at the end so
   * that the transaction, living on for Timer M/D, keeps none of this call (see UacInvite).
   */
  private readonly leg: UacInvite;
  /** Any response at all to the INVITE (of any attempt). */
  private responded = false;
  /** ICMP unreachable reports for our destination while no response had arrived. */
  private unreachableReports = 0;
  private authAttempts = 0;

  /** @internal Built by `UserAgent.invite`, which then calls start(). */
  constructor(
    ctx: UaContext,
    invite: SipRequest,
    destination: Address,
    private readonly credentials: DigestCredentials | undefined,
  ) {
    super(ctx, invite.callId, "calling", TABLE);
    this.leg = new UacInvite(ctx, invite, destination, this);
    this.requestUri = invite.uri;
    const f = invite.from;
    const t = invite.to;
    this.from = { uri: f.uri.toString(), user: f.uri.user, displayName: f.displayName };
    this.to = { uri: t.uri.toString(), user: t.uri.user, displayName: t.displayName };
    this.localSdp = invite.bodyText;
  }

  /** @internal Sends the INVITE (INVITE client transaction: Timer A retransmits, Timer B = 64·T1). */
  start(): void {
    this.leg.start();
  }

  /** dialog-peer.ts's base: where the INVITE was sent (the trunk or outbound proxy). */
  protected get peerBase(): string {
    return this.leg.destination.host;
  }

  /** Whether any response (even 100 Trying) has arrived for the INVITE. */
  get hasResponse(): boolean {
    return this.responded;
  }

  /**
   * Runs `cb` once the messages that reached us so far have been handled, at least the responses (the
   * transport's receive queue holds them back under overload: ../transport/types.ts `afterReceived`).
   * For a decision taken for want of an answer, a ring timeout's CANCEL: a 2xx waiting in our own queue
   * is an answer already received. At once when the transport has no queue. Never throws.
   */
  afterReceived(cb: () => void): void {
    const t = this.ctx.transport;
    if (t.afterReceived) t.afterReceived(cb);
    else cb();
  }

  /**
   * Runs `cb` once: when the messages received so far have been handled (`afterReceived`) or `maxMs` (ms)
   * from now on the UA's clock, whichever comes first. A due ring timeout decides this way, capped at
   * RING_TIMEOUT_DRAIN_MAX_MS, so a 2xx waiting in a starved agent's queue is handled, not CANCELled, and a
   * queue that never drains still gets its CANCEL. Never throws.
   */
  afterReceivedWithin(maxMs: number, cb: () => void): void {
    let done = false;
    const run = () => {
      if (done) return;
      done = true;
      this.ctx.clock.clearTimer(cap);
      cb();
    };
    const cap = this.ctx.clock.setTimer(maxMs, run);
    this.afterReceived(run);
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
    if (this.leg.cancelRequested) return;
    this.leg.cancelRequested = true;
    if (this.leg.gotProvisional) this.leg.sendCancel();
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
    const d = this.leg.destination;
    if (to.host !== d.host || to.port !== d.port) return;
    if (++this.unreachableReports < 2) return;
    this.ctx.log.warn({ sipCallId: this.callId, destination: `${to.host}:${to.port}`, code }, "sip destination unreachable: invite abandoned");
    this.leg.tx?.dispose();
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
    if (this.dialog && res.to.tag === this.dialog.remoteTag) this.leg.resendAck(this.dialog.remoteTag);
  }

  protected onRemoteBye(): void {
    this.end("remote_bye");
  }

  protected override onEnd(): void {
    this.leg.detach();
  }

  /** @internal The INVITE transaction's responses while the call lives (see UacInvite). */
  onInviteResponse(res: SipResponse): void {
    const first = !this.responded;
    this.responded = true;
    if (res.status < 200) {
      this.leg.gotProvisional = true;
      // §9.1: "If no provisional response has been received, the CANCEL request MUST NOT be sent; rather,
      // the client MUST wait for the arrival of a provisional response before sending the request."
      if (this.leg.cancelRequested && !this.leg.cancelSent) this.leg.sendCancel();
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
    if ((res.status === 401 || res.status === 407) && !this.leg.cancelRequested && this.retryWithAuth(res)) return;
    if (res.status === 422 && !this.leg.cancelRequested && this.retryWithMinSe(res)) return;
    // §13.2.2.3: "Subsequent final responses (which would only arrive under error conditions) MUST be
    // ignored."
    if (this.state === "ended") return;
    // A second 422 after our retry with its Min-SE: the call record says so (hangup_cause.reason).
    const again = res.status === 422 && this.minSeRetried !== undefined;
    if (again) this.ctx.log.warn({ sipCallId: this.callId, retriedWith: this.minSeRetried, minSe: minSeOf(res) }, "sip outbound INVITE: 422 again after the retry with its Min-SE; attempt ended");
    this.emitter.emit("failed", res.status, again ? `${res.reason} (again after our retry with Session-Expires ${this.minSeRetried})` : res.reason);
    this.end(this.leg.cancelRequested && res.status === 487 ? "canceled" : "rejected");
  }

  /**
   * §13.2.2.4: "The UAC core MUST generate an ACK request for each 2xx received from the transaction
   * layer." A 2xx with another To-tag (a forked INVITE) is a second dialog: "If, after acknowledging any
   * 2xx response to an INVITE, the UAC does not want to continue with that dialog, then the UAC MUST
   * terminate the dialog by sending a BYE request". (After the end, UacInvite does this without the call.)
   */
  private on2xx(res: SipResponse): void {
    if (this.dialog) {
      const toTag = safe(() => res.to.tag);
      if (toTag !== this.dialog.remoteTag) this.leg.ackAndBye(res);
      else this.leg.resendAck(toTag);
      return;
    }
    let dialog: Dialog;
    try {
      dialog = Dialog.createUac(this.leg.invite, res);
    } catch (err) {
      this.ctx.log.warn({ sipCallId: this.callId, code: (err as { code?: string })?.code, pii: { err: String(err) } }, "sip 2xx unusable for a dialog");
      this.emitter.emit("failed", 502, "Bad 2xx");
      this.end("error");
      return;
    }
    this.dialog = dialog;
    dialog.state = "confirmed";
    this.ctx.registerDialog(dialog.key, this);
    this.leg.sendAck(dialog);
    if (this.leg.cancelRequested) {
      // The CANCEL lost the race with a 2xx. §15: "If the INVITE results in 2xx final response(s) to the
      // INVITE, this means that a UAS accepted the invitation while the CANCEL was in progress. The UAC
      // MAY continue with the sessions established by any 2xx responses, or MAY terminate them with BYE."
      void this.endWithBye("canceled");
      return;
    }
    this.transition("confirmed");
    this.localSdp = this.leg.invite.bodyText;
    this.notePeerCapabilities(res);
    // RFC 4028 §7.2: the 2xx's Session-Expires starts the session timer, its refresher says who refreshes.
    const timer = negotiateAsUac(res);
    if (timer) this.sessionTimer.start(timer.seconds, timer.refresher);
    this.remoteSdp = res.bodyText;
    this.emitter.emit("answered", this.remoteSdp);
  }

  /** @internal Timer B fired with no response (while the call lives). */
  onInviteTimeout(): void {
    if (this.state === "ended") return;
    if (this.leg.cancelRequested) return this.end("canceled");
    // §13.2.2: "If the INVITE client transaction returns a timeout rather than a response the TU acts as
    // if a 408 (Request Timeout) response had been received".
    this.emitter.emit("failed", 408, "Request Timeout");
    this.end("timeout");
  }

  /** @internal No final response 64·T1 after the CANCEL (§9.1): the INVITE transaction was dropped. */
  onCancelGivenUp(): void {
    this.end("canceled");
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
   * Session-Expires … equal to the Min-SE value from the 422", and a Min-SE of that value. Once: a
   * second 422 ends the attempt (see onInviteResponse). §5: "When present in a request or response, its
   * value MUST NOT be less than 90 seconds": a Min-SE below 90 is read as 90 (as the UAS side does,
   * floorOf), never sent back as it came.
   */
  private retryWithMinSe(res: SipResponse): boolean {
    const given = minSeOf(res);
    if (given === undefined || this.minSeRetried !== undefined || given > 86_400) return false;
    const minSe = Math.max(MIN_SE_S, given);
    this.minSeRetried = minSe;
    const next = this.leg.invite.clone();
    next.headers.delete("Via");
    next.headers.set("CSeq", `${this.leg.invite.cseq.seq + 1} INVITE`);
    next.headers.set("Session-Expires", String(minSe));
    next.headers.set("Min-SE", String(minSe));
    this.ctx.addVia(next);
    this.leg.invite = next;
    this.leg.gotProvisional = false;
    this.start();
    return true;
  }

  /** The Session-Expires of our retry after a 422, once made. */
  private minSeRetried: number | undefined;

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
    const next = this.leg.invite.clone();
    next.headers.delete("Via");
    next.headers.set("CSeq", `${this.leg.invite.cseq.seq + 1} INVITE`);
    next.headers.set(answerHeader, buildDigestAuthorization(challenge, this.credentials, "INVITE", next.uri, { body: next.body }));
    this.ctx.addVia(next);
    this.leg.invite = next;
    this.leg.gotProvisional = false;
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
