import { Dialog } from "../dialog/index.ts";
import { buildResponse, type SipRequest, type SipResponse } from "../message/index.ts";
import type { InviteServerTransaction, NonInviteServerTransaction } from "../transaction/index.ts";
import type { DialogUser, UaContext } from "./context.ts";
import { Emitter } from "./emitter.ts";
import { ALLOW_HEADER, type EndReason } from "./types.ts";

/** Every call state; inbound calls use offered/ringing/answered, outbound calls calling/early. */
export type CallState = "offered" | "ringing" | "answered" | "calling" | "early" | "confirmed" | "ended";

/** An illegal call state move: a bug in the UA core, never caused by a peer. */
export class CallStateError extends Error {
  override readonly name = "CallStateError";
  readonly code = "illegal_transition";
  constructor(
    readonly from: CallState,
    readonly to: CallState,
    readonly callId: string,
  ) {
    super(`call ${callId}: illegal move ${from} → ${to}`);
  }
}

/** Events both call kinds emit. */
export interface CommonCallEvents {
  /**
   * The peer re-INVITEd with a new offer (hold/unhold, media moved, session refresh). It has already
   * been answered 200 with our current SDP (RFC 3264 §8: unchanged, same o= version); the media layer
   * should re-read the remote RTP address/direction from this offer.
   */
  reinvite: [offerSdp: string];
  /** Exactly once, whatever ended the call. */
  ended: [reason: EndReason];
}

/**
 * What inbound and outbound calls share once a dialog exists: in-dialog request handling (BYE,
 * re-INVITE, OPTIONS, others → 405; CSeq order check §12.2.2), ACK routing to the INVITE server
 * transactions waiting for one, BYE sending, and the end-of-call bookkeeping.
 */
export abstract class CallBase<E extends CommonCallEvents = CommonCallEvents> implements DialogUser {
  abstract readonly direction: "inbound" | "outbound";
  protected dialog: Dialog | undefined;
  protected readonly emitter: Emitter<E>;
  /** Our current SDP (answer for inbound, offer for outbound). */
  protected localSdp = "";
  private current: CallState;
  /** Set once the call ended. */
  endReason: EndReason | undefined;
  /** Resolves with the end reason when the call ends. Never rejects. */
  readonly done: Promise<EndReason>;
  private resolveDone!: (r: EndReason) => void;
  /** 2xx to re-INVITEs waiting for their ACK, by CSeq number. */
  private readonly ackWaiters = new Map<number, InviteServerTransaction>();
  private byeInFlight: Promise<void> | undefined;
  private keepDialogUntilBye = false;

  protected constructor(
    protected readonly ctx: UaContext,
    readonly callId: string,
    initial: CallState,
    private readonly table: Readonly<Partial<Record<CallState, readonly CallState[]>>>,
  ) {
    this.current = initial;
    this.emitter = new Emitter<E>((event, err) =>
      ctx.log.error({ callId, event, err: String(err) }, "sip call listener threw"),
    );
    this.done = new Promise<EndReason>((resolve) => (this.resolveDone = resolve));
  }

  get state(): CallState {
    return this.current;
  }

  /** Adds an event listener; returns the function that removes it. */
  on<K extends keyof E>(event: K, fn: (...args: Extract<E[K], unknown[]>) => void): () => void {
    return this.emitter.on(event, fn);
  }

  /** @internal The dialog map key, once there is a dialog. */
  get dialogKey(): string | undefined {
    return this.dialog?.key;
  }

  protected transition(to: CallState): void {
    const allowed = this.table[this.current] ?? [];
    if (!allowed.includes(to)) throw new CallStateError(this.current, to, this.callId);
    this.current = to;
  }

  /** @internal UA → call: a request inside our dialog, other than ACK and CANCEL. */
  receiveRequest(req: SipRequest): void {
    const d = this.dialog!;
    if (req.method === "INVITE") {
      const tx = this.ctx.layer.createInviteServer(req, {
        onAck: (ack) => this.receiveAck(ack),
        onNoAck: () => this.reinviteNoAck(req.cseq.seq),
      });
      // §12.2.2: "the request is out of order and MUST be rejected with a 500 (Server Internal Error)".
      if (!d.acceptRemoteCSeq(req.cseq.seq)) return tx.respond(this.response(req, 500, { reason: "Out Of Order" }));
      this.onReinvite(req, tx);
      return;
    }
    const tx = this.ctx.layer.createNonInviteServer(req);
    // §12.2.2: "If the remote sequence number was not empty, but the sequence number of the request is
    // lower than the remote sequence number, the request is out of order and MUST be rejected with a
    // 500 (Server Internal Error) response."
    if (!d.acceptRemoteCSeq(req.cseq.seq)) return tx.respond(this.response(req, 500, { reason: "Out Of Order" }));
    switch (req.method) {
      case "BYE":
        // §15.1.2: "the UAS core MUST generate a 2xx response to the BYE, and MUST pass that to the server
        // transaction for transmission." Then "the UAS SHOULD terminate the session".
        tx.respond(this.response(req, 200));
        this.onRemoteBye();
        return;
      case "OPTIONS":
        // §11.2: "An OPTIONS request received within a dialog generates a 200 (OK) response that is
        // identical to one constructed outside a dialog and does not have any impact on the dialog."
        tx.respond(this.response(req, 200, { headers: [["Allow", ALLOW_HEADER], ["Accept", "application/sdp"]] }));
        return;
      default:
        // §8.2.1: "it MUST generate a 405 (Method Not Allowed) response. [...] The UAS MUST also add an
        // Allow header field to the 405 (Method Not Allowed) response."
        this.respondNonInvite(tx, req, 405, [["Allow", ALLOW_HEADER]]);
    }
  }

