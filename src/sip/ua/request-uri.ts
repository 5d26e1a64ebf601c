import type { SipRequest } from "../message/index.ts";
import type { ArrivalProtocol } from "../transport/index.ts";

/**
 * Whether a request's Request-URI has a scheme this UAS cannot satisfy, answered 416 (Unsupported URI
 * Scheme). RFC 3261 §8.2.2.1: "If the Request-URI uses a scheme not supported by the UAS, it SHOULD
 * reject the request with a 416 (Unsupported URI Scheme) response." Two cases:
 *  - any scheme but `sip:`, `sips:` and `tel:` (RFC 3966, which some carriers put in the Request-URI):
 *    `http:`, `mailto:`, … were answered as if they named us (s19 fresheyes: an INVITE to
 *    `http://evil.example/x` got 200 OK);
 *  - a `sips:` URI that arrived over a transport other than TLS (UDP, or a plain TCP connection). RFC 3261
 *    §26.2.2: "When used as the Request-URI of a request, the SIPS scheme signifies that each hop over
 *    which the request is forwarded, until the request reaches the SIP entity responsible for the domain
 *    portion of the Request-URI, must be secured with TLS". This agent is that entity and the last hop
 *    reached it unsecured, so the caller's demand for TLS was not met. Over TLS (`SIP_TLS_PORT`) a `sips:`
 *    request is taken as any other.
 *
 * @param protocol what the request arrived over (the transport's report; UDP when it said nothing).
 */
export function unsupportedUriScheme(req: SipRequest, protocol: ArrivalProtocol): boolean {
  if (/^sips:/i.test(req.uri)) return protocol !== "TLS";
  return !/^(sip|tel):/i.test(req.uri);
}
