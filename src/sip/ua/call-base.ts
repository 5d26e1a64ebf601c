import { Dialog } from "../dialog/index.ts";
import { buildResponse, parseNameAddr, unknownContentCoding, warningValue, type SipRequest, type SipResponse } from "../message/index.ts";
import { StateMachine, type TransitionTable } from "../../util/state-machine.ts";
import type { DialogUser, UaContext } from "./context.ts";
import { Emitter } from "./emitter.ts";
import { SUPPORTED_ROWS, unsupportedRequired } from "./extensions.ts";
import { OfferAnswerState, type SessionDescriptionDelegate } from "./offer-answer.ts";
import { SessionRefresher } from "./refresh.ts";
import { SessionTimer, continueAsUas, negotiateAsUas } from "./session-timer.ts";
import { ALLOW_HEADER, unhandledMethodStatus, type EndReason } from "./types.ts";
import { dialogPeerHosts } from "./dialog-peer.ts";
import { answerInfo } from "./dtmf-info.ts";
import { ReferSubscriptions, classifyNotify, type ReferNotify } from "./refer.ts";
import { safe, SessionModification } from "./session-modification.ts";

export { safe } from "./session-modification.ts";

/** Every call state; inbound calls use offered/ringing/answered, outbound calls calling/early. */
export type CallState = "offered" | "ringing" | "answered" | "calling" | "early" | "confirmed" | "ended";

/** Legal moves of one call kind; states it does not use are absent. Every live state may end. */
export type CallTable = Readonly<Partial<Record<CallState, readonly CallState[]>>>;

/** Events both call kinds emit. */
export interface CommonCallEvents {
  /**
   * The session changed through an in-dialog request (re-INVITE or UPDATE, RFC 3264 §8), after the
   * media delegate applied it; for logs and observers. `method` is the request that did it.
   */
  modified: [method: "INVITE" | "UPDATE"];
  /** A DTMF key in a SIP INFO (application/dtmf-relay or application/dtmf, dtmf-info.ts); PII. */
  dtmf: [key: string, durationMs: number | undefined];
  /** A NOTIFY of our REFER's subscription (RFC 3515 §2.4.4): the sipfrag status, last one or not. */
  referNotify: [notify: ReferNotify];
  /** Exactly once, whatever ended the call. */
  ended: [reason: EndReason];
}

/**
 * What inbound and outbound calls share once a dialog exists: in-dialog request handling (BYE,
 * re-INVITE and UPDATE with offer/answer through {@link SessionDescriptionDelegate} in
 * session-modification.ts, OPTIONS, others → 405 (unknown methods 501); `Require` → 420 §8.2.2.3; CSeq order check §12.2.2), ACK routing to the INVITE server
 * transactions waiting for one, BYE sending, and the end-of-call bookkeeping. The call state is a
 * {@link StateMachine} whose table each call kind gives.
 */
export abstract class CallBase<E extends CommonCallEvents = CommonCallEvents> implements DialogUser {
  abstract readonly direction: "inbound" | "outbound";
  /** The INVITE's source host (inbound) or destination host (outbound): dialog-peer.ts's base. */
  protected abstract readonly peerBase: string | undefined;
  /** DialogUser.peerHosts (dialog-peer.ts). */
  peerHosts(): readonly string[] | undefined {
    return dialogPeerHosts(this.peerBase, this.dialog);
  }
  /**
   * The media layer: builds answers to the peer's in-dialog offers and offers for offer-less re-INVITEs.
   * Unset (tests, a call without media), an offer is answered with our current SDP unchanged.
   */
  media: SessionDescriptionDelegate | undefined;
  protected dialog: Dialog | undefined;
  protected readonly emitter: Emitter<E>;
  /** Our current SDP (answer for inbound, offer for outbound; then the latest we sent). */
  protected localSdp = "";
  /** Glare bookkeeping (§14, RFC 3311 §5.2). */
  protected readonly oa = new OfferAnswerState();
  private readonly machine: StateMachine<CallState>;
  /** RFC 4028 session timer of the dialog (idle until a Session-Expires is negotiated). */
  protected readonly sessionTimer: SessionTimer;
  private readonly refresher: SessionRefresher;
  /** Set once the call ended. */
  endReason: EndReason | undefined;
  /** Resolves with the end reason when the call ends. Never rejects. */
  readonly done: Promise<EndReason>;
  private resolveDone!: (r: EndReason) => void;
  /** re-INVITE and UPDATE from the peer (offer/answer), and the ACKs of their 2xx. */
  private readonly modification: SessionModification;
  private byeInFlight: Promise<void> | undefined;
  private keepDialogUntilBye = false;

