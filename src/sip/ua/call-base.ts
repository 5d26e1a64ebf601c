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
      if (!d.acceptRemoteCSeq(req.cseq.seq)) return tx.respond(this.response(req, 500, { reason: "Out Of Order" }));
      this.onReinvite(req, tx);
      return;
    }
    const tx = this.ctx.layer.createNonInviteServer(req);
    if (!d.acceptRemoteCSeq(req.cseq.seq)) return tx.respond(this.response(req, 500, { reason: "Out Of Order" })); // §12.2.2
    switch (req.method) {
      case "BYE": // §15.1.2: 200, then the session is over
        tx.respond(this.response(req, 200));
        this.onRemoteBye();
        return;
      case "OPTIONS":
        tx.respond(this.response(req, 200, { headers: [["Allow", ALLOW_HEADER], ["Accept", "application/sdp"]] }));
        return;
      default: // §8.2.1
        this.respondNonInvite(tx, req, 405, [["Allow", ALLOW_HEADER]]);
    }
  }

  /** @internal UA → call: an ACK for a 2xx inside our dialog (its own branch, §13.2.2.4). */
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
   * as the offer (§14.2); the answer then comes in the ACK and is ignored.
   */
  private onReinvite(req: SipRequest, tx: InviteServerTransaction): void {
    if (this.current !== "answered" && this.current !== "confirmed") {
      // An INVITE while our own first INVITE transaction is still pending (§14.2): 500 + Retry-After.
      tx.respond(this.response(req, 500, { headers: [["Retry-After", "1"]] }));
      return;
    }
    if (req.body.length > 0 && req.contentType !== "application/sdp") {
      tx.respond(this.response(req, 415, { headers: [["Accept", "application/sdp"]] }));
      return;
    }
    const contact = safe(() => req.contact);
    if (contact) this.dialog!.updateRemoteTarget(contact.uri); // §12.2.2 target refresh
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
    // §13.3.1.4 applies to any 2xx to INVITE: no ACK in 64·T1 → end the session with BYE.
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
   * Sends BYE in the dialog (§15.1.1) through a non-INVITE client transaction (Timer E retransmission);
   * resolves on its final response or on Timer F. Idempotent: a second call returns the same promise.
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
   * `keepDialog`, the dialog stays registered (to catch the ACK we must wait for before BYE, §15).
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
