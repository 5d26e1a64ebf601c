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

/** How we answer an INFO in a dialog (`answerInfo`), and the key it carried when it is 200 with one. */
export interface InfoAnswer {
  status: 200 | 400 | 415 | 469;
  /** Extra response header rows (Accept, Accept-Encoding, Recv-Info). */
  headers?: Array<[string, string]>;
  reason?: string;
  digit?: { key: string; durationMs?: number };
}

/**
 * The answer to an INFO request (RFC 6086), from what it carries:
 * - an `Info-Package` header: we indicate no Info Package (no Recv-Info in our INVITEs or answers), so
 *   §4.2.2 applies: "If a UA receives an INFO request associated with an Info Package that the UA has not
 *   indicated willingness to receive, the UA MUST send a 469 (Bad Info Package) response (see Section
 *   11.6), which contains a Recv-Info header field with Info Packages for which the UA is willing to
 *   receive INFO requests." — an empty Recv-Info: none (§7.3, `Recv-Info = "Recv-Info" HCOLON
 *   [info-package-list]`). One exception, kept on
 *   purpose: a DTMF body we read is taken (200) whatever the header says — a trunk sending a made-up
 *   `Info-Package: dtmf` with a dtmf-relay body would lose the caller's key (s21 fresheyes);
 * - a body under a content coding (`Content-Encoding: gzip`): 415 with Accept and Accept-Encoding (RFC 3261
 *   §8.2.3);
 * - a body of a type we do not read: 415 with Accept (§4.2.2: "If a UA receives an INFO request with a
 *   message body that it does not support, it MUST respond with a 415 (Unsupported Media Type)");
 * - a DTMF content type naming no key: 400; no body: 200 (legacy keep-alive, §2); a key: 200 and `digit`.
 * @param o.infoPackage the Info-Package header value, undefined when absent
 * @param o.coded the body is under a content coding other than identity
 * @param o.contentType the Content-Type without parameters, lower-case (undefined when absent)
 * @param o.body the body text (UTF-8)
 */
export function answerInfo(o: { infoPackage: string | undefined; coded: boolean; contentType: string | undefined; body: string }): InfoAnswer {
  const info: DtmfInfo | undefined = o.coded ? undefined : parseDtmfInfo(o.contentType, o.body);
  if (o.infoPackage !== undefined && info?.kind !== "digit") return { status: 469, headers: [["Recv-Info", ""]] };
  const accept: [string, string] = ["Accept", DTMF_INFO_CONTENT_TYPES.join(", ")];
  if (!info) return { status: 415, headers: [accept, ["Accept-Encoding", "identity"]] };
  if (info.kind === "unsupported") return { status: 415, headers: [accept] };
  if (info.kind === "bad") return { status: 400, reason: info.reason };
  if (info.kind === "empty") return { status: 200 };
  return { status: 200, digit: info.durationMs === undefined ? { key: info.key } : { key: info.key, durationMs: info.durationMs } };
}
