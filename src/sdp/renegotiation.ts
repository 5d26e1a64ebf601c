/**
 * The media side of a call's in-dialog offer/answer (RFC 3264 §8), for both call directions: turns a
 * peer's re-INVITE/UPDATE offer into our answer (through {@link SdpSession}, which keeps `o=` right) and
 * applies it to the call's media (address, direction = hold/resume, codec), or refuses it with 488 and
 * the media untouched. It has the shape of the SIP layer's `SessionDescriptionDelegate`
 * (src/sip/ua/offer-answer.ts) without importing it, so the outbound dialer and the inbound set-up
 * can both use it:
 *
 *   sip.media = new CallSessionDescription(SdpSession.fromAnswer(answer, endpoint), callMedia, log, id);
 */
import type { Logger } from "../util/log.ts";
import { SdpError } from "./errors.ts";
import type { SdpSession } from "./session.ts";
import type { NegotiatedMedia } from "./types.ts";

/** The SIP layer's OfferOutcome (src/sip/ua/offer-answer.ts), structurally. */
export type RenegotiationOutcome = { ok: true; sdp: string } | { ok: false; status: 400 | 488; warning: string };

/** What a renegotiation changes in the running media (CallMedia implements it). */
export interface RenegotiableMedia {
  /**
   * Switch the RTP stream to `media`: send to its remote address from the next packet, our direction
   * (hold when it no longer lets us send), its codec/PT. Called only when something changed. Must not
   * block (it runs on the SIP receive path).
   */
  renegotiate(media: NegotiatedMedia, previous: NegotiatedMedia): void;
}

/**
 * True when two negotiations differ in anything the RTP stream uses — the packet length we send (the
 * peer's `a=maxptime`, RFC 4566 §6) and comfort noise (RFC 3389) included: a re-INVITE adding
 * `a=maxptime:10` was answered but its packets stayed 20 ms (s23 fresheyes3).
 */
export function mediaChanged(a: NegotiatedMedia, b: NegotiatedMedia): boolean {
  return (
    a.codec !== b.codec ||
    a.payloadType !== b.payloadType ||
    a.telephoneEventPt !== b.telephoneEventPt ||
    a.direction !== b.direction ||
    a.remote.address !== b.remote.address ||
    a.remote.port !== b.remote.port ||
    a.sendPtime !== b.sendPtime ||
    !!a.comfortNoise !== !!b.comfortNoise
  );
}

export class CallSessionDescription {
  constructor(
    readonly sdp: SdpSession,
    private readonly media: RenegotiableMedia,
    private readonly log: Logger,
    private readonly callId: string,
  ) {}

  onOffer(offer: string, method: "INVITE" | "UPDATE"): RenegotiationOutcome {
    let r;
    try {
      r = this.sdp.answer(offer);
    } catch (err) {
      if (!(err instanceof SdpError)) throw err;
      // RFC 3261 §14.2: "the UAS … MUST respond … with a 488 (Not Acceptable Here)" and the session
      // goes on as if the offer had never been made (RFC 3264 §8).
      this.log.warn({ callId: this.callId, method, code: err.code, reason: err.message }, "re-offer refused; media unchanged");
      return { ok: false, status: err.code === "malformed" || err.code === "no_connection" ? 400 : 488, warning: err.message };
    }
    if (r.ignoredChange) {
      this.log.warn({ callId: this.callId, method }, "re-offer changed its sdp but not its o= version: taken as unchanged (RFC 3264 section 8)");
    }
    this.apply(r.media, r.previous, method);
    return { ok: true, sdp: r.sdp };
  }

  createOffer(): string {
    return this.sdp.offer();
  }

  onAnswer(answer: string | undefined): void {
    if (answer === undefined) {
      // RFC 3261 §13.2.2.4 requires the answer in the ACK; without it the session stays as it was.
      this.sdp.abandonOffer();
      this.log.warn({ callId: this.callId }, "ack without the answer to our offer; media unchanged");
      return;
    }
    try {
      const r = this.sdp.applyAnswer(answer);
      this.apply(r.media, r.previous, "ACK");
    } catch (err) {
      if (!(err instanceof SdpError)) throw err;
      this.log.warn({ callId: this.callId, code: err.code, reason: err.message }, "answer in ack unusable; media unchanged");
    }
  }

  private apply(media: NegotiatedMedia, previous: NegotiatedMedia, via: string): void {
    if (!mediaChanged(media, previous)) return;
    this.media.renegotiate(media, previous);
    this.log.info(
      {
        callId: this.callId,
        via,
        codec: media.codec,
        payloadType: media.payloadType,
        direction: media.direction,
        remotePort: media.remote.port,
        sessionVersion: this.sdp.sessionVersion,
      },
      "media renegotiated",
    );
  }
}
