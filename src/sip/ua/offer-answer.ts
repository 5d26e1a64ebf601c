/**
 * Offer/answer inside a dialog (RFC 3264 §8, RFC 3261 §14, RFC 3311, RFC 6337): how a call hands a
 * peer's new offer to the media layer, and the glare rules that decide whether an offer may be taken
 * at all. The SIP layer never builds SDP itself; it asks the {@link SessionDescriptionDelegate}.
 */

/** What the media layer makes of an offer: our answer (already applied), or a refusal (call unchanged). */
export type OfferOutcome =
  | { ok: true; sdp: string }
  | {
      ok: false;
      /** 488 Not Acceptable Here (RFC 3261 §21.4.26: "the offer … is not acceptable"), or 400/415. */
      status: 400 | 415 | 488;
      /** For a `Warning: 3xx` header (§20.43), e.g. "no common codec". */
      warning: string;
    };

/**
 * The media side of a call, as the SIP layer sees it (SIP.js `SessionDescriptionHandler`, reduced).
 * Every method is synchronous and must not block: it runs on the SIP receive path.
 */
export interface SessionDescriptionDelegate {
  /**
   * A new offer from the peer in a re-INVITE or UPDATE. Build our answer from it and the call's
   * current state, apply it to the media (address, direction, codec), and return it; or refuse it
   * with the media left exactly as it was (RFC 3264 §8: "If the answerer rejects the offer … the
   * session MUST proceed as if the offer had never been made" — RFC 3261 §14.2: 488 and the session
   * is unchanged).
   */
  onOffer(offer: string, method: "INVITE" | "UPDATE"): OfferOutcome;
  /**
   * A re-INVITE without SDP (RFC 3261 §13.3.1.4: "If the INVITE did not contain an offer, the 2xx MUST
   * contain an offer if the UAS had not yet sent an offer."): our
   * offer of the state we want (sendrecv, our codecs). The answer comes in the ACK ({@link onAnswer}).
   */
  createOffer(): string;
  /**
   * The peer's answer to the offer of {@link createOffer} (RFC 3261 §13.2.2.4: in the ACK), or
   * `undefined` when the ACK carried none. Apply it; the call goes on whatever it holds.
   */
  onAnswer(answer: string | undefined): void;
}

/**
 * Glare bookkeeping for one dialog (RFC 3261 §14.1–§14.2, RFC 3311 §5.2). Each field is one of the
 * conditions those sections name.
 */
export class OfferAnswerState {
  /** We sent an offer (in a 2xx to an offer-less re-INVITE, or in our own re-INVITE/UPDATE) with no answer yet. */
  localOfferPending = false;
  /** Our own re-INVITE client transaction is in progress (§14.1). */
  clientInvitePending = false;
  /** A peer's offer we have not answered yet (the dialog-creating INVITE before our 2xx). */
  remoteOfferPending = false;

  /**
   * The response a re-INVITE gets before it is looked at, or undefined when it may proceed.
   * - §14.2: "A UAS that receives an INVITE on a dialog while an INVITE it had sent on that dialog is in
   *   progress MUST return a 491 (Request Pending) response to the received INVITE."
   * - RFC 3264 §4 / RFC 6337 §3.1: a new offer while ours is unanswered is glare too → 491.
   */
  checkInvite(): 491 | undefined {
    if (this.clientInvitePending || this.localOfferPending) return 491;
    return undefined;
  }

  /**
   * The response an UPDATE with an offer gets before it is looked at (RFC 3311 §5.2):
   * "If an UPDATE is received that contains an offer, and the UAS has generated an offer … to which it
   * has not yet received an answer, the UAS MUST reject the UPDATE with a 491 response. Similarly, if
   * an UPDATE is received that contains an offer, and the UAS has received an offer … to which it has
   * not yet generated an answer, the UAS MUST reject the UPDATE with a 500 response, and MUST include a
   * Retry-After header field with a randomly chosen value between 0 and 10 seconds."
   * Our own re-INVITE in progress (a session refresh repeating our SDP) carries such an offer too.
   */
  checkUpdateOffer(): 491 | 500 | undefined {
    if (this.localOfferPending || this.clientInvitePending) return 491;
    if (this.remoteOfferPending) return 500;
    return undefined;
  }
}

/** A Retry-After value for 500/491 (RFC 3261 §14.2: "randomly chosen value of between 0 and 10 seconds"). */
export function retryAfterSeconds(random: () => number = Math.random): string {
  return String(Math.min(10, Math.floor(random() * 11)));
}
