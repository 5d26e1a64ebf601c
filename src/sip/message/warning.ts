/**
 * The Warning header field value (RFC 3261 §20.43): `warn-code SP warn-agent SP warn-text`, e.g.
 * `399 voice-agent "c= address 224.0.0.1 is multicast, broadcast or reserved"`.
 *
 * The text often quotes what a peer sent (an SDP line, a header), so it is made safe here, once, for every
 * Warning we send: §25.1 `quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE` with
 * `qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII`. A `"` or `\` inside would end or escape the
 * string early, and control characters (NUL, ESC, CR, LF) are not allowed at all. We keep printable ASCII,
 * write `"` as `'`, `§` as `section `, and every other character (control, `\`, non-ASCII) as `?`; at most 200 characters.
 */

/** Longest warn-text we send (characters, after cleaning); longer texts end in "...". */
export const MAX_WARN_TEXT = 200;

/** Our warn-agent (§20.43: "the name or pseudonym of the server"). */
export const WARN_AGENT = "voice-agent";

/**
 * `code agent "text"` with the text cleaned as described above.
 * @param code 3-digit warn-code: 3xx per §20.43 (e.g. 305 incompatible media format, 399 miscellaneous).
 * @param text human-readable reason; any characters (peer bytes included).
 * @param agent warn-agent, default "voice-agent" ("-" when unknown).
 */
export function warningValue(code: number, text: string, agent: string = WARN_AGENT): string {
  return `${code} ${agent} "${warnText(text)}"`;
}

/** The cleaned warn-text alone (printable ASCII, `"` → `'`, `§` → `section `, others → `?`, ≤ MAX_WARN_TEXT). */
export function warnText(text: string): string {
  const clean = text.replace(/"/g, "'").replace(/§/g, "section ").replace(/[^\x20-\x7e]|\\/g, "?");
  return clean.length > MAX_WARN_TEXT ? `${clean.slice(0, MAX_WARN_TEXT - 3)}...` : clean;
}
