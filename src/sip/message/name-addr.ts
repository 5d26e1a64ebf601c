import { SipParseError } from "./errors.ts";
import { formatParams, isToken, parseParams, quote, type Params } from "./params.ts";
import { parseUri, type SipUri } from "./uri.ts";

/**
 * The value of From, To, Contact, Route, Record-Route (RFC 3261 §20.10, §25.1):
 *
 *   "Display Name" <sip:user@host;uri-param>;tag=abc;expires=60
 *   sip:user@host;tag=abc        (addr-spec form: everything after the first ";" is a header param)
 *
 * `displayName` is unquoted (undefined when absent); `params` are the header parameters (tag, lr is a
 * URI param inside <>, expires, q, ...).
 */
export class NameAddr {
  constructor(
    public uri: SipUri,
    public displayName?: string,
    public params: Params = new Map(),
  ) {}

  /** The `tag` parameter (From/To, §19.3), or undefined. */
  get tag(): string | undefined {
    return this.params.get("tag") ?? undefined;
  }

  clone(): NameAddr {
    return new NameAddr(this.uri.clone(), this.displayName, new Map(this.params));
  }

  /** Always writes the `<...>` form; the display name is quoted unless it is a plain token. */
  toString(): string {
    return formatNameAddr(this);
  }
}

/** Parses a name-addr or addr-spec with header params. Throws SipParseError("name_addr" | "uri"). */
export function parseNameAddr(text: string): NameAddr {
  const s = text.trim();
  if (!s) throw new SipParseError("name_addr", "empty address");
  let displayName: string | undefined;
  let rest: string;
  let uriText: string;
  if (s.startsWith('"')) {
    let k = 1;
    while (k < s.length && s[k] !== '"') k += s[k] === "\\" ? 2 : 1;
    if (k >= s.length) throw new SipParseError("name_addr", "unterminated display name");
    displayName = s.slice(1, k).replace(/\\(.)/g, "$1");
    rest = s.slice(k + 1).trimStart();
    if (!rest.startsWith("<")) throw new SipParseError("name_addr", "display name not followed by <URI>");
  } else {
    const lt = s.indexOf("<");
    if (lt >= 0) {
      const name = s.slice(0, lt).trim();
      if (name) {
        if (!name.split(/\s+/).every(isToken)) throw new SipParseError("name_addr", "bad unquoted display name");
        displayName = name;
      }
      rest = s.slice(lt);
    } else {
      // addr-spec form (§20.10): the URI ends at the first ";", the rest are header params. Linear
      // whitespace may come before the ";" (§25.1 SEMI = SWS ";" SWS; RFC 4475 §3.1.1.1 "To :… ;   tag").
      const semi = s.indexOf(";");
      uriText = (semi < 0 ? s : s.slice(0, semi)).trimEnd();
      const params = semi < 0 ? new Map() : parseParams(s.slice(semi), "name_addr");
      if (/[<>\s,]/.test(uriText)) throw new SipParseError("name_addr", "bad addr-spec");
      return new NameAddr(parseUri(uriText), undefined, params);
    }
  }
  const gt = rest.indexOf(">");
  if (gt < 0) throw new SipParseError("name_addr", "missing >");
  uriText = rest.slice(1, gt);
  const after = rest.slice(gt + 1).trim();
  if (after && !after.startsWith(";")) throw new SipParseError("name_addr", "text after > that is not a parameter");
  return new NameAddr(parseUri(uriText), displayName, after ? parseParams(after, "name_addr") : new Map());
}

/** Formats as `"Name" <uri>;params` (or `<uri>;params` without a display name). */
export function formatNameAddr(a: NameAddr): string {
  let s = "";
  if (a.displayName !== undefined && a.displayName !== "") {
    s = a.displayName.split(" ").every(isToken) ? `${a.displayName} ` : `${quote(a.displayName)} `;
  }
  return `${s}<${a.uri.toString()}>${formatParams(a.params)}`;
}
