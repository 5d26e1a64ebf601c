import { SipParseError } from "./errors.ts";
import { formatParams, isToken, parseParams, type Params } from "./params.ts";

/** The magic cookie that marks an RFC 3261 branch (§8.1.1.7). */
export const BRANCH_MAGIC_COOKIE = "z9hG4bK";

/**
 * One Via entry (RFC 3261 §20.42, §18.2.1; RFC 3581 rport):
 *
 *   SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK776asdhds;rport=5062;received=198.51.100.7
 *
 * `transport` is upper-case; `port` is undefined when the sent-by has none; `params` keep their order.
 */
export class Via {
  constructor(
    public transport: string,
    public host: string,
    public port?: number,
    public params: Params = new Map(),
    public protocol = "SIP",
    public version = "2.0",
  ) {}

  get branch(): string | undefined {
    return this.params.get("branch") ?? undefined;
  }
  get received(): string | undefined {
    return this.params.get("received") ?? undefined;
  }
  /** `null` when present without a value (a client asking for it, RFC 3581 §3), else the port. */
  get rport(): number | null | undefined {
    if (!this.params.has("rport")) return undefined;
    const v = this.params.get("rport");
    return v === null || v === undefined || v === "" ? null : Number(v);
  }
  /** The `sent-by` as `host:port` (port defaulting to 5060), for transaction matching (§17.2.3). */
  get sentBy(): string {
    return `${this.host.toLowerCase()}:${this.port ?? 5060}`;
  }

  clone(): Via {
    return new Via(this.transport, this.host, this.port, new Map(this.params), this.protocol, this.version);
  }

  toString(): string {
    return formatVia(this);
  }
}

const SENT_PROTOCOL = /^\s*([^\s/]+)\s*\/\s*([^\s/]+)\s*\/\s*([^\s/]+)\s+(.*)$/s;
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?)$/;

/** Parses one Via value (not a comma list). Throws SipParseError("via"). */
export function parseVia(text: string): Via {
  const m = SENT_PROTOCOL.exec(text);
  if (!m) throw new SipParseError("via", `bad Via "${clip(text)}"`);
  const [, protocol, version, transport, rest] = m as unknown as [string, string, string, string, string];
  if (!isToken(protocol) || !isToken(version) || !isToken(transport)) {
    throw new SipParseError("via", `bad Via protocol "${clip(text)}"`);
  }
  let body = rest.trim();
  const comment = body.indexOf("(");
  if (comment >= 0) body = body.slice(0, comment).trim(); // a trailing comment (§25.1 via-parm has none, but seen in the wild)
  const semi = body.indexOf(";");
  const sentBy = (semi < 0 ? body : body.slice(0, semi)).replace(/\s+/g, "");
  const params = semi < 0 ? new Map() : parseParams(body.slice(semi), "via");
  const hp = sentBy.startsWith("[") ? /^(\[[^\]]+\])(?::(\d{1,5}))?$/.exec(sentBy) : /^([^:]+)(?::(\d{1,5}))?$/.exec(sentBy);
  if (!hp) throw new SipParseError("via", `bad sent-by "${clip(sentBy)}"`);
  const host = hp[1]!;
  const port = hp[2] !== undefined ? Number(hp[2]) : undefined;
  if (!HOST.test(host)) throw new SipParseError("via", `bad sent-by host "${clip(host)}"`);
  if (port !== undefined && (port < 1 || port > 65535)) throw new SipParseError("via", `bad sent-by port ${port}`);
  const rport = params.get("rport");
  if (rport !== undefined && rport !== null && rport !== "" && !/^\d{1,5}$/.test(rport)) {
    throw new SipParseError("via", `bad rport "${clip(rport)}"`);
  }
  return new Via(transport.toUpperCase(), host, port, params, protocol.toUpperCase(), version);
}

/** Formats one Via value. */
export function formatVia(v: Via): string {
  const sentBy = v.port !== undefined ? `${v.host}:${v.port}` : v.host;
  return `${v.protocol}/${v.version}/${v.transport} ${sentBy}${formatParams(v.params)}`;
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
