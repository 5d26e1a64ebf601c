import type { Clock } from "../../util/clock.ts";
import { dialogKey, dialogKeyOfRequest, uriAddress } from "../dialog/index.ts";
import { nullLogger, type SipLogger } from "../log.ts";
import {
  Headers,
  SipParseError,
  SipRequest,
  buildResponse,
  generateBranch,
  generateCallId,
  generateTag,
  parseUri,
  warningValue,
  type SipMessage,
  type SipResponse,
} from "../message/index.ts";
import { TransactionLayer } from "../transaction/index.ts";
import { sipRefusedTotals, statelessResponse, type Address, type ArrivalProtocol, type Transport } from "../transport/index.ts";
import type { DialogUser, UaContext } from "./context.ts";
import { InboundCall } from "./inbound-call.ts";
import { InboundInvites } from "./inbound-invite.ts";
import { OutboundCall, normaliseAddress, type InviteOptions } from "./outbound-call.ts";
import { SUPPORTED_ROWS, unsupportedRequired } from "./extensions.ts";
import { DEFAULT_SESSION_EXPIRES_S } from "./session-timer.ts";
import type { InviteRefusal, UserAgentDelegate, UserAgentOptions } from "./delegate.ts";
import { ALLOW_HEADER, unhandledMethodStatus } from "./types.ts";
import { outOfDialogAnswer } from "./out-of-dialog.ts";
import { unsupportedUriScheme } from "./request-uri.ts";
import { optionsResponse } from "./options.ts";
import { DEFAULT_DIGEST_LOCKOUT_MS, DEFAULT_DIGEST_MAX_FAILURES, DigestLockout } from "./digest-lockout.ts";

/**
 * The user agent core (RFC 3261 §8.2, §12–§15, §17): receives from the transport, runs requests and
 * responses through the transaction layer, and dispatches the rest:
 *
 * - a `sips:` Request-URI that arrived without TLS → 416 (§8.2.2.1, §26.2.2: ./request-uri.ts);
 * - any request but ACK/CANCEL with a `Require` we do not support → 420 + Unsupported (§8.2.2.3);
 * - INVITE without To-tag → ./inbound-invite.ts: screened with no transaction (403 for a source locked
 *   out after repeated digest failures, 401 without valid credentials when `inboundAuth`, 503 +
 *   Retry-After while draining or when `delegate.screenInvite` refuses, all stateless, §8.2.7), then checked (482, 420, 422, 415, 400), 100 Trying and
 *   `delegate.onInvite(call)`;
 * - CANCEL → 200 and 487 to the INVITE (§9.2), 481 when nothing matches;
 * - ACK → the dialog's call (2xx ACK); requests with a To-tag → their dialog, 481 when none (§12.2.2);
 * - OPTIONS → 200 with Allow and Accept (§11.2), or 503 + Retry-After when `delegate.optionsStatus()`
 *   says a new call would be refused; UPDATE/INFO/NOTIFY (in Allow, but dialog-only) → 481, or 400/489
 *   for a NOTIFY without Event or of another package (out-of-dialog.ts); other known methods → 405 with
 *   Allow (§8.2.1), unknown ones → 501 with Allow (§21.5.2).
 */
export class UserAgent implements UaContext {
  readonly layer: TransactionLayer;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly log: SipLogger;
  readonly userAgent: string;
  readonly answerDelayMs: number;
  readonly contactHeader: string;
  private readonly contact: { host: string; port: number; user?: string };
  private readonly delegate: UserAgentDelegate;
  private readonly drainRetryAfterS: number;
  private readonly dialogPeerOnly: boolean;
  /** Calls for which a request from a stranger was already logged at warn (later ones at debug). */
  private readonly strangersLogged = new WeakSet<DialogUser>();
  private readonly dialogs = new Map<string, DialogUser>();
  private readonly calls = new Set<DialogUser>();
  /** New inbound INVITEs (screening, checks, the 100 Trying) and their CANCELs: ./inbound-invite.ts. */
  private readonly invites: InboundInvites;
  private disposed = false;

