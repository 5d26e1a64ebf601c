/**
 * In-dialog offer/answer we answer (RFC 3261 §14.2 re-INVITE, RFC 3311 §5.2 UPDATE) for a call
 * (call-base.ts): glare checks, the media delegate's answer or refusal, our offer in the 2xx of an
 * offer-less re-INVITE with the answer in its ACK, target refresh, and the 2xx that waits for its ACK.
 */
import type { Dialog } from "../dialog/index.ts";
import type { buildResponse, SipRequest, SipResponse } from "../message/index.ts";
import { BODY_ACCEPT_ROWS, sdpBodyOf, type BodyProblem } from "../message/body.ts";
import { warningValue as warning } from "../message/warning.ts";
import type { InviteServerTransaction } from "../transaction/index.ts";
import type { UaContext } from "./context.ts";
import { SUPPORTED_ROWS } from "./extensions.ts";
import { retryAfterSeconds, type OfferAnswerState, type OfferOutcome, type SessionDescriptionDelegate } from "./offer-answer.ts";
import { ALLOW_HEADER, type EndReason } from "./types.ts";

/** What the offer/answer handling needs of its call (all owned by CallBase). */
export interface ModifiedCall {
  ctx: UaContext;
  oa: OfferAnswerState;
  dialog(): Dialog | undefined;
  media(): SessionDescriptionDelegate | undefined;
  /** Our current SDP, and its replacement once we answered or offered. */
  localSdp(): string;
  setLocalSdp(sdp: string): void;
  /** The call is answered or confirmed (a re-INVITE before that is the §14.2 500 case). */
  confirmed(): boolean;
  ended(): boolean;
  /** A response inside the dialog: our To-tag, a Server header. */
  response(req: SipRequest, status: number, opts?: Parameters<typeof buildResponse>[2]): SipResponse;
  /** RFC 4028 rows of a 2xx to a session refresh (and the timer's restart). */
  sessionRefreshed(req: SipRequest): Array<[string, string]>;
  /** The session changed (emits `modified`). */
  modified(method: "INVITE" | "UPDATE"): void;
  endWithBye(reason: EndReason): void;
}

/** A 2xx to a re-INVITE waiting for its ACK; `offered` when that 2xx carried our offer (§14.2). */
interface AckWaiter {
  tx: InviteServerTransaction;
  offered: boolean;
}

export class SessionModification {
  /** 2xx to re-INVITEs waiting for their ACK, by CSeq number. */
  private readonly ackWaiters = new Map<number, AckWaiter>();

  constructor(private readonly c: ModifiedCall) {}

  /**
   * An ACK for a 2xx to one of our re-INVITE answers: stops its retransmission and, when that 2xx
   * carried our offer, takes the answer it carries (§13.2.2.4 / RFC 3264 §4).
   * @returns false when no re-INVITE 2xx waited for it.
   */
  ack(ack: SipRequest): boolean {
    const waiter = this.ackWaiters.get(ack.cseq.seq);
    if (!waiter) return false;
    waiter.tx.ackReceived();
    this.ackWaiters.delete(ack.cseq.seq);
    if (waiter.offered) {
      this.c.oa.localOfferPending = false;
      const body = sdpBodyOf(ack);
      this.c.media()?.onAnswer(body.kind === "sdp" ? body.sdp : undefined);
      this.c.modified("INVITE");
    }
    return true;
  }

  /** The call ended: no ACK is awaited any more. */
  clear(): void {
    this.ackWaiters.clear();
  }

