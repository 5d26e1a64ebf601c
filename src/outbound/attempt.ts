/**
 * One outbound call from its INVITE to its end: the INVITE with our SDP offer (RFC 3264 §5) and digest
 * credentials (RFC 3261 §22.2, answered by the SIP layer), status from the responses, CANCEL when nobody
 * answers within the ring timeout (§9.1), early media held until the 2xx, media + conversation on the
 * answer, and the final status, hang-up cause and outcome written once at the end.
 *
 *   const attempt = OutboundAttempt.dial(deps, request, lease, system, onReleased);
 *   attempt.record;          // status "initiating", updated in place as the call goes on
 *   attempt.hangup("api");   // CANCEL before the answer, BYE after
 *
 * The admission checks (limits, destinations, draining) are the dialer's (./dialer.ts); the record,
 * port, media and end live in a `CallSession` (src/call/session.ts).
 */
import type { CallRecord, CallStatus } from "../pipeline/call-record";
import type { LlmProvider } from "../providers/types";
import type { RtpPortLease } from "../rtp";
import { CallSessionDescription, createOffer, parseAnswer, SdpError, SdpSession, type NegotiatedMedia, type OfferResult } from "../sdp";
import { RING_TIMEOUT_DRAIN_MAX_MS, type DigestCredentials, type EndReason, type InviteOptions, type OutboundCall } from "../sip";
import type { Clock, TimerHandle } from "../util/clock";
import type { Logger } from "../util/log";
import { CallSession, newCallRecord } from "../call/session";
import type { CallObserver } from "../call/observer";
import type { TeardownQueue } from "../call/teardown-queue";
import { OutboundError } from "./errors";
import type { MediaHandle, MediaRequest } from "./media-request";
import type { OutboundAnswerSettings } from "../pipeline/outbound-answer";
import { OpeningLlm, buildOpening, buildVoicemailMessage } from "./opening";
import type { ValidPlaceCallRequest } from "./request";
import { finalOutcome } from "./outcome";
import { nextStatus, type CancelCause } from "./status";

/** What one call needs from the agent (a part of OutboundDialerDeps). */
export interface AttemptDeps {
  ua: { invite(opts: InviteOptions): OutboundCall };
  /** Where the call is reported (store and metrics). */
  observer: CallObserver;
  /** Where the conversation's own hang-ups run (src/call/teardown-queue.ts); default: at once. */
  teardown?: TeardownQueue;
  clock: Clock;
  log: Logger;
  /** Where INVITEs go (SIP_TRUNK_HOST, SIP_TRUNK_PORT). */
  trunk: { host: string; port: number };
  /** From user part (SIP_CALLER_ID). */
  callerId: string;
  credentials?: DigestCredentials;
  /** Address in our SDP `c=` line (SIP_PUBLIC_IP). */
  mediaAddress: string;
  /** RING_TIMEOUT_S in ms. */
  ringTimeoutMs: number;
  llm: LlmProvider;
  /**
   * The LLM for one call, when it depends on the call (the scripted engine's outbound dialogue, filled
   * with the call's objective and opening); absent → `llm`.
   */
  outboundLlm?: (call: { objective: string; opening: string }) => LlmProvider;
  createMedia(req: MediaRequest): MediaHandle;
  providers?: { stt: string; llm: string; tts: string };
  /** Answering-machine detection defaults (AMD, AMD_* variables); absent → AMD off, default timings. */
  answer?: Omit<OutboundAnswerSettings, "message">;
}

export class OutboundAttempt {
  readonly session: CallSession;
  private media?: MediaHandle;
  private ringTimer?: TimerHandle;
  /** Why we asked for CANCEL, if we did. */
  private cancelled?: CancelCause;
  /** The final non-2xx that ended the attempt (or 408 for Timer B). */
  private failure?: { code: number; reason: string };
  private gotProvisional = false;
  /** RING_TIMEOUT_S passed before any response: cancel as soon as one arrives (§9.1). */
  private ringExpired = false;
  /** SDP of a 183 (early media); used if the 2xx repeats none. */
  private earlySdp?: string;
  private earlyPackets = 0;
  /** The opening's wait and AMD for this call (defaults, the request's `amd`, the message). */
  private answer: OutboundAnswerSettings = { amd: "off" };

