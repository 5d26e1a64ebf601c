import { Headers, SipParseError, SipRequest, parseNameAddr, parseUri, type SipResponse, type SipUri } from "../message/index.ts";
import type { Address } from "../transport/index.ts";
import { DEFAULT_SIP_PORT } from "../transport/index.ts";

export type DialogState = "early" | "confirmed" | "terminated";

/** Options for a request built inside a dialog. */
export interface InDialogRequestOptions {
  /** Extra header rows (Contact, User-Agent, Reason, ...), appended in order. */
  headers?: Iterable<readonly [string, string]>;
  body?: string | Uint8Array;
  contentType?: string;
}

/** The map key of a dialog: Call-ID, local tag, remote tag (RFC 3261 §12). */
export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

/**
 * The key of the dialog an incoming request belongs to: our tag is in To, the peer's in From
 * (§12.2.2). Undefined when the request has no To tag (it is not in a dialog).
 */
export function dialogKeyOfRequest(req: SipRequest): string | undefined {
  const toTag = req.to.tag;
  const fromTag = req.from.tag;
  if (toTag === undefined) return undefined;
  return dialogKey(req.callId, toTag, fromTag ?? "");
}

/**
 * Dialog state (RFC 3261 §12): the dialog ID (Call-ID, local tag, remote tag), the local and remote
 * CSeq numbers, the remote target (the peer's Contact URI), the route set, and the local/remote
 * From/To header values. Builds in-dialog requests per §12.2.1.1 (loose and strict routing).
 */
export class Dialog {
  state: DialogState;
  /** Our CSeq; only grows. Empty (undefined) on a UAS dialog until we send a request. */
  localSeq: number | undefined;
  /** The peer's CSeq; only grows (§12.2.2). */
  remoteSeq: number | undefined;

  private constructor(
    readonly callId: string,
    readonly localTag: string,
    readonly remoteTag: string,
    /** Our address header value (with our tag): To of the INVITE (UAS) or its From (UAC). */
    readonly localHeader: string,
    /** The peer's address header value (with its tag). */
    readonly remoteHeader: string,
    public remoteTarget: SipUri,
    /** Route set as name-addr texts, in the order they go into Route headers. */
    readonly routeSet: readonly string[],
    state: DialogState,
  ) {
    this.state = state;
  }

