/**
 * One call's SDP over its whole life (RFC 3264 §8 "Modifying the Session"): what we last sent, the
 * media now negotiated, and the `o=` line's rule — "the session ID MUST remain the same, and the
 * version MUST be incremented by one if the description has changed; it MUST remain the same if the
 * description is unchanged" (RFC 3264 §8; RFC 6337 §5.1 on re-sending an unchanged SDP).
 *
 *   const s = SdpSession.fromAnswer(createAnswer({ offer, localAddress, localPort }), { localAddress, localPort });
 *   const r = s.answer(reOffer);   // r.sdp for the 200, r.media to apply, r.changed
 *   const o = s.offer();           // offer-less re-INVITE: our offer for the 200 …
 *   s.applyAnswer(ackBody);        // … and the answer from the ACK
 */
import { createAnswer, type AnswerResult } from "./answer.ts";
import { SdpError } from "./errors.ts";
import { createOffer, parseAnswer, type OfferResult } from "./offer.ts";
import { parseDescription, parseOffer } from "./parse.ts";
import type { G711Name, NegotiatedMedia } from "./types.ts";
import { compareOrigin, normaliseBody, type RemoteDescription } from "./version.ts";

export interface SdpSessionEndpoint {
  /** Our RTP address for `c=`/`o=`. */
  localAddress: string;
  /** Our RTP port. */
  localPort: number;
  /** Where our RTP socket is bound: re-offers naming a family it cannot reach are refused (createAnswer). */
  bindAddress?: string;
  /** Accept CN/8000 in answers when offered (createAnswer `comfortNoise`, RTP_SILENCE_SUPPRESSION=on). */
  comfortNoise?: boolean;
}

/** The result of answering a re-offer. */
export interface ReAnswer {
  /** Our answer body (identical bytes to the previous SDP when nothing changed). */
  sdp: string;
  /** The media as it is after this answer. */
  media: NegotiatedMedia;
  /** The media as it was before. */
  previous: NegotiatedMedia;
  /** True when our SDP changed (and the `o=` version went up by one). */
  changed: boolean;
  /**
   * The offer kept its `o=` version but changed its body (RFC 3264 §8: "If the version in the origin
   * line does not increment, the SDP MUST be identical"): taken as the no-op its version says, not applied.
   */
  ignoredChange?: true;
}

export class SdpSession {
  private body: string;
  private version: number;
  private current: NegotiatedMedia;
  /** Codecs and telephone-event of an offer we sent and whose answer has not come yet. */
  private pendingOffer: { codecs: G711Name[]; telephoneEvent: boolean } | undefined;
  /** The peer's last SDP (offer or answer): the baseline of its next offer's `o=` (./version.ts). */
  private remote: RemoteDescription | undefined;

  private constructor(
    private readonly endpoint: SdpSessionEndpoint,
    readonly sessionId: string,
    version: number,
    body: string,
    media: NegotiatedMedia,
  ) {
    this.version = version;
    this.body = body;
    this.current = media;
  }

  /**
   * UAS: the session after our answer to the dialog-creating INVITE's offer. `remoteSdp`: that offer,
   * the baseline of the peer's `o=` (without it the first re-offer sets it).
   */
  static fromAnswer(answer: AnswerResult, endpoint: SdpSessionEndpoint, remoteSdp?: string): SdpSession {
    return new SdpSession(endpoint, answer.sessionId, answer.sessionVersion, answer.sdp, pick(answer)).learn(remoteSdp);
  }

  /**
   * UAC: the session after our offer (`createOffer`) and the callee's answer (`parseAnswer`).
   * `remoteSdp`: that answer, the baseline of the peer's `o=` (without it the first re-offer sets it).
   */
  static fromOffer(offer: OfferResult, answered: NegotiatedMedia, endpoint: SdpSessionEndpoint, remoteSdp?: string): SdpSession {
    return new SdpSession(endpoint, offer.sessionId, offer.sessionVersion, offer.sdp, pick(answered)).learn(remoteSdp);
  }

  /** The media negotiated now (codec, PT, remote address, OUR direction). */
  get media(): NegotiatedMedia {
    return this.current;
  }

  /** The SDP we last sent. */
  get sdp(): string {
    return this.body;
  }

  /** Our `o=` version now. */
  get sessionVersion(): number {
    return this.version;
  }