  constructor(opts: UserAgentOptions) {
    this.transport = opts.transport;
    this.clock = opts.clock;
    this.log = opts.log ?? nullLogger;
    this.userAgent = opts.userAgent ?? "voice-agent";
    this.answerDelayMs = opts.answerDelayMs ?? 0;
    this.contact = { ...opts.contact };
    this.delegate = opts.delegate;
    this.drainRetryAfterS = opts.drainRetryAfterS ?? 10;
    this.dialogPeerOnly = opts.dialogPeerOnly ?? false;
    const host = this.contact.host.includes(":") ? `[${this.contact.host}]` : this.contact.host;
    this.contactHeader = `<sip:${this.contact.user ? `${this.contact.user}@` : ""}${host}:${this.contact.port}>`;
    this.layer = new TransactionLayer({ transport: this.transport, clock: this.clock, log: this.log, timers: opts.timers });
    this.invites = new InboundInvites({
      ctx: this,
      inboundAuth: opts.inboundAuth,
      authLockout: opts.inboundAuth ? this.digestLockout(opts.inboundAuthLockout) : undefined,
      screen: (source) => this.screen(source),
      onCall: (call, source) => this.newInboundCall(call, source),
    });
    this.transport.delegate = {
      onMessage: (m, source, protocol) => this.receive(m, source, protocol ?? "UDP"),
      onUnreachable: (to, code) => {
        for (const call of [...this.calls]) if (call instanceof OutboundCall) call.destinationUnreachable(to, code);
      },
    };
  }

  /** Calls not yet forgotten (ringing, answered, or finishing their BYE). */
  get activeCalls(): number {
    return this.calls.size;
  }

  /**
   * Starts an outbound call: INVITE with our Contact, a fresh Call-ID, From-tag and branch, CSeq 1,
   * the SDP offer, sent to `opts.proxy` or the Request-URI's host:port (no DNS SRV).
   * @throws SipParseError when requestUri, from or to is malformed.
   */
  invite(opts: InviteOptions): OutboundCall {
    const ruri = parseUri(opts.requestUri);
    const h = new Headers();
    h.append("Max-Forwards", "70");
    h.append("From", `${normaliseAddress(opts.from)};tag=${generateTag()}`);
    h.append("To", normaliseAddress(opts.to ?? opts.requestUri));
    h.append("Call-ID", generateCallId(this.contact.host));
    h.append("CSeq", "1 INVITE");
    h.append("Contact", this.contactHeader);
    h.append("Allow", ALLOW_HEADER);
    for (const [n, v] of SUPPORTED_ROWS) h.append(n, v);
    // RFC 4028 §7.1: the UAC "MAY include a Session-Expires"; the answerer picks the refresher (§9).
    h.append("Session-Expires", String(DEFAULT_SESSION_EXPIRES_S));
    h.append("User-Agent", this.userAgent);
    const extra = opts.headers ? (Array.isArray(opts.headers) ? opts.headers : Object.entries(opts.headers)) : [];
    for (const [n, v] of extra as Array<[string, string]>) h.append(n, v);
    h.append("Content-Type", "application/sdp");
    const req = new SipRequest("INVITE", ruri.toString(), h, opts.offerSdp);
    this.addVia(req);
    const call = new OutboundCall(this, req, opts.proxy ?? uriAddress(ruri), opts.credentials);
    this.calls.add(call);
    call.start();
    return call;
  }

  /** Stops everything: every transaction and its timers; detaches from the transport (not closed). */
  dispose(): void {
    this.disposed = true;
    this.layer.dispose();
    if (this.transport.delegate) this.transport.delegate = undefined;
    this.dialogs.clear();
    this.calls.clear();
    this.invites.clear();
  }

  // ---------------------------------------------------------------- UaContext

  addVia(req: SipRequest): void {
    const host = this.contact.host.includes(":") ? `[${this.contact.host}]` : this.contact.host;
    // RFC 3581 §3: "A client, compliant to this specification (clients include UACs and proxies), MAY
    // include an "rport" parameter in the top Via header field value of requests it generates. This
    // parameter MUST have no value".
    req.headers.prepend("Via", `SIP/2.0/UDP ${host}:${this.contact.port};branch=${generateBranch()};rport`);
  }

