/**
 * A late-offer (delayed-offer) inbound INVITE: one without an SDP body, as Cisco CUBE and other SBCs
 * send by default. RFC 3261 §13.3.1.4: "If the INVITE did not contain an offer, the 2xx MUST contain an
 * offer"; §13.2.2.4 then has the caller's answer in its ACK ("If the 2xx contains an offer, the ACK MUST
 * carry an answer"). Our offer is PCMU, PCMA and telephone-event (what an offered call may get); the
 * media is known, and started, only once the ACK brings the answer.
 *
 *   const offer = lateOffer(publicIp, lease.port);        // → accept(offer.sdp)
 *   const sdp = sessionFromAck(offer, ackSdp, endpoint);  // at the ACK; throws SdpError → BYE
 */
import { createOffer, parseAnswer, SdpError, SdpSession, type OfferResult, type SdpSessionEndpoint } from "../sdp";

/** Our offer for the 2xx of a late-offer INVITE: PCMU, PCMA (RFC 3551 static PTs), telephone-event 101. */
export function lateOffer(localAddress: string, localPort: number): OfferResult {
  return createOffer({ localAddress, localPort, codecs: ["PCMU", "PCMA"] });
}

/**
 * The call's SDP session from the answer in the caller's ACK.
 * @throws SdpError "malformed" when the ACK carries no SDP (§13.2.2.4: the ACK "MUST carry an answer"),
 *   else what `parseAnswer` throws for an answer we cannot use ("rejected", "no_common_codec", …).
 */
export function sessionFromAck(offer: OfferResult, ackSdp: string | undefined, endpoint: SdpSessionEndpoint): SdpSession {
  if (!ackSdp?.trim()) throw new SdpError("malformed", "the ACK to our offer (late-offer INVITE) carries no SDP answer");
  return SdpSession.fromOffer(offer, parseAnswer(ackSdp, { codecs: ["PCMU", "PCMA"] }), endpoint, ackSdp);
}