  protected constructor(
    protected readonly ctx: UaContext,
    readonly callId: string,
    initial: CallState,
    table: CallTable,
  ) {
    const full = Object.fromEntries(ALL_STATES.map((s) => [s, table[s] ?? []])) as unknown as TransitionTable<CallState>;
    this.machine = new StateMachine<CallState>(`call ${callId}`, initial, full);
    this.refresher = new SessionRefresher({
      ctx,
      callId,
      timer: () => this.sessionTimer,
      dialog: () => (this.machine.is("answered", "confirmed") ? this.dialog : undefined),
      ended: () => this.state === "ended",
      localSdp: () => this.localSdp,
      oa: this.oa,
      peerAllowsUpdate: () => this.peerAllowsUpdate,
      endWithBye: (reason) => void this.endWithBye(reason),
    });
    this.sessionTimer = new SessionTimer(ctx.clock, {
      refresh: () => this.refresher.refresh(),
      expire: () => {
        ctx.log.warn({ sipCallId: callId }, "sip session expired: no refresh from the peer");
        void this.endWithBye("session_expired");
      },
    });
    this.emitter = new Emitter<E>((event, err) =>
      ctx.log.error({ sipCallId: callId, event, err: String(err) }, "sip call listener threw"),
    );
    this.done = new Promise<EndReason>((resolve) => (this.resolveDone = resolve));
    this.modification = new SessionModification({
      ctx,
      oa: this.oa,
      dialog: () => this.dialog,
      media: () => this.media,
      localSdp: () => this.localSdp,
      setLocalSdp: (sdp) => (this.localSdp = sdp),
      confirmed: () => this.machine.is("answered", "confirmed"),
      ended: () => this.state === "ended",
      response: (req, status, opts) => this.response(req, status, opts),
      sessionRefreshed: (req) => this.sessionRefreshed(req),
      modified: (method) => this.emitter.emit("modified", ...([method] as never)),
      endWithBye: (reason) => void this.endWithBye(reason),
    });
  }

  get state(): CallState {
    return this.machine.state;
  }

  /** Adds an event listener; returns the function that removes it. */
  on<K extends keyof E>(event: K, fn: (...args: Extract<E[K], unknown[]>) => void): () => void {
    return this.emitter.on(event, fn);
  }

  /** @internal The dialog map key, once there is a dialog. */
  get dialogKey(): string | undefined {
    return this.dialog?.key;
  }

  /** Moves the call state. @throws IllegalTransitionError on a move the call kind's table does not list. */
  protected transition(to: CallState): void {
    this.machine.to(to);
  }