  registerDialog(key: string, call: DialogUser): void {
    this.dialogs.set(key, call);
  }

  unregisterDialog(key: string): void {
    this.dialogs.delete(key);
  }

  forget(call: DialogUser): void {
    this.calls.delete(call);
    if (call instanceof InboundCall) this.invites.forget(call);
  }

  // ---------------------------------------------------------------- receive path

  private receive(msg: SipMessage, source: Address, protocol: ArrivalProtocol): void {
    if (this.disposed) return;
    try {
      if (msg.kind === "response") this.receiveResponse(msg, source);
      else this.receiveRequest(msg, source, protocol);
    } catch (err) {
      // A malformed optional header (read lazily) or an upper-layer bug: never let it escape.
      // A parse error's text may quote a header or URI (a caller's number): under pii.
      this.log.error({ code: (err as { code?: string })?.code, kind: msg.kind, pii: { err: String(err), stack: (err as Error)?.stack } }, "sip message handling failed");
      if (msg.kind === "request" && msg.method !== "ACK" && err instanceof SipParseError) this.respondStateless(msg, 400);
    }
  }

  private receiveResponse(res: SipResponse, source: Address): void {
    if (this.layer.receiveResponse(res)) {
      // A 2xx to our INVITE (its branch matched our client transaction: not forged blind) confirms a
      // dialog: the callee's requests (its BYE) go first under overload, as a caller's do after its ACK.
      if (res.cseq.method === "INVITE" && res.status >= 200 && res.status < 300) this.transport.prioritize?.(source);
      return;
    }
    // §13.2.2.4: "The ACK MUST be passed to the client transport every time a retransmission of the 2xx
    // final response that triggered the ACK arrives." — also once the INVITE transaction is gone.
    if (res.cseq.method === "INVITE" && res.status >= 200 && res.status < 300) {
      const call = this.dialogs.get(dialogKey(res.callId, res.from.tag ?? "", res.to.tag ?? ""));
      if (call instanceof OutboundCall) call.receiveStray2xx(res);
      return;
    }
    this.log.debug({ status: res.status, sipCallId: res.callId }, "sip stray response dropped");
  }

  private receiveRequest(req: SipRequest, source: Address, protocol: ArrivalProtocol): void {
    // §17: "The server transaction filters any request retransmissions from the network" and, for
    // INVITE, "absorbs the ACK request for any final response excepting a 2xx response" (§17.2.3 match).
    if (this.layer.receiveRequest(req)) return;
    if (req.method === "ACK") {
      // The ACK for a 2xx matches no server transaction. §17: "Since this ACK is retransmitted only by
      // the UAC, it is effectively considered its own transaction." It goes to its dialog (Call-ID and
      // tags, §12.2.2), where §13.3.1.4 applies: "Response retransmissions cease when an ACK request for
      // the response is received." An ACK is never answered (§17: "a response to ACK" is disallowed).
      const key = dialogKeyOfRequest(req);
      const call = key && this.dialogs.get(key);
      if (call && this.fromStranger(call, req, source)) return; // an ACK is never answered
      if (call) {
        this.transport.prioritize?.(source); // a confirmed dialog's peer: first under overload
        call.receiveAck(req);
      }
      return; // an unmatched ACK is dropped, never answered
    }
    if (req.method === "CANCEL") return this.receiveCancel(req, source);
    const key = dialogKeyOfRequest(req);
    if (key !== undefined) {
      const call = this.dialogs.get(key);
      if (call && this.fromStranger(call, req, source)) return this.refuseStranger(req);
      if (call) {
        this.transport.prioritize?.(source);
        return call.receiveRequest(req);
      }
      // §12.2.2: "If the UAS wishes to reject the request because it does not wish to recreate the
      // dialog, it MUST respond to the request with a 481 (Call/Transaction Does Not Exist)".
      return this.respondNonInvite(req, 481);
    }
    // §8.2.2.1: a Request-URI scheme we do not serve (not sip:/tel:, or sips: without TLS) → 416
    // (request-uri.ts; INVITE: after its authentication and screening, in inbound-invite.ts).
    if (req.method !== "INVITE" && unsupportedUriScheme(req, protocol)) return this.respondNonInvite(req, 416);
    // §8.2.2.3: a Require we do not understand → 420 + Unsupported, for every method but ACK/CANCEL
    // (INVITE: after its authentication, in receiveInvite).
    const unsupported = req.method === "INVITE" ? [] : unsupportedRequired(req);
    if (unsupported.length > 0) return this.respondNonInvite(req, 420, [["Unsupported", unsupported.join(", ")]]);
    switch (req.method) {
      case "INVITE":
        return this.invites.receive(req, source, protocol);
      case "OPTIONS":
        return this.receiveOptions(req);
      case "BYE":
        // §15.1.2: "If the BYE does not match an existing dialog, the UAS core SHOULD generate a 481
        // (Call/Transaction Does Not Exist) response".
        return this.respondNonInvite(req, 481);
      default: {
        // UPDATE, INFO, NOTIFY are in Allow but live only in a dialog: 481/489/400 (out-of-dialog.ts).
        const answer = outOfDialogAnswer(req);
        if (answer) return this.respondNonInvite(req, answer.status, [], answer.reason);
        // §8.2.1: "If the UAS recognizes but does not support the method of a request, it MUST generate a
        // 405 (Method Not Allowed) response. [...] The UAS MUST also add an Allow header field".
        // §21.5.2: 501 is "the appropriate response when a UAS does not recognize the request method".
        return this.respondNonInvite(req, unhandledMethodStatus(req.method), [["Allow", ALLOW_HEADER]]);
      }
    }
  }

