/**
 * SIP option tags (RFC 3261 §19.2, §8.2.2.3): which extensions we support, and the `Require` check
 * every request except ACK and CANCEL goes through.
 */
import type { SipRequest } from "../message/index.ts";

/**
 * Option tags we implement, sent in `Supported` (§20.37).
 * - `timer`: session timers, RFC 4028 (src/sip/ua/session-timer.ts).
 * `100rel` (RFC 3262, PRACK) is not among them: we never send reliable provisional responses, so a
 * request that *requires* it gets 420 (§8.2.2.3) — the caller may retry without it.
 */
export const SUPPORTED_OPTIONS: readonly string[] = ["timer"];
export const SUPPORTED_HEADER = SUPPORTED_OPTIONS.join(", ");
/** The `Supported` header row for our responses and requests; none while we support no option. */
export const SUPPORTED_ROWS: ReadonlyArray<[string, string]> = SUPPORTED_OPTIONS.length > 0 ? [["Supported", SUPPORTED_HEADER]] : [];

/** The option tags of every `Require` header of `req`, trimmed, lower-case, in order. */
export function requiredOptions(req: SipRequest): string[] {
  return req.headers
    .getAll("Require")
    .flatMap((v) => v.split(","))
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

/**
 * §8.2.2.3: "If a UAS does not understand an option-tag listed in a Require header field, it MUST
 * respond by generating a response with status code 420 (Bad Extension). The UAS MUST add an
 * Unsupported header field, and list in it those options it does not understand amongst those in
 * the Require header field of the request." ACK and CANCEL are exempt ("Note that
 * Require and Proxy-Require MUST NOT be used in a SIP CANCEL request, or in an ACK request").
 * @returns the option tags to list in Unsupported; empty when the request may proceed.
 */
export function unsupportedRequired(req: SipRequest): string[] {
  if (req.method === "ACK" || req.method === "CANCEL") return [];
  return requiredOptions(req).filter((t) => !SUPPORTED_OPTIONS.includes(t));
}