  /**
   * Answers a new offer inside the dialog (RFC 3264 §8) and makes it current: keeps the current codec
   * when the offer still lists it, else takes the offerer's first G.711 codec (a codec change); mirrors
   * the direction (hold: sendonly → recvonly, inactive → inactive, `c=0.0.0.0` → recvonly; resume →
   * sendrecv); follows a moved address/port. Never answers with a codec the offer lacks.
   * The peer's `o=` is checked first (RFC 3264 §8, ./version.ts): the same version with another body is
   * the no-op that version says (our previous SDP, nothing applied, `ignoredChange`); a lower one is refused.
   * @throws SdpError ("no_common_codec", "malformed", "no_audio", …) with the session left unchanged
   *   (the SIP layer answers 488 and the call goes on, RFC 3261 §14.2); "malformed" for an `o=` version
   *   below the previous one (answered 400).
   */
  answer(offer: string): ReAnswer {
    const previous = this.current;
    const parsed = parseOffer(offer);
    const verdict = compareOrigin(this.remote, parsed.origin, offer);
    if (verdict.kind === "stale") {
      // RFC 3264 §8: "the version in the origin field MUST increment by one from the previous SDP".
      throw new SdpError("malformed", `o= version went back from ${verdict.previous} to ${verdict.offered} (RFC 3264 section 8: it MUST increment)`);
    }
    if (verdict.kind === "unchanged" && verdict.bodyChanged) {
      // RFC 3264 §8: "an offer that contains SDP with a version that has not changed; this is effectively
      // a no-op. However, the answerer MUST generate a valid answer": the previous one, the session kept.
      this.pendingOffer = undefined;
      return { sdp: this.body, media: previous, previous, changed: false, ignoredChange: true };
    }
    const build = (sessionVersion: number) =>
      createAnswer({
        offer: parsed,
        localAddress: this.endpoint.localAddress,
        localPort: this.endpoint.localPort,
        bindAddress: this.endpoint.bindAddress,
        sessionId: this.sessionId,
        sessionVersion,
        preferCodec: previous.codec,
        comfortNoise: this.endpoint.comfortNoise,
      });
    let a = build(this.version);
    const changed = a.sdp !== this.body;
    if (changed) a = build(this.version + 1);
    this.commit(a.sdp, a.sessionVersion, pick(a));
    this.remote = { origin: parsed.origin, body: normaliseBody(offer) };
    this.pendingOffer = undefined;
    return { sdp: a.sdp, media: this.current, previous, changed };
  }

  /**
   * Our offer for the 2xx of an offer-less re-INVITE (RFC 3261 §14.2): the state we want — sendrecv,
   * the current codec first then the other G.711 law, telephone-event under its current number. The
   * media stays as it is until {@link applyAnswer}.
   */
  offer(): string {
    const codecs: G711Name[] = this.current.codec === "PCMA" ? ["PCMA", "PCMU"] : ["PCMU", "PCMA"];
    const tePt = this.current.telephoneEventPt;
    const build = (sessionVersion: number) =>
      createOffer({
        localAddress: this.endpoint.localAddress,
        localPort: this.endpoint.localPort,
        codecs,
        telephoneEventPt: tePt !== undefined && tePt >= 96 && tePt <= 127 ? tePt : undefined,
        sessionId: this.sessionId,
        sessionVersion,
        direction: "sendrecv",
      }).sdp;
    let sdp = build(this.version);
    if (sdp !== this.body) sdp = build(++this.version);
    this.body = sdp;
    this.pendingOffer = { codecs, telephoneEvent: true };
    return sdp;
  }

  /**
   * Applies the peer's answer to our {@link offer} and makes it current.
   * @returns the media before and after.
   * @throws SdpError when there is no pending offer ("malformed") or the answer is unusable (its
   *   parseAnswer code); the media then stays as it was.
   */
  applyAnswer(answer: string): { media: NegotiatedMedia; previous: NegotiatedMedia } {
    const offered = this.pendingOffer;
    if (!offered) throw new SdpError("malformed", "an answer arrived but no offer of ours is pending");
    this.pendingOffer = undefined;
    const previous = this.current;
    this.current = pick(parseAnswer(answer, offered));
    this.learn(answer);
    return { media: this.current, previous };
  }

  /** Forgets a pending offer whose answer never came (no ACK, or an ACK without SDP). */
  abandonOffer(): void {
    this.pendingOffer = undefined;
  }

  /** Takes `sdp` (the peer's offer or answer) as the baseline of its next offer's `o=`; unreadable → kept. */
  private learn(sdp: string | undefined): this {
    if (sdp === undefined) return this;
    try {
      this.remote = { origin: parseDescription(sdp).origin, body: normaliseBody(sdp) };
    } catch {
      // not a description we can read: the next readable offer sets the baseline
    }
    return this;
  }

  private commit(sdp: string, version: number, media: NegotiatedMedia): void {
    this.body = sdp;
    this.version = version;
    this.current = media;
  }
}

function pick(m: NegotiatedMedia): NegotiatedMedia {
  return {
    codec: m.codec,
    payloadType: m.payloadType,
    telephoneEventPt: m.telephoneEventPt,
    remote: { ...m.remote },
    direction: m.direction,
    remotePtime: m.remotePtime,
    ...(m.sendPtime !== undefined ? { sendPtime: m.sendPtime } : {}),
    ...(m.rtcpMux ? { rtcpMux: true as const } : {}),
    ...(m.comfortNoise ? { comfortNoise: true as const } : {}),
  };
}