  /** @internal UA → call: a request inside our dialog, other than ACK and CANCEL. */
  receiveRequest(req: SipRequest): void {
    if (req.method === "INVITE") {
      const tx = this.ctx.layer.createInviteServer(req, {
        onAck: (ack) => this.receiveAck(ack),
        onNoAck: () => this.modification.noAck(req.cseq.seq),
      });
      const bad = this.precheck(req);
      if (bad) return tx.respond(bad);
      this.modification.reinvite(req, tx);
      return;
    }
    const tx = this.ctx.layer.createNonInviteServer(req);
    const bad = this.precheck(req);
    if (bad) return tx.respond(bad);
    switch (req.method) {
      case "BYE":
        // §15.1.2: "the UAS core MUST generate a 2xx response to the BYE, and MUST pass that to the server
        // transaction for transmission." Then "the UAS SHOULD terminate the session".
        tx.respond(this.response(req, 200));
        this.onRemoteBye();
        return;
      case "UPDATE":
        tx.respond(this.modification.update(req));
        return;
      case "INFO":
        return this.onInfo(req, tx);
      case "NOTIFY": {
        const v = classifyNotify(req, this.referSubscriptions);
        if (v.respond !== 200) return tx.respond(this.response(req, v.respond, { reason: v.reason }));
        tx.respond(this.response(req, 200));
        this.emitter.emit("referNotify", ...([v.notify] as never));
        return;
      }
      case "OPTIONS":
        // §11.2: "An OPTIONS request received within a dialog generates a 200 (OK) response that is
        // identical to one constructed outside a dialog and does not have any impact on the dialog."
        tx.respond(this.response(req, 200, { headers: [["Allow", ALLOW_HEADER], ["Accept", "application/sdp"], ...SUPPORTED_ROWS] }));
        return;
      default:
        // §8.2.1: "it MUST generate a 405 (Method Not Allowed) response. [...] The UAS MUST also add an
        // Allow header field to the 405 (Method Not Allowed) response." Unknown methods: 501 (types.ts).
        tx.respond(this.response(req, unhandledMethodStatus(req.method), { headers: [["Allow", ALLOW_HEADER]] }));
    }
  }

  /** INFO (RFC 6086) carrying DTMF: answered as dtmf-info.ts `answerInfo` says (469, 415, 400, 200); a key goes up as "dtmf". */
  private onInfo(req: SipRequest, tx: { respond(res: SipResponse): void }): void {
    const coded = req.body.length > 0 && unknownContentCoding(req) !== undefined;
    const a = answerInfo({ infoPackage: req.headers.get("Info-Package"), coded, contentType: req.contentType, body: req.bodyText });
    tx.respond(this.response(req, a.status, { ...(a.headers ? { headers: a.headers } : {}), ...(a.reason ? { reason: a.reason } : {}) }));
    if (a.digit) this.emitter.emit("dtmf", ...([a.digit.key, a.digit.durationMs] as never));
  }

  /** Require (§8.2.2.3) and CSeq order (§12.2.2) checks every in-dialog request passes first. */
  private precheck(req: SipRequest): SipResponse | undefined {
    const unsupported = unsupportedRequired(req);
    if (unsupported.length > 0) return this.response(req, 420, { headers: [["Unsupported", unsupported.join(", ")]] });
    // §12.2.2: "If the remote sequence number was not empty, but the sequence number of the request is
    // lower than the remote sequence number, the request is out of order and MUST be rejected with a 500".
    if (!this.dialog!.acceptRemoteCSeq(req.cseq.seq)) return this.response(req, 500, { reason: "Out Of Order" });
    return this.sessionRefreshCheck(req);
  }

  /**
   * @internal UA → call: an ACK for a 2xx inside our dialog, on its own branch (§13.2.2.4: the ACK "is
   * passed to the transport layer directly for transmission, rather than a client transaction").
   * §13.3.1.4: "Response retransmissions cease when an ACK request for the response is received."
   */
  receiveAck(ack: SipRequest): void {
    if (!this.modification.ack(ack)) this.onAck(ack);
  }

  /** The ACK of the dialog-creating INVITE (inbound calls). */
  protected onAck(_ack: SipRequest): void {}

  /** The peer's BYE was answered 200. */
  protected abstract onRemoteBye(): void;