  /**
   * @internal UA → call: an ACK for a 2xx inside our dialog, on its own branch (§13.2.2.4: the ACK "is
   * passed to the transport layer directly for transmission, rather than a client transaction").
   * §13.3.1.4: "Response retransmissions cease when an ACK request for the response is received."
   */
  receiveAck(ack: SipRequest): void {
    const waiter = this.ackWaiters.get(ack.cseq.seq);
    if (waiter) {
      waiter.ackReceived();
      this.ackWaiters.delete(ack.cseq.seq);
      return;
    }
    this.onAck(ack);
  }

  /** The ACK of the dialog-creating INVITE (inbound calls). */
  protected onAck(_ack: SipRequest): void {}

  /** The peer's BYE was answered 200. */
  protected abstract onRemoteBye(): void;

  /**
   * re-INVITE inside the dialog. Our choice (telephony-sane): answer 200 with our current SDP,
   * unchanged, and report the new offer upward. Carriers send re-INVITEs for session timers (RFC 4028),
   * hold and media moves; refusing them (488) would drop calls. An offer-less re-INVITE gets our SDP
   * as the offer — §14.2: "A UAS providing an offer in a 2xx (because the INVITE did not contain an
   * offer) SHOULD construct the offer as if the UAS were making a brand new call"; the answer then comes
   * in the ACK and is ignored.
   */
  private onReinvite(req: SipRequest, tx: InviteServerTransaction): void {
    if (this.current !== "answered" && this.current !== "confirmed") {
      // §14.2: "A UAS that receives a second INVITE before it sends the final response to a first INVITE
      // with a lower CSeq sequence number on the same dialog MUST return a 500 (Server Internal Error)
      // response to the second INVITE and MUST include a Retry-After header field with a randomly chosen
      // value of between 0 and 10 seconds." (We send a fixed 1 s, within that range.)
      tx.respond(this.response(req, 500, { headers: [["Retry-After", "1"]] }));
      return;
    }
    if (req.body.length > 0 && req.contentType !== "application/sdp") {
      // §8.2.3 applies in a dialog too (§12.2.2: "the UAS first applies the same processing rules for
      // requests outside of a dialog"): "415 (Unsupported Media Type) [...] MUST contain an Accept".
      tx.respond(this.response(req, 415, { headers: [["Accept", "application/sdp"]] }));
      return;
    }
    const contact = safe(() => req.contact);
    // §12.2.2: "When a UAS receives a target refresh request, it MUST replace the dialog's remote target
    // URI with the URI from the Contact header field in that request, if present."
    if (contact) this.dialog!.updateRemoteTarget(contact.uri);
    this.ackWaiters.set(req.cseq.seq, tx);
    tx.respond(
      this.response(req, 200, {
        headers: [["Contact", this.ctx.contactHeader], ["Allow", ALLOW_HEADER]],
        body: this.localSdp,
        contentType: "application/sdp",
      }),
    );
    if (req.body.length > 0) this.emitter.emit("reinvite", ...([req.bodyText] as never));
  }

  private reinviteNoAck(seq: number): void {
    if (!this.ackWaiters.delete(seq) || this.current === "ended") return;
    // §14.2: "If a UAS generates a 2xx response and never receives an ACK, it SHOULD generate a BYE to
    // terminate the dialog." (The 64·T1 wait is that of §13.3.1.4.)
    void this.endWithBye("no_ack");
  }

  /** A response inside the dialog: our To-tag, a Server header. */
  protected response(req: SipRequest, status: number, opts: Parameters<typeof buildResponse>[2] = {}): SipResponse {
    const headers = [...(opts.headers ?? []), ["Server", this.ctx.userAgent] as const];
    return buildResponse(req, status, { ...opts, toTag: this.dialog?.localTag ?? opts.toTag, headers });
  }

  private respondNonInvite(tx: NonInviteServerTransaction, req: SipRequest, status: number, headers: Array<[string, string]>): void {
    tx.respond(this.response(req, status, { headers }));
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
      this.ctx.layer.createNonInviteClient(bye, dest, {
        onResponse: (r) => {
          if (r.status >= 200) finish();
        },
        onTimeout: finish,
      });
    });
    return this.byeInFlight;
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
    if (this.current === "ended") return;
    this.current = "ended";
    this.endReason = reason;
    this.onEnd();
    this.ackWaiters.clear();
    if (opts.keepDialog) this.keepDialogUntilBye = true;
    else this.releaseDialog();
    this.ctx.log.info({ callId: this.callId, direction: this.direction, reason }, "sip call ended");
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

/** Runs `f`, returning undefined instead of throwing (for lazily parsed headers of peer messages). */
export function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
