/**
 * Sending a session refresh (RFC 4028 §7.4 / §10) inside a dialog when we are the refresher: an UPDATE
 * without a body when the peer allows UPDATE (RFC 3311; §10: "UPDATE is RECOMMENDED … as it does not
 * involve offer/answer"), otherwise a re-INVITE repeating our current SDP unchanged (RFC 3264 §8: same
 * `o=` version), ACKed on its 2xx (RFC 3261 §13.2.2.4). The outcome is reported as one of a few cases
 * the call turns into timer actions.
 */
import type { TimerHandle } from "../../util/clock.ts";
import type { Dialog } from "../dialog/index.ts";
import type { SipRequest, SipResponse } from "../message/index.ts";
import type { UaContext } from "./context.ts";
import { SUPPORTED_ROWS } from "./extensions.ts";
import type { OfferAnswerState } from "./offer-answer.ts";
import { negotiateAsUac, type SessionTimer } from "./session-timer.ts";
import type { EndReason } from "./types.ts";

/** What came of a refresh. */
export type RefreshOutcome =
  /** 2xx: the response (its Session-Expires restarts the timer). */
  | { kind: "ok"; response: SipResponse }
  /** 491 Request Pending: glare with a request of the peer; try again after 2.1–4 s (§14.1). */
  | { kind: "glare" }
  /**
   * 408, 481 or no response: §10: "If the session refresh request transaction times out or generates a
   * 408 or 481 response, then the UAC sends a BYE request".
   */
  | { kind: "dialog_gone"; status: number }
  /** Any other failure: the session goes on until it expires. */
  | { kind: "failed"; status: number };

export interface RefreshRequest {
  ctx: UaContext;
  dialog: Dialog;
  /** Session interval we ask for (s); we state ourselves as refresher ("uac" of this request). */
  seconds: number;
  /** Send UPDATE (peer allows it) or re-INVITE. */
  method: "UPDATE" | "INVITE";
  /** Our current SDP, repeated in a re-INVITE. */
  sdp: string;
  /** Called once with the outcome. */
  done(outcome: RefreshOutcome): void;
}

/** Sends the refresh. Returns false when the dialog has no usable next hop (nothing was sent). */
export function sendRefresh(r: RefreshRequest): boolean {
  const { ctx, dialog } = r;
  const headers: Array<[string, string]> = [
    ["Contact", ctx.contactHeader],
    ...SUPPORTED_ROWS,
    ["Session-Expires", `${r.seconds};refresher=uac`],
    ["User-Agent", ctx.userAgent],
  ];
  const req = r.method === "UPDATE"
    ? dialog.createRequest("UPDATE", { headers })
    : dialog.createRequest("INVITE", { headers, body: r.sdp, contentType: "application/sdp" });
  let dest;
  try {
    dest = dialog.nextHop(req);
  } catch {
    return false;
  }
  ctx.addVia(req);
  let settled = false;
  const finish = (o: RefreshOutcome) => {
    if (settled) return;
    settled = true;
    r.done(o);
  };
  const classify = (res: SipResponse) => {
    if (res.status === 491) finish({ kind: "glare" });
    else if (res.status === 408 || res.status === 481) finish({ kind: "dialog_gone", status: res.status });
    else finish({ kind: "failed", status: res.status });
  };
  if (r.method === "UPDATE") {
    ctx.layer.createNonInviteClient(req, dest, {
      onResponse: (res) => {
        if (res.status < 200) return;
        if (res.status < 300) finish({ kind: "ok", response: res });
        else classify(res);
      },
      onTimeout: () => finish({ kind: "dialog_gone", status: 408 }),
    });
    return true;
  }
  let ack: SipRequest | undefined;
  ctx.layer.createInviteClient(req, dest, {
    onResponse: (res) => {
      if (res.status < 200) return;
      if (res.status >= 300) return classify(res);
      // §13.2.2.4: the ACK for a 2xx is built by the TU, on the same dialog, with the INVITE's CSeq
      // number, and sent again for each retransmission of the 2xx.
      if (!ack) {
        ack = dialog.createRequest("ACK", { ackFor: req.cseq.seq, headers: [["User-Agent", ctx.userAgent]] });
        ctx.addVia(ack);
      }
      ctx.transport.send(ack, dest);
      finish({ kind: "ok", response: res });
    },
    onTimeout: () => finish({ kind: "dialog_gone", status: 408 }),
  });
  return true;
}

/** What a SessionRefresher needs of its call. */
export interface RefresherHost {
  ctx: UaContext;
  callId: string;
  timer(): SessionTimer;
  /** The dialog while the call is answered/confirmed; undefined otherwise (no refresh then). */
  dialog(): Dialog | undefined;
  ended(): boolean;
  localSdp(): string;
  oa: OfferAnswerState;
  peerAllowsUpdate(): boolean;
  endWithBye(reason: EndReason): void;
}

/** The refreshing side of a call's session timer (RFC 4028 §10), with its glare retry. */
export class SessionRefresher {
  private retryTimer: TimerHandle | undefined;

  constructor(private readonly h: RefresherHost) {}

  /**
   * We are the refresher and half the interval passed (RFC 4028 §10): UPDATE (or re-INVITE) with our
   * Session-Expires; its 2xx restarts the timer; 491 retries after 2.1–4 s (RFC 3261 §14.1); 408/481/no
   * answer → BYE (§10); other failures let the session run to its expiry, then BYE.
   */
  refresh(): void {
    const h = this.h;
    const cur = h.timer().current;
    const dialog = h.dialog();
    if (!cur || !dialog) return;
    const method = h.peerAllowsUpdate() ? "UPDATE" : "INVITE";
    if (method === "INVITE") {
      if (h.oa.clientInvitePending || h.oa.localOfferPending) return this.retrySoon();
      h.oa.clientInvitePending = true;
    }
    const sent = sendRefresh({
      ctx: h.ctx,
      dialog,
      seconds: cur.seconds,
      method,
      sdp: h.localSdp(),
      done: (o) => {
        if (method === "INVITE") h.oa.clientInvitePending = false;
        if (h.ended()) return;
        h.ctx.log.info({ sipCallId: h.callId, method, outcome: o.kind }, "sip session refresh");
        switch (o.kind) {
          case "ok": {
            const n = negotiateAsUac(o.response);
            if (n) h.timer().start(n.seconds, n.refresher);
            else h.timer().stop(); // §7.2: no Session-Expires in the 2xx → no expiration
            return;
          }
          case "glare":
            return this.retrySoon();
          case "dialog_gone":
            return h.endWithBye("session_expired");
          case "failed":
            // The half interval is gone; what remains until expiry (minus the §10 margin) is the rest.
            h.timer().expireAt((cur.seconds / 2 - Math.min(32, cur.seconds / 3)) * 1000);
        }
      },
    });
    if (!sent && method === "INVITE") h.oa.clientInvitePending = false;
  }

  stop(): void {
    this.h.ctx.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
  }

  private retrySoon(): void {
    // §14.1: after a 491 the owner of the Call-ID waits 2.1–4 s, the other 0–2 s; 2.1–4 s suits both.
    if (!this.h.timer().current) return;
    this.h.timer().stop();
    this.retryTimer = this.h.ctx.clock.setTimer(2100 + Math.floor(Math.random() * 1900), () => {
      this.retryTimer = undefined;
      this.refresh();
    });
  }
}