  /**
   * RFC 4028 §9 for a request we answer: 422 with a Min-SE when its Session-Expires is below ours or
   * below the request's own Min-SE ("the UAS MUST reject it with a 422 … [and] MUST include the Min-SE
   * header field"); 400 with a Warning naming it when the Session-Expires or the Min-SE is malformed
   * (RFC 3261 §21.4.1, see `sessionExpiresProblem`, `minSeProblem`); else undefined.
   */
  protected sessionRefreshCheck(req: SipRequest): SipResponse | undefined {
    if (req.method !== "INVITE" && req.method !== "UPDATE") return undefined;
    const d = negotiateAsUas(req);
    if (d.kind === "malformed") return this.response(req, 400, { headers: [["Warning", warningValue(399, d.detail)]] });
    return d.kind === "too_small" ? this.response(req, 422, { headers: [["Min-SE", String(d.minSe)]] }) : undefined;
  }

  /**
   * RFC 4028 §9/§10 as the 2xx to a session refresh (INVITE, re-INVITE, UPDATE) goes out: the rows it
   * carries (Session-Expires with the refresher, Require: timer when the peer refreshes) and the
   * (re)start of the timer. A refresh without Session-Expires while a timer runs restarts it and its
   * 2xx states it (`continueAsUas`: a 2xx without it would end the peer's timer, not ours).
   */
  protected sessionRefreshed(req: SipRequest): Array<[string, string]> {
    const d = negotiateAsUas(req);
    if (d.kind === "ok") {
      this.sessionTimer.start(d.seconds, d.refresher);
      return d.rows;
    }
    const cur = this.sessionTimer.current;
    if (!cur) return [];
    const kept = continueAsUas(req, cur);
    this.sessionTimer.start(kept.seconds, kept.refresher);
    return kept.rows;
  }

  /** The implicit subscriptions of the REFERs we sent (refer.ts): a NOTIFY matching none gets 481. */
  private readonly referSubscriptions = new ReferSubscriptions();

  /** The peer listed UPDATE in Allow (RFC 3311 §5.1), learned from the dialog-creating message. */
  protected peerAllowsUpdate = false;

  /** Notes what the dialog-creating message (INVITE or its 2xx) says about the peer's methods. */
  protected notePeerCapabilities(msg: SipRequest | SipResponse): void {
    this.peerAllowsUpdate = msg.headers.getAll("Allow").some((v) => v.split(",").some((m) => m.trim().toUpperCase() === "UPDATE"));
  }


  /** A response inside the dialog: our To-tag, a Server header. */
  protected response(req: SipRequest, status: number, opts: Parameters<typeof buildResponse>[2] = {}): SipResponse {
    const headers = [...(opts.headers ?? []), ["Server", this.ctx.userAgent] as const];
    return buildResponse(req, status, { ...opts, toTag: this.dialog?.localTag ?? opts.toTag, headers });
  }

  /**
   * Sends BYE in the dialog through a non-INVITE client transaction (Timer E retransmission); resolves
   * on its final response or on Timer F. Idempotent: a second call returns the same promise.
   * §15.1.1: "Once the BYE is constructed, the UAC core creates a new non-INVITE client transaction, and
   * passes it the BYE request." "If the response for the BYE is a 481 (Call/Transaction Does Not Exist)
   * or a 408 (Request Timeout) or no response at all is received for the BYE [...], the UAC MUST
   * consider the session and the dialog terminated" — so any final response or Timer F finishes it.
   */
  protected sendBye(): Promise<void> {
    if (this.byeInFlight) return this.byeInFlight;
    const d = this.dialog;
    const bye = d?.createRequest("BYE", { headers: [["User-Agent", this.ctx.userAgent]] });
    const dest = bye && safe(() => d!.nextHop(bye));
    if (!bye || !dest) {
      if (this.keepDialogUntilBye) this.releaseDialog();
      return Promise.resolve();
    }
    this.ctx.addVia(bye);
    this.byeInFlight = new Promise<void>((resolve) => {
      const finish = () => {
        resolve();
        if (this.keepDialogUntilBye) this.releaseDialog();
      };
      this.ctx.layer.createNonInviteClient(bye, dest, once(finish));
    });
    return this.byeInFlight;
  }

