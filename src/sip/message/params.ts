import { SipParseError, type SipParseErrorCode } from "./errors.ts";

/**
 * Ordered `;name[=value]` parameters (RFC 3261 §19.1.1 uri-parameters, §25.1 generic-param). Names are
 * stored lower-case (they compare case-insensitively); values are kept exactly as written, including
 * the quotes of a quoted-string, so that formatting reproduces the input. `null` = a flag without value.
 */
export type Params = Map<string, string | null>;

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
/** RFC 3261 §25.1 token. */
export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/**
 * Parses `;a=b;c;d="x;y"` (the leading `;` optional) into a Params map. Whitespace around `;` and `=`
 * is allowed (header params, §25.1 SEMI/EQUAL include SWS). Throws SipParseError(code) on an empty
 * name or an unterminated quoted string.
 */
export function parseParams(text: string, code: SipParseErrorCode, allowQuoted = true): Params {
  const params: Params = new Map();
  let i = 0;
  const n = text.length;
  while (i < n) {
    // skip separators and whitespace
    while (i < n && (text[i] === ";" || text[i] === " " || text[i] === "\t")) i++;
    if (i >= n) break;
    let j = i;
    while (j < n && text[j] !== "=" && text[j] !== ";") j++;
    const name = text.slice(i, j).trim().toLowerCase();
    if (!name || !/^[A-Za-z0-9\-.!%*_+`'~\[\]\/:&$]+$/.test(name)) {
      throw new SipParseError(code, `bad parameter name "${text.slice(i, j)}"`);
    }
    if (j >= n || text[j] === ";") {
      params.set(name, null);
      i = j;
      continue;
    }
    j++; // past '='
    while (j < n && (text[j] === " " || text[j] === "\t")) j++;
    let value: string;
    if (allowQuoted && text[j] === '"') {
      let k = j + 1;
      while (k < n && text[k] !== '"') k += text[k] === "\\" ? 2 : 1;
      if (k >= n) throw new SipParseError(code, "unterminated quoted parameter value");
      value = text.slice(j, k + 1);
      k++;
      while (k < n && (text[k] === " " || text[k] === "\t")) k++;
      if (k < n && text[k] !== ";") throw new SipParseError(code, "text after quoted parameter value");
      i = k;
    } else {
      let k = j;
      while (k < n && text[k] !== ";") k++;
      value = text.slice(j, k).trim();
      i = k;
    }
    params.set(name, value);
  }
  return params;
}

/** Formats a Params map as `;a=b;c` (empty string for none). */
export function formatParams(params: Params): string {
  let s = "";
  for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** Removes the surrounding quotes and `\` escapes of a quoted-string; other text is returned as is. */
export function unquote(s: string): string {
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) return s.slice(1, -1).replace(/\\(.)/g, "$1");
  return s;
}

/** Quotes a string as a quoted-string (§25.1), escaping `"` and `\`. */
export function quote(s: string): string {
  return `"${s.replace(/(["\\])/g, "\\$1")}"`;
}