  /**
   * re-INVITE inside the dialog (RFC 3261 §14.2). Glare → 491 (500 + Retry-After while our first
   * INVITE is unanswered); a body without usable SDP → 415; an offer → the media delegate's answer in
   * a 200, or its 488 with the session unchanged; no offer → our offer in the 200, the answer in the ACK.
   */
  reinvite(req: SipRequest, tx: InviteServerTransaction): void {
    if (!this.c.confirmed()) {
      // §14.2: "A UAS that receives a second INVITE before it sends the final response to a first INVITE
      // with a lower CSeq sequence number on the same dialog MUST return a 500 (Server Internal Error)
      // response to the second INVITE and MUST include a Retry-After header field with a randomly chosen
      // value of between 0 and 10 seconds."
      tx.respond(this.c.response(req, 500, { headers: [["Retry-After", retryAfterSeconds()]] }));
      return;
    }
    // §14.2: "A UAS that receives an INVITE on a dialog while an INVITE it had sent on that dialog is in
    // progress MUST return a 491 (Request Pending) response to the received INVITE."
    if (this.c.oa.checkInvite()) return tx.respond(this.c.response(req, 491));
    const body = sdpBodyOf(req);
    if (body.kind === "problem") return tx.respond(this.bodyProblem(req, body.problem));
    let offered = false;
    if (body.kind === "sdp") {
      const outcome = this.c.media() ? this.c.media()!.onOffer(body.sdp, "INVITE") : ({ ok: true, sdp: this.c.localSdp() } as const);
      if (!outcome.ok) return tx.respond(this.refusal(req, outcome));
      this.c.setLocalSdp(outcome.sdp);
    } else {
      // §13.3.1.4: "If the INVITE did not contain an offer, the 2xx MUST contain an offer if the UAS had
      // not yet sent an offer." §14.2: "A UAS providing an offer in a 2xx (because the INVITE did not
      // contain an offer) SHOULD construct the offer as if the UAS were making a brand new call" — ours,
      // of the state we want.
      this.c.setLocalSdp(this.c.media()?.createOffer() ?? this.c.localSdp());
      this.c.oa.localOfferPending = true;
      offered = true;
    }
    const contact = safe(() => req.contact);
    // §12.2.2: "When a UAS receives a target refresh request, it MUST replace the dialog's remote target
    // URI with the URI from the Contact header field in that request, if present."
    if (contact) this.c.dialog()!.updateRemoteTarget(contact.uri);
    this.ackWaiters.set(req.cseq.seq, { tx, offered });
    tx.respond(this.okWithSdp(req));
    if (!offered) this.c.modified("INVITE");
  }

  /**
   * UPDATE (RFC 3311 §5.2) in an early or confirmed dialog: with an offer → glare checks (491/500), the
   * media delegate's answer in the 200 or its 488; without → 200 (a session refresh, RFC 4028). A
   * target refresh either way (§5.2: "UPDATE is a target refresh request").
   */
  update(req: SipRequest): SipResponse {
    const body = sdpBodyOf(req);
    if (body.kind === "problem") return this.bodyProblem(req, body.problem);
    const contact = safe(() => req.contact);
    if (body.kind === "none") {
      if (contact) this.c.dialog()!.updateRemoteTarget(contact.uri);
      return this.c.response(req, 200, { headers: [["Contact", this.c.ctx.contactHeader], ...this.c.sessionRefreshed(req)] });
    }
    const glare = this.c.oa.checkUpdateOffer();
    if (glare === 491) return this.c.response(req, 491);
    if (glare === 500) return this.c.response(req, 500, { headers: [["Retry-After", retryAfterSeconds()]] });
    const outcome = this.c.media() ? this.c.media()!.onOffer(body.sdp, "UPDATE") : ({ ok: true, sdp: this.c.localSdp() } as const);
    if (!outcome.ok) return this.refusal(req, outcome);
    this.c.setLocalSdp(outcome.sdp);
    if (contact) this.c.dialog()!.updateRemoteTarget(contact.uri);
    this.c.modified("UPDATE");
    return this.okWithSdp(req);
  }

  /** 2xx to a re-INVITE/UPDATE: our Contact (target refresh), Allow, Supported, session timer rows, our SDP. */
  private okWithSdp(req: SipRequest): SipResponse {
    return this.c.response(req, 200, {
      headers: [
        ["Contact", this.c.ctx.contactHeader],
        ["Allow", ALLOW_HEADER],
        ...SUPPORTED_ROWS,
        ...this.c.sessionRefreshed(req),
      ],
      body: this.c.localSdp(),
      contentType: "application/sdp",
    });
  }

  /** 415/400 for a body without usable SDP (§21.4.13, §8.2.3: with Accept, Accept-Encoding), with the reason in a Warning. */
  private bodyProblem(req: SipRequest, p: BodyProblem): SipResponse {
    return this.c.response(req, p.status, {
      headers: [...BODY_ACCEPT_ROWS, ["Warning", warning(399, p.reason)]],
    });
  }

  /** The media delegate refused the offer: its status and a Warning (§20.43), session unchanged. */
  private refusal(req: SipRequest, o: Extract<OfferOutcome, { ok: false }>): SipResponse {
    // RFC 3261 §20.43: 305 "Incompatible media format", 399 miscellaneous.
    const code = /codec|format|payload|PCM[UA]/i.test(o.warning) ? 305 : 399;
    return this.c.response(req, o.status, { headers: [["Warning", warning(code, o.warning)]] });
  }

  /** No ACK came for our 2xx to the re-INVITE with CSeq `seq` (64·T1, §13.3.1.4). */
  noAck(seq: number): void {
    const w = this.ackWaiters.get(seq);
    if (!this.ackWaiters.delete(seq) || this.c.ended()) return;
    if (w?.offered) this.c.oa.localOfferPending = false;
    // §14.2: "If a UAS generates a 2xx response and never receives an ACK, it SHOULD generate a BYE to
    // terminate the dialog." (The 64·T1 wait is that of §13.3.1.4.)
    this.c.endWithBye("no_ack");
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
