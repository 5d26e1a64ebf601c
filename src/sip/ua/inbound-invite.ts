/**
 * The UAS side of a new INVITE (no To-tag) and the CANCEL of one (RFC 3261 §8.2, §9.2, §17.2.1), taken
 * out of the user agent core (user-agent.ts), which routes requests by kind:
 *
 * - first, with no transaction: 403 for a source locked out after repeated digest failures
 *   (./digest-lockout.ts), 401 without valid credentials (when `inboundAuth`), then 503 +
 *   Retry-After when `screen(source)` refuses (draining, full, the source's pending cap), both stateless
 *   (§8.2.7), a retransmission refused the same way (refused-invites.ts);
 * - then an INVITE server transaction: 416 for a `sips:` Request-URI that came without TLS (§8.2.2.1,
 *   request-uri.ts), 482 for a merged request (§8.2.2.2), 420 for a Require we do not
 *   support (§8.2.2.3), 422 for a Session-Expires below our minimum (RFC 4028 §9), 415 for a body
 *   without SDP (§8.2.3; a multipart body is read for its SDP part, RFC 5621), 400 without Contact
 *   (§8.1.1.8); else 100 Trying and a new InboundCall handed to `onCall`;
 * - `callOf(tx)`: the call of an INVITE server transaction, for CANCEL (§9.2).
 *
 *   const invites = new InboundInvites({ ctx: ua, inboundAuth, screen: (s) => ua.screen(s), onCall });
 *   invites.receive(req, source);        // an out-of-dialog INVITE the transaction layer did not match
 *   invites.callOf(layer.findInviteForCancel(cancel));
 */
import type { Address, ArrivalProtocol } from "../transport/index.ts";
import { sipRefusedTotals, statelessResponse } from "../transport/index.ts";
import { buildResponse, generateTag, type SipRequest } from "../message/index.ts";
import { BODY_ACCEPT_ROWS, sdpBodyOf } from "../message/body.ts";
import { warningValue } from "../message/warning.ts";
import { serverTransactionKey, type InviteServerTransaction } from "../transaction/index.ts";
import type { UaContext } from "./context.ts";
import type { InviteRefusal } from "./delegate.ts";
import type { DigestVerifier } from "./digest-server.ts";
import { countsAsFailure, type DigestLockout } from "./digest-lockout.ts";
import { unsupportedRequired } from "./extensions.ts";
import { unsupportedUriScheme } from "./request-uri.ts";
import { InboundCall } from "./inbound-call.ts";
import { RefusedInvites } from "./refused-invites.ts";
import { negotiateAsUas } from "./session-timer.ts";

export interface InboundInvitesOptions {
  ctx: UaContext;
  /** Digest credentials every INVITE must carry (RFC 3261 §22.2); none asked when absent. */
  inboundAuth?: DigestVerifier;
  /** Back-off for sources that keep failing `inboundAuth` (./digest-lockout.ts); none when absent. */
  authLockout?: DigestLockout;
  /** The stateless refusal for a new INVITE from `source`, or undefined to go on. */
  screen(source: Address): InviteRefusal | undefined;
  /** A new inbound call passed every check (its 100 Trying is sent); the UA core hands it upward. */
  onCall(call: InboundCall, source: Address): void;
}

export class InboundInvites {
  /** Inbound INVITE transactions → their call, for CANCEL (§9.2). */
  private readonly byInviteTx = new Map<InviteServerTransaction, InboundCall>();
  /** `Call-ID|From-tag|CSeq` of live inbound INVITEs, for merged-request detection (§8.2.2.2). */
  private readonly inviteKeys = new Map<string, string>();
  /** Screening's stateless refusals, so a retransmitted INVITE gets the same one (§8.2.7). */
  private readonly refused: RefusedInvites;

  constructor(private readonly o: InboundInvitesOptions) {
    this.refused = new RefusedInvites(() => o.ctx.clock.now(), o.ctx.layer.timers.B);
  }