  private constructor(
    private readonly d: AttemptDeps,
    readonly record: CallRecord,
    readonly sip: OutboundCall,
    private readonly lease: RtpPortLease,
    /** Our INVITE's offer: the start of the call's SDP session. */
    private readonly offer: OfferResult,
    private readonly llm: OpeningLlm,
    /** System instruction, with the opening already spoken. */
    private readonly system: string,
    onReleased: () => void,
  ) {
    this.session = new CallSession({
      record,
      observer: d.observer,
      teardown: d.teardown,
      log: d.log,
      clock: d.clock,
      // Before the answer the SIP side is ended by CANCEL (§9.1), after it by BYE.
      sip: { hangup: () => (record.status === "connected" ? sip.hangup() : (sip.cancel(), sip.done.then(() => {}))) },
      beforeEnded: (reason) => this.finish(reason as EndReason),
      onReleased,
    });
    this.session.holdLease(lease);
  }

  /**
   * Sends the INVITE for a validated request on `lease`'s port and follows the call in the background.
   * `onReleased` runs once when the call's resources are all given back.
   * @throws OutboundError invalid_request (field phone_number) when the INVITE cannot be built; the lease
   *   is released then.
   */
  static dial(d: AttemptDeps, req: ValidPlaceCallRequest, lease: RtpPortLease, system: string, onReleased: (a: OutboundAttempt) => void): OutboundAttempt {
    const { trunk, callerId } = d;
    const hostPort = trunk.port === 5060 ? trunk.host : `${trunk.host}:${trunk.port}`;
    const requestUri = `sip:${req.phoneNumber}@${hostPort}`;
    const from = `sip:${callerId}@${trunk.host}`;
    const offer = createOffer({ localAddress: d.mediaAddress, localPort: lease.port });
    d.llm.prepare?.(); // while it rings: the opening's request then needs no handshake
    let sip: OutboundCall;
    try {
      sip = d.ua.invite({ requestUri, from, offerSdp: offer.sdp, proxy: { host: trunk.host, port: trunk.port }, credentials: d.credentials });
    } catch (err) {
      lease.release();
      throw new OutboundError("invalid_request", `cannot build the INVITE: ${(err as Error).message}`, { field: "phone_number" });
    }
    const opening = buildOpening(req.openingReason);
    const record = newCallRecord(
      { direction: "outbound", sipCallId: sip.callId, from, to: requestUri, providers: d.providers },
      { status: "initiating", openingReason: req.openingReason, objective: req.objective, metadata: req.metadata },
    );
    const llm = new OpeningLlm(d.outboundLlm?.({ objective: req.objective, opening }) ?? d.llm, opening);
    const withOpening = `${system}\n\nYou have already opened the call by saying: "${opening}"`;
    const attempt: OutboundAttempt = new OutboundAttempt(d, record, sip, lease, offer, llm, withOpening, () => onReleased(attempt));
    const amd = req.amd ?? d.answer?.amd ?? "off";
    attempt.answer = {
      ...d.answer,
      amd,
      message: amd === "message" ? (req.voicemailMessage ?? buildVoicemailMessage(req.openingReason)) : undefined,
      opening, // OpeningLlm's first reply: rendered while the callee says "Hello?"
    };
    d.log.info({ callId: record.id, sipCallId: sip.callId, trunk: hostPort, pii: { to: req.phoneNumber } }, "outbound call placed");
    attempt.follow();
    return attempt;
  }