  /**
   * Sends REFER in the dialog (RFC 3515 §2.4.1: "A REFER request MUST contain exactly one Refer-To
   * header field value"), with Referred-By (RFC 3892). Resolves with the final response status (202
   * Accepted expected), 408 on timeout, 0 without a usable dialog. `referredBy` defaults to our URI in
   * the dialog (the To of an inbound call: the number called; the From of an outbound one): RFC 3892 §3
   * "The Referred-By header field carries a SIP URI representing the identity of the referrer", which
   * trunks use for billing or the new leg's caller ID; our Contact (`sip:host:port`) names no one.
   */
  refer(referTo: string, referredBy?: string): Promise<number> {
    const d = this.dialog;
    if (this.state === "ended" || !d) return Promise.resolve(0);
    const by = referredBy ?? safe(() => parseNameAddr(d.localHeader).uri.toString()) ?? this.ctx.contactHeader.replace(/^<|>$/g, "");
    const req = d.createRequest("REFER", {
      headers: [["Refer-To", `<${referTo}>`], ["Referred-By", `<${by}>`], ["Contact", this.ctx.contactHeader], ["User-Agent", this.ctx.userAgent]],
    });
    const dest = safe(() => d.nextHop(req));
    if (!dest) return Promise.resolve(0);
    this.ctx.addVia(req);
    const seq = req.cseq.seq;
    this.referSubscriptions.opened(seq);
    return new Promise<number>((resolve) => {
      this.ctx.layer.createNonInviteClient(req, dest, {
        onResponse: (r) => {
          // RFC 6665 §4.1.2.1: "A non-200-class final response indicates that no subscription or new dialog usage has been created".
          if (r.status >= 300) this.referSubscriptions.closed(seq);
          if (r.status >= 200) resolve(r.status);
        },
        onTimeout: () => resolve(408),
      });
    });
  }

  /** Ends the call (if not yet) and sends BYE, keeping the dialog until the BYE completes. */
  protected endWithBye(reason: EndReason): Promise<void> {
    this.end(reason, { keepDialog: true });
    return this.sendBye();
  }

  /**
   * Ends the call once: state "ended", `ended` emitted, `done` resolved, the UA told. With
   * `keepDialog`, the dialog stays registered to catch the ACK we must wait for before BYE — §15: "the
   * callee's UA MUST NOT send a BYE on a confirmed dialog until it has received an ACK for its 2xx
   * response or until the server transaction times out."
   */
  protected end(reason: EndReason, opts: { keepDialog?: boolean } = {}): void {
    if (this.state === "ended") return;
    this.machine.to("ended");
    this.endReason = reason;
    this.onEnd();
    this.sessionTimer.stop();
    this.refresher.stop();
    this.modification.clear();
    if (opts.keepDialog) this.keepDialogUntilBye = true;
    else this.releaseDialog();
    this.ctx.log.info({ sipCallId: this.callId, direction: this.direction, reason }, "sip call ended");
    this.emitter.emit("ended", ...([reason] as never));
    this.resolveDone(reason);
  }

  /** Subclass cleanup of its own timers when the call ends. */
  protected onEnd(): void {}

  protected releaseDialog(): void {
    this.keepDialogUntilBye = false;
    if (this.dialog) this.ctx.unregisterDialog(this.dialog.key);
    this.ctx.forget(this);
  }
}

/**
 * A non-INVITE client transaction's user that calls `done` on the final response or the timeout, once,
 * and then lets go of it: the transaction lives on after its final response (Timer K, T4 = 5 s on UDP,
 * §17.1.2.2) and would otherwise keep the ended call that `done` refers to.
 */
function once(done: () => void): { onResponse(r: SipResponse): void; onTimeout(): void } {
  let pending: (() => void) | undefined = done;
  const fire = () => {
    const f = pending;
    pending = undefined;
    f?.();
  };
  return { onResponse: (r) => void (r.status >= 200 && fire()), onTimeout: fire };
}

const ALL_STATES: readonly CallState[] = ["offered", "ringing", "answered", "calling", "early", "confirmed", "ended"];
