import { SipParseError } from "./errors.ts";
import { formatParams, parseParams, type Params } from "./params.ts";

/**
 * A SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966):
 *
 *   sip:user:password@host:port;uri-parameters?headers
 *   tel:+15551234567;phone-context=example.com
 *
 * `host` keeps IPv6 brackets (`[::1]`); `port` is undefined when absent (§19.1.2: default 5060 for
 * sip, 5061 for sips); parameter names are lower-case; `headers` is the raw text after `?` (no `?`).
 * For tel URIs the number is in `user` and `host` is "".
 */
export class SipUri {
  constructor(
    public scheme: "sip" | "sips" | "tel",
    public host: string,
    public port?: number,
    public user?: string,
    public password?: string,
    public params: Params = new Map(),
    public headers?: string,
  ) {}

  /** A parameter's value (`null` for a flag such as `lr`), or undefined if absent. */
  param(name: string): string | null | undefined {
    return this.params.get(name.toLowerCase());
  }

  /** The host without IPv6 brackets, as a socket API wants it. */
  get hostname(): string {
    return this.host.startsWith("[") ? this.host.slice(1, -1) : this.host;
  }

  clone(): SipUri {
    return new SipUri(this.scheme, this.host, this.port, this.user, this.password, new Map(this.params), this.headers);
  }

  toString(): string {
    return formatUri(this);
  }
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?)$/;

/**
 * Parses a URI. Throws `SipParseError("uri")` for an unknown scheme, an empty or malformed host, or a
 * port outside 1..65535.
 */
export function parseUri(text: string): SipUri {
  const s = text.trim();
  const colon = s.indexOf(":");
  if (colon <= 0) throw new SipParseError("uri", `URI without scheme: "${clip(s)}"`);
  const scheme = s.slice(0, colon).toLowerCase();
  const rest = s.slice(colon + 1);
  if (scheme === "tel") {
    const semi = rest.indexOf(";");
    const number = semi < 0 ? rest : rest.slice(0, semi);
    if (!/^[+0-9A-Fa-f*#().\-]+$/.test(number)) throw new SipParseError("uri", `bad tel number "${clip(number)}"`);
    return new SipUri("tel", "", undefined, number, undefined, semi < 0 ? new Map() : parseParams(rest.slice(semi), "uri", false));
  }
  if (scheme !== "sip" && scheme !== "sips") throw new SipParseError("uri", `unsupported URI scheme "${clip(scheme)}"`);
  if (/\s/.test(rest)) throw new SipParseError("uri", "whitespace inside URI");

  let user: string | undefined;
  let password: string | undefined;
  let hostPart = rest;
  const at = rest.indexOf("@");
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    hostPart = rest.slice(at + 1);
    const pc = userinfo.indexOf(":");
    user = pc < 0 ? userinfo : userinfo.slice(0, pc);
    if (pc >= 0) password = userinfo.slice(pc + 1);
    if (!user) throw new SipParseError("uri", "empty user part before @");
  }
  let headers: string | undefined;
  const q = hostPart.indexOf("?");
  if (q >= 0) {
    headers = hostPart.slice(q + 1);
    hostPart = hostPart.slice(0, q);
  }
  let params: Params = new Map();
  const semi = hostPart.indexOf(";");
  if (semi >= 0) {
    params = parseParams(hostPart.slice(semi), "uri", false);
    hostPart = hostPart.slice(0, semi);
  }
  let host = hostPart;
  let port: number | undefined;
  const portMatch = /^(.*?):(\d*)$/.exec(hostPart);
  if (portMatch && !hostPart.endsWith("]")) {
    host = portMatch[1]!;
    port = parsePort(portMatch[2]!);
  } else if (hostPart.startsWith("[")) {
    const m = /^(\[[^\]]*\])(?::(\d*))?$/.exec(hostPart);
    if (!m) throw new SipParseError("uri", `bad IPv6 host "${clip(hostPart)}"`);
    host = m[1]!;
    if (m[2] !== undefined) port = parsePort(m[2]);
  }
  if (!host || !HOST.test(host)) throw new SipParseError("uri", `bad host "${clip(host)}"`);
  return new SipUri(scheme, host, port, user, password, params, headers);
}

function parsePort(digits: string): number {
  const p = Number(digits);
  if (!digits || digits.length > 5 || p < 1 || p > 65535) throw new SipParseError("uri", `bad port "${digits}"`);
  return p;
}

/** Formats a URI back to text (the inverse of {@link parseUri} for normalised input). */
export function formatUri(u: SipUri): string {
  if (u.scheme === "tel") return `tel:${u.user ?? ""}${formatParams(u.params)}`;
  let s = `${u.scheme}:`;
  if (u.user !== undefined) s += u.password !== undefined ? `${u.user}:${u.password}@` : `${u.user}@`;
  s += u.host;
  if (u.port !== undefined) s += `:${u.port}`;
  s += formatParams(u.params);
  if (u.headers !== undefined) s += `?${u.headers}`;
  return s;
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