  /**
   * Ends the call: BYE once connected (the session's end, `reason` "api_hangup"), else CANCEL (§9.1;
   * before any response the SIP layer holds it back, src/sip/ua/outbound-call.ts cancel()).
   * `cause` "api" ends as canceled/api_cancel; "shutdown" as shutdown. Returns the SIP side's `done`.
   */
  hangup(cause: "api" | "shutdown"): Promise<unknown> {
    const { record, sip } = this;
    if (record.status === "connected") {
      if (cause === "api") void this.session.end("api_hangup");
      else {
        record.endReason ??= "shutdown";
        void sip.hangup();
      }
    } else {
      this.cancelled ??= cause;
      record.endReason ??= cause === "api" ? "api_cancel" : "shutdown";
      sip.cancel();
    }
    return sip.done;
  }

  private follow(): void {
    const { sip, session } = this;
    sip.on("trying", session.guard("trying", () => this.cancelIfRingExpired())); // ring time over before any response: CANCEL now
    sip.on("provisional", session.guard("provisional", (code: number, reason: string, sdp: string | undefined) => this.onProvisional(code, reason, sdp)));
    sip.on("answered", session.guard("answer", (sdp: string) => this.onAnswered(sdp)));
    sip.on("failed", (code, reason) => {
      this.failure = { code, reason };
    });
    sip.on("ended", (reason) => session.release(reason));
    sip.on("dtmf", session.guard("dtmf", (key: string) => this.media?.onDtmf?.(key)));
    // No answer within RING_TIMEOUT_S → CANCEL (sent once a provisional has arrived, §9.1). With no
    // response at all the trunk is not ringing anything: Timer B (or ICMP) ends the call as unreachable,
    // and a response arriving late gets the CANCEL then.
    this.ringTimer = session.clock.setTimer(this.d.ringTimeoutMs, () => {
      this.ringTimer = undefined;
      const dueAt = session.clock.now();
      sip.afterReceivedWithin(RING_TIMEOUT_DRAIN_MAX_MS, () => this.onRingTimeout(dueAt));
    });
  }

  /**
   * RING_TIMEOUT_S is up and every response that reached us by then has been handled (a starved agent
   * holds them in its receive queue for seconds: a 2xx there is an answer, not a silence). The ring
   * timeout is our own Expires-like limit, not Timer C (a proxy's, RFC 3261 §16.6): §13.2.1 "If the time
   * indicated in the Expires header field is reached and no final answer for the INVITE has been
   * received, the UAC core SHOULD generate a CANCEL request for the INVITE, as per Section 9."
   */
  private onRingTimeout(dueAt: number): void {
    const { session, record, sip } = this;
    if (session.isReleased) return;
    if (record.status === "connected") {
      const waitedMs = Math.round(session.clock.now() - dueAt);
      this.log.info({ callId: record.id, waitedMs }, "outbound call answered as the ring timeout fell due: its 2xx was waiting in the receive queue");
      return;
    }
    this.ringExpired = true;
    if (!sip.hasResponse) {
      this.log.info({ callId: record.id, ringTimeoutMs: this.d.ringTimeoutMs }, "outbound call: ring timeout with no response from the trunk yet");
      return;
    }
    this.cancelIfRingExpired();
  }

  private get log(): Logger {
    return this.d.log;
  }

  private cancelIfRingExpired(): void {
    const { record, sip } = this;
    if (!this.ringExpired || this.session.isReleased || record.status === "connected" || this.cancelled) return;
    this.cancelled = "ring_timeout";
    record.endReason ??= "ring_timeout";
    this.log.info({ callId: record.id, ringTimeoutMs: this.d.ringTimeoutMs, provisional: this.gotProvisional }, "outbound call not answered: cancel");
    sip.cancel();
  }

  private onProvisional(code: number, reason: string, sdp: string | undefined): void {
    const { record } = this;
    this.gotProvisional = true;
    this.cancelIfRingExpired();
    if (record.status === "initiating") {
      this.setStatus("ringing");
      record.ringingAt = new Date().toISOString();
      this.session.updated();
    }
    // 183 with SDP: early media (ringback, announcements). RTP is received on our port and dropped; the
    // call is not answered until a 2xx (RFC 3261 §13.2.1; RFC 3960 §3).
    if (sdp && !this.earlySdp) {
      this.earlySdp = sdp;
      this.lease.onPacket = () => {
        this.earlyPackets++;
      };
    }
    this.log.info({ callId: record.id, status: code, reason, earlyMedia: !!sdp }, "outbound call progress");
  }

