import type { SdpDirection } from "./types.ts";

/**
 * The direction an answerer puts in its answer for an offered direction (RFC 3264 §6.1): "If a stream
 * is offered as sendonly, the corresponding stream MUST be marked as recvonly or inactive in the
 * answer. If a media stream is listed as recvonly in the offer, the answer MUST be marked as sendonly
 * or inactive ... If an offered media stream is listed as inactive, it MUST be marked as inactive in the
 * answer." sendrecv stays sendrecv.
 * The same mirror turns a peer's direction into ours.
 */
export function mirrorDirection(d: SdpDirection): SdpDirection {
  switch (d) {
    case "sendonly":
      return "recvonly";
    case "recvonly":
      return "sendonly";
    default:
      return d;
  }
}

/** True when a direction lets us send RTP. */
export function canSend(d: SdpDirection): boolean {
  return d === "sendrecv" || d === "sendonly";
}

/** True when a direction lets us receive RTP. */
export function canReceive(d: SdpDirection): boolean {
  return d === "sendrecv" || d === "recvonly";
}

/**
 * The direction an offer really asks for. RFC 3264 §8.4: "RFC 2543 [...] specified that placing a user
 * on hold was accomplished by setting the connection address to 0.0.0.0" — such an offer still says
 * sendrecv (or nothing) but cannot receive; we read it as sendonly (recvonly as inactive), so the answer
 * is recvonly (inactive) and we send nothing to 0.0.0.0. The same for the IPv6 `::`.
 */
export function effectiveOfferDirection(direction: SdpDirection, address: string | undefined): SdpDirection {
  if (address !== "0.0.0.0" && address !== "::") return direction;
  if (direction === "sendrecv") return "sendonly";
  if (direction === "recvonly") return "inactive";
  return direction;
}
