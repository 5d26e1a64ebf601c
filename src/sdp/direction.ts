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