  /** The live call an INVITE server transaction belongs to (CANCEL's target), if any. */
  callOf(tx: InviteServerTransaction | undefined): InboundCall | undefined {
    return tx && this.byInviteTx.get(tx);
  }

  /** The call is over: drop its transaction and merge-detection entries. */
  forget(call: InboundCall): void {
    for (const [tx, c] of this.byInviteTx) if (c === call) this.byInviteTx.delete(tx);
    for (const [k, id] of this.inviteKeys) if (id === call.callId) this.inviteKeys.delete(k);
  }

  clear(): void {
    this.byInviteTx.clear();
    this.inviteKeys.clear();
    this.refused.clear();
  }

  /** An out-of-dialog INVITE that matched no server transaction (not a retransmission). */
  receive(req: SipRequest, source: Address, protocol: ArrivalProtocol = "UDP"): void {
    const { ctx, inboundAuth } = this.o;
    // §22.2: "If no credentials (in the Authorization header field) are provided in the request, the
    // UAS can challenge the originator to provide credentials by rejecting the request with a 401
    // (Unauthorized) status code." Bad or replayed credentials are challenged the same way (§22.4, RFC 8760).
    // First, and statelessly (§8.2.7): an unauthenticated INVITE costs no transaction and no timer, so a
    // flood of them leaves nothing behind; the caller's ACK for the 401 matches nothing and is dropped.
    if (inboundAuth) {
      const lockout = this.o.authLockout;
      // A source that failed too often is refused without a challenge (./digest-lockout.ts), statelessly:
      // §21.4.4 "403 Forbidden: The server understood the request, but is refusing to fulfill it.
      // Authorization will not help, and the request SHOULD NOT be repeated."
      if (lockout?.isLocked(source.host)) {
        sipRefusedTotals.auth_locked_out++;
        const warning = warningValue(399, "too many failed authentications from this address; try later");
        ctx.transport.sendResponse(statelessResponse(req, 403, [["Warning", warning], ["Server", ctx.userAgent]], "Try Later"));
        return;
      }
      const verdict = inboundAuth.verify(req);
      if (verdict === "ok") lockout?.succeeded(source.host);
      else {
        if (verdict !== "missing") ctx.log.warn({ sipCallId: req.callId, source, verdict }, "sip inbound invite: digest authentication failed");
        if (countsAsFailure(verdict)) sipRefusedTotals.auth_failed++;
        if (countsAsFailure(verdict) && lockout?.failed(source.host)) {
          ctx.log.warn({ source: source.host, lockoutS: lockout.lockoutS }, "sip inbound invite: source locked out after repeated digest failures");
        }
        const challenges = inboundAuth.challenges(verdict === "stale").map((c): [string, string] => ["WWW-Authenticate", c]);
        ctx.transport.sendResponse(statelessResponse(req, 401, [...challenges, ["Server", ctx.userAgent]]));
        return;
      }
    }
    // Screening before any transaction exists, as a carrier SBC does: an INVITE the agent would refuse
    // anyway (draining, full, this source holding too many unconfirmed calls) is answered 503 +
    // Retry-After statelessly (§8.2.7), so a flood of them costs no server transaction, no 100 Trying
    // and no 503 retransmitted by Timer G until Timer H. §8.2.7: "A stateless UAS MUST NOT send
    // provisional (1xx) responses." and "MUST NOT retransmit responses."; the caller's ACK for it matches
    // nothing and is dropped. A retransmitted INVITE gets the same refusal (same To tag, §8.2.7 "the To
    // tag MUST be the same for the same request"), not a new screening: ./refused-invites.ts.
    const txKey = serverTransactionKey(req);
    const refusal = this.refused.get(txKey) ?? this.o.screen(source);
    if (refusal) {
      this.refused.remember(txKey, refusal);
      ctx.transport.sendResponse(statelessResponse(req, refusal.status, [...(refusal.headers ?? []), ["Server", ctx.userAgent]]));
      return;
    }
    // The call is looked up, not captured: the transaction outlives it by up to 64·T1 (Timer L, RFC 6026
    // §8.7) and would otherwise keep everything the ended call held (media, sockets, providers) that long.
    const tx: InviteServerTransaction = ctx.layer.createInviteServer(req, {
      onAck: (ack) => this.byInviteTx.get(tx)?.ackOnInviteBranch(ack),
      onNoAck: () => this.byInviteTx.get(tx)?.noAck(),
    });
    const reply = (status: number, headers: Array<[string, string]> = []) =>
      tx.respond(buildResponse(req, status, { toTag: generateTag(), headers: [...headers, ["Server", ctx.userAgent]] }));

    // §8.2.2.1 (the Request-URI, inspected before the merge check of §8.2.2.2): a scheme other than sip:
    // and tel:, or a `sips:` URI that reached us over UDP or plain TCP → "416 (Unsupported URI Scheme)"
    // (request-uri.ts, RFC 3261 §26.2.2).
    if (unsupportedUriScheme(req, protocol)) return reply(416);
    // §8.2.2.2: "If the From tag, Call-ID, and CSeq exactly match those associated with an ongoing
    // transaction, but the request does not match that transaction [...], the UAS core SHOULD generate
    // a 482 (Loop Detected) response". (A retransmission was matched by the layer above, so any hit
    // here came on another branch.)
    const mergeKey = `${req.callId}|${req.from.tag ?? ""}|${req.cseq.seq}`;
    if (this.inviteKeys.has(mergeKey)) return reply(482);
    // §8.2.2.3 after authentication (§8.2: "starting with authentication, then inspecting the method, the
    // header fields, and so on"): an option-tag we do not understand → 420 + Unsupported.
    const unsupported = unsupportedRequired(req);
    if (unsupported.length > 0) return reply(420, [["Unsupported", unsupported.join(", ")]]);
    // RFC 4028 §9: a Session-Expires below our minimum → "422 … MUST include the Min-SE header field".
    const timer = negotiateAsUas(req);
    // RFC 3261 §21.4.1: "400 Bad Request: The request could not be understood due to malformed syntax."
    if (timer.kind === "malformed") return reply(400, [["Warning", warningValue(399, timer.detail)]]);
    if (timer.kind === "too_small") return reply(422, [["Min-SE", String(timer.minSe)]]);
    // §8.2.3: bodies of a type not understood:
    // "the UAS MUST reject the request with a 415 (Unsupported Media Type) response. The response MUST
    // contain an Accept header field". We understand SDP, alone or as a part of multipart/mixed (RFC 5621),
    // under no content coding ("415 … MUST contain an Accept-Encoding header field", body.ts).
    const body = sdpBodyOf(req);
    if (body.kind === "problem") {
      return reply(body.problem.status, [...BODY_ACCEPT_ROWS, ["Warning", warningValue(399, body.problem.reason)]]);
    }
    let contactOk = false;
    try {
      contactOk = req.contact !== undefined;
    } catch {
      contactOk = false;
    }
    // §8.1.1.8: "The Contact header field MUST be present and contain exactly one SIP or SIPS URI in any
    // request that can result in the establishment of a dialog." Without it there is no remote target.
    if (!contactOk) return reply(400, [["Warning", '399 - "missing or malformed Contact"']]);

    // §17.2.1: "The server transaction MUST generate a 100 (Trying) response unless it knows that the TU
    // will generate a provisional or final response within 200 ms". The TU (upper layer) may take longer.
    tx.respond(buildResponse(req, 100));
    // Its CANCEL (§9.2) overtakes new requests queued under a flood (receive-lanes.ts).
    const branch = req.topVia.branch;
    if (branch) ctx.transport.expectCancel?.(source, branch);
    const call = new InboundCall(ctx, req, tx, source);
    this.byInviteTx.set(tx, call);
    this.inviteKeys.set(mergeKey, call.callId);
    this.o.onCall(call, source);
  }
}