  /**
   * With `dialogPeerOnly`: whether an in-dialog request came from an address other than the dialog's
   * signalling peer (then it is refused; logged once per call at warn, with the source).
   */
  private fromStranger(call: DialogUser, req: SipRequest, source: Address): boolean {
    if (!this.dialogPeerOnly) return false;
    const hosts = call.peerHosts();
    if (hosts === undefined || hosts.includes(source.host)) return false;
    const first = !this.strangersLogged.has(call);
    this.strangersLogged.add(call);
    const fields = { sipCallId: call.callId, method: req.method, source: `${source.host}:${source.port}`, peers: hosts };
    if (first) this.log.warn(fields, "sip in-dialog request from another address refused");
    else this.log.debug(fields, "sip in-dialog request from another address refused");
    return true;
  }

  /**
   * Refuses an in-dialog request from a stranger (fromStranger) with one stateless 403, whatever the
   * method: a re-INVITE too gets no INVITE server transaction, so nothing is retransmitted toward a
   * source that may be forged (Timer G would resend the 403 until Timer H, 64·T1: ten datagrams for one).
   * §8.2.7: "A stateless UAS MUST NOT send provisional (1xx) responses. A stateless UAS MUST NOT
   * retransmit responses. A stateless UAS MUST ignore ACK requests. A stateless UAS MUST ignore CANCEL
   * requests." Its ACK reaches the dialog's lookup, comes from the stranger too and is dropped; a
   * retransmitted request gets the same 403 again (same To tag), one datagram for one.
   * §21.4.4: "403 Forbidden: The server understood the request, but is refusing to fulfill it."
   * Counted in voice_agent_sip_refused_total{reason="dialog_stranger"}.
   */
  private refuseStranger(req: SipRequest): void {
    sipRefusedTotals.dialog_stranger++;
    const headers: Array<[string, string]> = [["Warning", warningValue(399, "not from this dialog's peer")], ["Server", this.userAgent]];
    this.transport.sendResponse(statelessResponse(req, 403, headers));
  }

  /** The inbound digest back-off (./digest-lockout.ts), or undefined when `maxFailures` is 0. */
  private digestLockout(o: UserAgentOptions["inboundAuthLockout"]): DigestLockout | undefined {
    const maxFailures = o?.maxFailures ?? DEFAULT_DIGEST_MAX_FAILURES;
    if (maxFailures <= 0) return undefined;
    return new DigestLockout({ maxFailures, lockoutMs: o?.lockoutMs ?? DEFAULT_DIGEST_LOCKOUT_MS, now: () => this.clock.now() });
  }

