/**
 * The answer to an out-of-dialog OPTIONS, the probe of SIP load balancers (Kamailio dispatcher, OpenSIPS):
 * built here for the UA core (./user-agent.ts) and for the SIP front thread (SIP_FRONT=on,
 * src/sip/transport/front/), which answers probes itself while the call thread is busy — one builder,
 * so both give the same bytes.
 */
import type { SipRequest, SipResponse } from "../message/index.ts";
import { statelessResponse } from "../transport/stateless.ts";
import { SUPPORTED_ROWS, unsupportedRequired } from "./extensions.ts";
import { unsupportedUriScheme } from "./request-uri.ts";
import { ALLOW_HEADER } from "./types.ts";
import type { OptionsStatus } from "./delegate.ts";

/**
 * §11.2: "The response to an OPTIONS is constructed using the standard rules for a SIP response as
 * discussed in Section 8.2.6. The response code chosen MUST be the same that would have been chosen had
 * the request been an INVITE. That is, a 200 (OK) would be returned if the UAS is ready to accept a call,
 * a 486 (Busy Here) would be returned if the UAS is busy, etc." We answer 503 + Retry-After (§21.5.4)
 * when `status` says a new INVITE would get it. "Allow, Accept, Accept-Encoding, Accept-Language, and
 * Supported header fields SHOULD be present in a 200 (OK) response to an OPTIONS request."
 * Sent statelessly (§8.2.7: the To tag is a keyed hash of the request, ../transport/stateless.ts), with
 * `Server: server`.
 * @throws SipParseError when the request lacks what a response must copy (Via, From, To, Call-ID, CSeq).
 */
export function optionsResponse(req: SipRequest, status: OptionsStatus, server: string): SipResponse {
  const caps: Array<[string, string]> = [["Allow", ALLOW_HEADER], ["Accept", "application/sdp"], ...SUPPORTED_ROWS];
  const extra = status.headers ?? [];
  const tail: Array<[string, string]> = [...caps, ...extra, ["Server", server]];
  if (status.available) return statelessResponse(req, 200, tail);
  const retry: Array<[string, string]> = status.retryAfterS !== undefined ? [["Retry-After", String(status.retryAfterS)]] : [];
  return statelessResponse(req, 503, [...retry, ...tail]);
}

/**
 * Whether the UA core would answer `req` (arrived over UDP) with {@link optionsResponse} and nothing
 * else: an OPTIONS without a To tag (out of dialog, §12.2), without a `sips:` Request-URI (that gets 416,
 * §8.2.2.1) and without a Require we do not support (420, §8.2.2.3). Anything else is the UA core's.
 * @throws SipParseError when a header it reads is malformed (then it is the UA core's too).
 */
export function isPlainProbe(req: SipRequest): boolean {
  return req.method === "OPTIONS" && !req.to.tag && !unsupportedUriScheme(req, "UDP") && unsupportedRequired(req).length === 0;
}
