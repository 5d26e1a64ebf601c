import { parseCSeq, type CSeq } from "./cseq.ts";
import { SipParseError } from "./errors.ts";
import { Headers } from "./headers.ts";
import { parseNameAddr, type NameAddr } from "./name-addr.ts";
import { parseVia, type Via } from "./via.ts";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * What requests and responses share: an ordered header multimap and a body of raw bytes. The typed
 * accessors parse on every call (the header rows stay the single source of truth) and throw
 * `SipParseError` when the header is absent or malformed; a message returned by `parseMessage` has
 * valid Via, From, To, Call-ID and CSeq, so on those they do not throw.
 */
abstract class SipMessageBase {
  headers: Headers;
  /** Body bytes; `Content-Length` is recomputed from it when serialising. */
  body: Uint8Array;

  constructor(headers?: Headers, body?: Uint8Array | string) {
    this.headers = headers ?? new Headers();
    this.body = typeof body === "string" ? encoder.encode(body) : (body ?? EMPTY);
  }

  /** The body decoded as UTF-8 (SDP is UTF-8 text, RFC 4566 §5). */
  get bodyText(): string {
    return decoder.decode(this.body);
  }
  set bodyText(text: string) {
    this.body = encoder.encode(text);
  }

  get callId(): string {
    return this.required("Call-ID").trim();
  }
  get cseq(): CSeq {
    return parseCSeq(this.required("CSeq"));
  }
  get from(): NameAddr {
    return parseNameAddr(this.required("From"));
  }
  get to(): NameAddr {
    return parseNameAddr(this.required("To"));
  }
  /** All Via entries, top (most recent hop) first. */
  get vias(): Via[] {
    return this.headers.getAll("Via").map(parseVia);
  }
  get topVia(): Via {
    return parseVia(this.required("Via"));
  }
  /** The first Contact, or undefined (a `*` Contact is not an address and reads as undefined). */
  get contact(): NameAddr | undefined {
    const c = this.headers.get("Contact");
    return c === undefined || c.trim() === "*" ? undefined : parseNameAddr(c);
  }
  /** Content-Type without parameters, lower-case, or undefined. */
  get contentType(): string | undefined {
    return this.headers.get("Content-Type")?.split(";")[0]!.trim().toLowerCase();
  }

  protected required(name: string): string {
    const v = this.headers.get(name);
    if (v === undefined) throw new SipParseError("missing_header", `missing ${name}`);
    return v;
  }
}

/** A SIP request (RFC 3261 §7.1). `uri` is the Request-URI text; parse it with `parseUri`. */
export class SipRequest extends SipMessageBase {
  readonly kind = "request" as const;
  constructor(
    public method: string,
    public uri: string,
    headers?: Headers,
    body?: Uint8Array | string,
  ) {
    super(headers, body);
  }
  clone(): SipRequest {
    return new SipRequest(this.method, this.uri, this.headers.clone(), this.body);
  }
}

/** A SIP response (RFC 3261 §7.2). */
export class SipResponse extends SipMessageBase {
  readonly kind = "response" as const;
  constructor(
    public status: number,
    public reason: string,
    headers?: Headers,
    body?: Uint8Array | string,
  ) {
    super(headers, body);
  }
  clone(): SipResponse {
    return new SipResponse(this.status, this.reason, this.headers.clone(), this.body);
  }
}

export type SipMessage = SipRequest | SipResponse;