  private onAnswered(sdp: string): void {
    const { record, sip } = this;
    this.d.clock.clearTimer(this.ringTimer);
    this.ringTimer = undefined;
    if (this.session.isReleased) return;
    let media: NegotiatedMedia;
    // RFC 3261 §13.2.1: the answer may have come in an unreliable 183 and not be repeated.
    const answerSdp = sdp.trim() ? sdp : (this.earlySdp ?? "");
    try {
      media = parseAnswer(answerSdp, { codecs: ["PCMU", "PCMA"] });
    } catch (err) {
      const msg = err instanceof SdpError ? err.message : String(err);
      this.log.warn({ callId: record.id, err: msg }, "outbound call answered with unusable sdp: bye");
      this.failure = { code: 488, reason: `Not Acceptable Here (${msg})` };
      record.hangupCause = { code: 488, reason: `Not Acceptable Here (${msg})`, source: "local" };
      this.setStatus("failed");
      record.endReason = "bad_answer_sdp";
      void sip.hangup();
      return;
    }
    this.lease.onPacket = null;
    record.codec = media.codec;
    this.setStatus("connected");
    this.session.answered();
    this.log.info({ callId: record.id, codec: media.codec, remote: media.remote, earlyMediaPackets: this.earlyPackets }, "outbound call answered");
    this.session.startMedia((lease, hooks) => {
      try {
        const handle = this.d.createMedia({ ...hooks, record, lease, media, system: this.system, llm: this.llm, sipCall: sip, answer: this.answer });
        this.media = handle;
        // The trunk's re-INVITEs/UPDATEs (hold, media moves, codec change) are answered from this call's
        // SDP session, which began with our offer (RFC 3264 §8).
        sip.media = new CallSessionDescription(
          SdpSession.fromOffer(this.offer, media, { localAddress: this.d.mediaAddress, localPort: lease.port }, answerSdp),
          { renegotiate: (m, prev) => handle.renegotiate?.(m, prev) },
          this.log,
          record.id,
        );
        return handle;
      } catch (err) {
        this.log.error({ callId: record.id, err: String(err) }, "outbound media setup failed: bye");
        record.hangupCause = { code: null, reason: `media setup failed: ${(err as Error).message}`, source: "local" };
        this.setStatus("failed");
        record.endReason = "error";
        throw err;
      }
    });
  }

  /**
   * The final status, cause and outcome, written once the session has released the media and port and
   * before it reports the end (store, metrics). Runs once per call.
   */
  private finish(reason: EndReason): void {
    const { record } = this;
    this.d.clock.clearTimer(this.ringTimer);
    const { status, cause } = finalOutcome({
      status: record.status ?? "initiating",
      endReason: record.endReason,
      sipReason: reason,
      failure: this.failure,
      cancelled: this.cancelled,
      gotProvisional: this.gotProvisional,
      responded: this.sip.hasResponse,
      packetsReceived: this.media?.packetsReceived,
    });
    if (reason === "timeout" || reason === "unreachable") record.endReason ??= "trunk_unreachable";
    if (status !== record.status) this.setStatus(status);
    record.hangupCause ??= cause;
    // The outcome is what the agent concluded with end_call, never its own last words (an opening line
    // spoken to nobody is not a result), and nothing when no audio came from the callee.
    if (record.answeredAt && status !== "no_media" && this.llm.endCallReason) {
      record.outcome = this.llm.endCallReason;
      record.outcomeSource = "end_call";
    }
    this.log.info(
      { callId: record.id, status: record.status, reason: record.endReason, cause: record.hangupCause, turns: record.turns.length, pii: { outcome: record.outcome } },
      "outbound call ended",
    );
  }

  private setStatus(to: CallStatus): void {
    this.record.status = nextStatus(this.record.status ?? "initiating", to);
  }
}
