/**
 * DTMF carried in SIP INFO (RFC 6086 framework; the bodies are the de-facto formats of Cisco/Asterisk and
 * most trunks, not standards track):
 *
 *   Content-Type: application/dtmf-relay        Content-Type: application/dtmf
 *   Signal=5                                    5
 *   Duration=160
 *
 * `Signal` is one of 0-9 * # A-D (case-insensitive; some senders write 10/11 for * and #, and the RFC 4733
 * codes 0–16 are accepted the same way); `Duration` is in ms and optional.
 */

/** Content types we accept in an INFO, sent in Accept with a 415 (RFC 6086 §4.2.2, RFC 3261 §21.4.13). */
export const DTMF_INFO_CONTENT_TYPES = ["application/dtmf-relay", "application/dtmf"] as const;

export type DtmfInfo =
  | { kind: "digit"; key: string; durationMs?: number }
  /** No body: a legacy keep-alive INFO (RFC 6086 §2: INFO without a body is answered 200). */
  | { kind: "empty" }
  /** A body of a content type we do not understand: 415 with Accept. */
  | { kind: "unsupported"; contentType: string }
  /** A DTMF content type whose body names no key: 400 with this reason. */
  | { kind: "bad"; reason: string };

const KEYS = "0123456789*#ABCD";

/** The DTMF key a Signal value names, or undefined: "5", "*", "#", "a"–"d", or event code "10"/"11"… "16". */
export function dtmfSignalKey(signal: string): string | undefined {
  const s = signal.trim().toUpperCase();
  if (s.length === 1 && KEYS.includes(s)) return s;
  if (/^\d{1,2}$/.test(s)) {
    const n = Number(s);
    if (n < 16) return KEYS[n];
    if (n === 16) return "flash";
  }
  return undefined;
}

/**
 * Reads the DTMF key of an INFO request body.
 * @param contentType the Content-Type without parameters, lower-case (undefined when absent)
 * @param body the body text (UTF-8)
 */
export function parseDtmfInfo(contentType: string | undefined, body: string): DtmfInfo {
  if (body.trim() === "") return { kind: "empty" };
  if (contentType === "application/dtmf") {
    const key = dtmfSignalKey(body);
    return key ? { kind: "digit", key } : { kind: "bad", reason: "application/dtmf body is not a DTMF key" };
  }
  if (contentType === "application/dtmf-relay") {
    let key: string | undefined;
    let durationMs: number | undefined;
    for (const line of body.split(/\r?\n/)) {
      const m = /^\s*([A-Za-z]+)\s*=\s*(\S*)\s*$/.exec(line);
      if (!m) continue;
      const name = m[1]!.toLowerCase();
      if (name === "signal") key = dtmfSignalKey(m[2]!);
      else if (name === "duration" && /^\d{1,6}$/.test(m[2]!)) durationMs = Number(m[2]);
    }
    if (!key) return { kind: "bad", reason: "dtmf-relay body has no valid Signal=" };
    return durationMs === undefined ? { kind: "digit", key } : { kind: "digit", key, durationMs };
  }
  return { kind: "unsupported", contentType: contentType ?? "(none)" };
}