  /** Out-of-dialog OPTIONS: 200, or 503 + Retry-After when the delegate says a new INVITE would get it (./options.ts). */
  private receiveOptions(req: SipRequest): void {
    this.transport.sendResponse(optionsResponse(req, this.delegate.optionsStatus?.() ?? { available: true }, this.userAgent));
  }

  private receiveCancel(cancel: SipRequest, source: Address): void {
    const call = this.invites.callOf(this.layer.findInviteForCancel(cancel));
    // §9.2: "If the UAS did not find a matching transaction for the CANCEL according to the procedure
    // above, it SHOULD respond to the CANCEL with a 481 (Call Leg/Transaction Does Not Exist)."
    if (!call) return this.respondNonInvite(cancel, 481);
    // A CANCEL hangs up a ringing call as a BYE does an answered one, and it matches by Via branch,
    // Call-ID, From tag and CSeq (§9.2, §17.2.3), all of which anyone on the path reads: with
    // dialogPeerOnly it is taken only from the INVITE's peer, as the BYE (s19 fresheyes: a CANCEL from
    // another address ended a call ringing under ANSWER_DELAY_MS). The real one comes from that hop, §9.1:
    // "The destination address, port, and transport for the CANCEL MUST be identical to those used to send
    // the original request."
    if (this.fromStranger(call, cancel, source)) return this.refuseStranger(cancel);
    const tx = this.layer.createNonInviteServer(cancel);
    // §9.2: "as long as the CANCEL matched an existing transaction, the UAS answers the CANCEL request
    // itself with a 200 (OK) response. [...] the To tag of the response to the CANCEL and the To tag in
    // the response to the original request SHOULD be the same." The 487 to the INVITE: the call decides.
    tx.respond(buildResponse(cancel, 200, { toTag: call.localTag, headers: [["Server", this.userAgent]] }));
    call.receiveCancel();
  }

  /** A new inbound call, checked and answered 100 Trying (inbound-invite.ts): up to the delegate. */
  private newInboundCall(call: InboundCall, source: Address): void {
    this.calls.add(call);
    this.log.info({ sipCallId: call.callId, source, pii: { from: call.from.uri, to: call.to.uri } }, "sip inbound call");
    try {
      this.delegate.onInvite(call);
    } catch (err) {
      this.log.error({ sipCallId: call.callId, err: String(err) }, "sip onInvite delegate threw");
      call.fail();
    }
  }

  /**
   * The stateless refusal for a new INVITE from `source`, or undefined to go on: 503 + Retry-After
   * while `acceptingNewCalls()` is false (drain), else whatever `delegate.screenInvite` says.
   * §21.5.4 (503): "The server MAY indicate when the client should retry the request in a Retry-After
   * header field."
   */
  private screen(source: Address): InviteRefusal | undefined {
    if (this.delegate.acceptingNewCalls && !this.delegate.acceptingNewCalls()) {
      return { status: 503, headers: [["Retry-After", String(this.drainRetryAfterS)]] };
    }
    return this.delegate.screenInvite?.(source);
  }

  /**
   * Answers a request outside any call: an INVITE through an INVITE server transaction (Timer G resends
   * the final response, the ACK is absorbed); anything else statelessly (§8.2.7).
   */
  private respondNonInvite(req: SipRequest, status: number, headers: Array<[string, string]> = [], reason?: string): void {
    if (req.method !== "INVITE") {
      // Outside any call a non-INVITE request (OPTIONS, a stray BYE or CANCEL, an unknown method) is
      // answered statelessly (§8.2.7): a flood of them leaves no transaction behind for Timer J (64·T1),
      // and a retransmission simply gets the same answer, with the same To tag, again.
      this.transport.sendResponse(statelessResponse(req, status, [...headers, ["Server", this.userAgent]], reason));
      return;
    }
    const res = buildResponse(req, status, { toTag: generateTag(), headers: [...headers, ["Server", this.userAgent]] });
    this.layer.createInviteServer(req).respond(res);
  }

  /** Last-resort response without a transaction (for requests that broke our handling). */
  private respondStateless(req: SipRequest, status: number): void {
    try {
      this.transport.sendResponse(buildResponse(req, status));
    } catch {
      /* a request too broken to answer */
    }
  }
}