  get key(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  /**
   * UAS side (§12.1.1), from the dialog-creating INVITE and the To-tag we put in our response: route
   * set = the Record-Route values in order; remote target = the INVITE's Contact; remote CSeq = its CSeq.
   * @throws SipParseError("missing_header" | "name_addr" | "uri") when Contact is absent or malformed
   *   (the UAS answers 400).
   */
  static createUas(invite: SipRequest, localTag: string, state: DialogState = "early"): Dialog {
    const contact = invite.contact;
    if (!contact) throw new SipParseError("missing_header", "INVITE without Contact (§8.1.1.8)");
    const routeSet = invite.headers.getAll("Record-Route");
    for (const r of routeSet) parseNameAddr(r);
    const d = new Dialog(
      invite.callId,
      localTag,
      invite.from.tag ?? "",
      `${invite.headers.get("To")!};tag=${localTag}`,
      invite.headers.get("From")!,
      contact.uri,
      routeSet,
      state,
    );
    d.remoteSeq = invite.cseq.seq;
    return d;
  }

  /**
   * UAC side (§12.1.2), from our INVITE and a response with a To tag: route set = the response's
   * Record-Route values in reverse order; remote target = its Contact; local CSeq = the INVITE's.
   * @throws SipParseError when the response lacks a To tag or a valid Contact.
   */
  static createUac(invite: SipRequest, res: SipResponse, state: DialogState = "confirmed"): Dialog {
    const remoteTag = res.to.tag;
    if (remoteTag === undefined) throw new SipParseError("name_addr", "response without To tag cannot create a dialog");
    const contact = res.contact;
    if (!contact) throw new SipParseError("missing_header", "dialog-creating response without Contact");
    const routeSet = res.headers.getAll("Record-Route").reverse();
    for (const r of routeSet) parseNameAddr(r);
    const d = new Dialog(
      invite.callId,
      invite.from.tag ?? "",
      remoteTag,
      invite.headers.get("From")!,
      res.headers.get("To")!,
      contact.uri,
      routeSet,
      state,
    );
    d.localSeq = invite.cseq.seq;
    return d;
  }

  /**
   * §12.2.2: a request in this dialog (not ACK/CANCEL, which reuse the INVITE's CSeq) whose CSeq is
   * lower than the remote sequence number is out of order → the UAS MUST answer 500. Returns false then;
   * otherwise records the number and returns true.
   */
  acceptRemoteCSeq(seq: number): boolean {
    if (this.remoteSeq !== undefined && seq < this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** The next local CSeq number (starts at 1 when empty, §12.2.1.1), strictly growing. */
  nextLocalSeq(): number {
    this.localSeq = this.localSeq === undefined ? 1 : this.localSeq + 1;
    return this.localSeq;
  }

  /**
   * Builds a request inside the dialog (§12.2.1.1) with a fresh CSeq (for ACK pass `ackFor`). The caller
   * prepends its own Via (with a new branch) before sending it to {@link nextHop}.
   *
   * - Route set empty: Request-URI = remote target, no Route.
   * - First route has `lr` (loose routing): Request-URI = remote target, Route = route set.
   * - Otherwise (strict routing): Request-URI = first route's URI (without `method`/header parts),
   *   Route = the rest of the route set, then the remote target.
   */
  createRequest(method: string, opts: InDialogRequestOptions & { ackFor?: number } = {}): SipRequest {
    const seq = method === "ACK" && opts.ackFor !== undefined ? opts.ackFor : this.nextLocalSeq();
    let requestUri: string;
    let routes: string[];
    const first = this.routeSet[0];
    if (first === undefined) {
      requestUri = requestUriOf(this.remoteTarget);
      routes = [];
    } else {
      const firstUri = parseNameAddr(first).uri;
      if (firstUri.param("lr") !== undefined) {
        requestUri = requestUriOf(this.remoteTarget);
        routes = [...this.routeSet];
      } else {
        requestUri = requestUriOf(firstUri);
        routes = [...this.routeSet.slice(1), `<${this.remoteTarget.toString()}>`];
      }
    }
    const h = new Headers();
    for (const r of routes) h.append("Route", r);
    h.append("Max-Forwards", "70");
    h.append("From", this.localHeader);
    h.append("To", this.remoteHeader);
    h.append("Call-ID", this.callId);
    h.append("CSeq", `${seq} ${method}`);
    if (opts.headers) for (const [n, v] of opts.headers) h.append(n, v);
    if (opts.body !== undefined && opts.contentType) h.append("Content-Type", opts.contentType);
    return new SipRequest(method, requestUri, h, opts.body);
  }

  /**
   * Where an in-dialog request goes (§8.1.2, §12.2.1.1, without RFC 3263 DNS): the first route when it
   * loose-routes (`lr`), else the Request-URI (the strict router, or the remote target when there is no
   * route set). `maddr` wins over the host; the port defaults to 5060.
   */
  nextHop(req: SipRequest): Address {
    if (this.connection?.open()) return this.connection.peer;
    const first = this.routeSet[0];
    if (first !== undefined) {
      const u = parseNameAddr(first).uri;
      if (u.param("lr") !== undefined) return uriAddress(u);
    }
    return uriAddress(parseUri(req.uri));
  }

  /**
   * The TCP/TLS connection the dialog-creating request came on: while it is open, every in-dialog
   * request goes over it (what the README promises: "responses and the dialog stay on the caller's
   * connection"; RFC 5923 §1 on why: a peer's Contact is often unreachable from here — behind NAT, or
   * listening on TLS only — while the connection it opened is not). Closed → route set / remote target.
   */
  connection: { peer: Address; open(): boolean } | undefined;

  /** §12.2.1.2 / §12.2.2: a target-refresh request or its 2xx updates the remote target. */
  updateRemoteTarget(contact: SipUri): void {
    this.remoteTarget = contact;
  }
}

/**
 * A URI as a Request-URI: without its `method` parameter and its headers component (`?Subject=…`).
 * RFC 3261 §19.1.1, Table 1: the method parameter and headers are not allowed ("-") in a Request-URI;
 * §19.1.5: "The method parameter MUST NOT be placed in the Request-URI". A peer's Contact (the remote
 * target) such as `<sip:a@192.0.2.1?Call-ID=x&Subject=y>` otherwise rode into every BYE, re-INVITE and
 * UPDATE we sent in its dialog (s22 fresheyes2), where a strict parser would refuse the request.
 */
export function requestUriOf(uri: SipUri): string {
  if (uri.headers === undefined && uri.param("method") === undefined) return uri.toString();
  const ruri = uri.clone();
  ruri.params.delete("method");
  ruri.headers = undefined;
  return ruri.toString();
}

/** The UDP address of a SIP URI: `maddr` or host, the port or 5060 (no DNS SRV, RFC 3263 not done). */
export function uriAddress(uri: SipUri): Address {
  const maddr = uri.param("maddr");
  const host = typeof maddr === "string" && maddr ? maddr : uri.hostname;
  return { host: host.startsWith("[") ? host.slice(1, -1) : host, port: uri.port ?? DEFAULT_SIP_PORT };
}
