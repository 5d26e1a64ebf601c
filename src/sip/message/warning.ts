/**
 * The Warning header field value (RFC 3261 §20.43) we send with 3xx–6xx responses:
 *
 *   Warning = "Warning" HCOLON warning-value *(COMMA warning-value)
 *   warning-value = warn-code SP warn-agent SP warn-text
 *   warn-text = quoted-string
 *
 * A quoted-string (§25.1) may carry `"` and `\` as quoted-pairs (`\"`, `\\`) and UTF-8 beyond ASCII
 * as is, but no CR or LF (a quoted-pair excludes %x0A and %x0D): those and the other control characters
 * become spaces, so text that came from a peer's bytes (a parse error quoting them) cannot fold or
 * split the header.
 *
 *   warningValue(399, 'header "Via" is malformed')  // 399 voice-agent "header \"Via\" is malformed"
 *   warningValue(399, "x", "-")                     // 399 - "x" (warn-agent "-": §20.43 allows a pseudonym)
 */
import { quote } from "./params.ts";

/** The warn-agent we name ourselves by. */
export const WARN_AGENT = "voice-agent";

/** Longest warn-text we send, characters (before escaping): a reason, not a dump of the input. */
export const MAX_WARN_TEXT = 160;

/**
 * @param code warn-code, 300–399 (§20.43: 300–329 SDP problems, 330–339 network, 370–379 QoS, 399 other).
 * @param text human-readable reason; control characters become spaces, cut at `MAX_WARN_TEXT` with "…".
 * @param agent warn-agent: a host[:port] or a pseudonym token (default `voice-agent`).
 * @throws RangeError for a code outside 300–399 (a bug of ours, not of the input).
 */
export function warningValue(code: number, text: string, agent: string = WARN_AGENT): string {
  if (!Number.isInteger(code) || code < 300 || code > 399) throw new RangeError(`warn-code must be 300-399, got ${code}`);
  // eslint-disable-next-line no-control-regex
  let t = text.toWellFormed().replace(/[\x00-\x1f\x7f-\x9f]/g, " ");
  if (t.length > MAX_WARN_TEXT) t = `${t.slice(0, MAX_WARN_TEXT - 1).toWellFormed()}…`;
  return `${code} ${agent} ${quote(t)}`;
}
