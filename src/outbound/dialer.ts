/**
 * Places outbound calls through the SIP trunk and runs each one to its end: INVITE with our SDP offer
 * (RFC 3264 §5) and digest credentials (RFC 3261 §22.2, answered by the SIP layer), status from the
 * responses, CANCEL when nobody answers within the ring timeout (§9.1), media + conversation on 2xx,
 * hang-up cause and outcome recorded, every resource released on every path out.
 *
 *   const dialer = new OutboundDialer({ ua, store, clock, log, trunk, callerId, … });
 *   const record = await dialer.place({ phoneNumber: "+14155550100", openingReason: "…", objective: "…" });
 *   dialer.hangup(record.id);
 *
 * Limits: MAX_OUTBOUND_CALLS live calls, OUTBOUND_CALLS_PER_MINUTE starts per sliding minute; refusals
 * are `OutboundError` ("at_capacity", "rate_limited", …), never a half-made call.
 *
 * Each call's record, port, media and end live in a `CallSession` (src/call/session.ts), which reports
 * to the same `CallObserver` as inbound calls (store and metrics: outbound calls show in /metrics).
 */
import type { CallRecord, CallRecordStore, CallStatus } from "../pipeline/call-record";
import type { LlmProvider } from "../providers/types";
import { RtpPortPoolError, type RtpPortLease } from "../rtp";
import { CallSessionDescription, createOffer, parseAnswer, SdpError, SdpSession, type NegotiatedMedia, type OfferResult } from "../sdp";
import type { DigestCredentials, EndReason, InviteOptions, OutboundCall } from "../sip";
import type { Clock, TimerHandle } from "../util/clock";
import type { Logger } from "../util/log";
import { CallSession, newCallRecord, type MediaHooks, type SessionMedia } from "../call/session";
import { storeObserver, type CallObserver } from "../call/observer";
import type { DestinationPolicy } from "./destination-policy";
import { OutboundError } from "./errors";
import { OpeningLlm, buildOpening } from "./opening";
import { validatePlaceRequest, type PlaceCallRequest } from "./request";
import { SlidingWindowLimiter } from "./rate-limit";
import { finalOutcome } from "./outcome";
import { nextStatus, type CancelCause } from "./status";

/** A started call's media and conversation (CallMedia in production). */
export interface MediaHandle extends SessionMedia {
  /** Follows a re-INVITE/UPDATE from the trunk (address, hold, codec); absent → the media stays as it is. */
  renegotiate?(media: NegotiatedMedia, previous: NegotiatedMedia): void;
  /** A DTMF key the callee sent in a SIP INFO (RFC 4733 keys arrive on the RTP side itself). */
  onDtmf?(key: string): void;
  /** RTP packets accepted from the callee so far; absent = not counted (then no no_media status). */
  readonly packetsReceived?: number;
}

/**
 * What `createMedia` gets once the callee answered: the call's facts, and the session's hooks (per-call
 * clock, hang-up, turn, barge-in, provider error, and `onError` for what the conversation cannot handle).
 */
export interface MediaRequest extends MediaHooks {
  record: CallRecord;
  /** The RTP port the offer named; the media takes it over and releases it on close. */
  lease: RtpPortLease;
  media: NegotiatedMedia;
  /** System instruction (objective included). */
  system: string;
  /** The LLM to converse with: speaks the opening first (OpeningLlm). */
  llm: LlmProvider;
  /** The call's SIP side, for a transfer by REFER (src/call/transfer.ts). */
  sipCall: OutboundCall;
}

export interface OutboundDialerDeps {
  ua: { invite(opts: InviteOptions): OutboundCall };
  store: CallRecordStore;
  /** Where each call is reported (store and metrics); default: the store alone. */
  observer?: CallObserver;
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
  maxCalls: number;
  callsPerMinute: number;
  allocatePort(): Promise<RtpPortLease>;
  /** The system instruction for a call's objective (src/cli/prompts.ts). */
  systemPrompt(objective: string): Promise<string>;
  llm: LlmProvider;
  /**
   * The LLM for one call, when it depends on the call (the scripted engine's outbound dialogue, filled
   * with the call's objective and opening); absent → `llm`.
   */
  outboundLlm?: (call: { objective: string; opening: string }) => LlmProvider;
  createMedia(req: MediaRequest): MediaHandle;
  /** Numbers calls may go to (OUTBOUND_ALLOW_PREFIXES / OUTBOUND_DENY_PREFIXES); undefined allows all. */
  destinations?: DestinationPolicy;
  /** Server-wide admission (total capacity); returns a refusal, or undefined to go ahead. */
  admit?(): OutboundError | undefined;
  providers?: { stt: string; llm: string; tts: string };
}

interface LiveOutbound {
  record: CallRecord;
  sip: OutboundCall;
  session: CallSession;
  lease: RtpPortLease;
  llm: OpeningLlm;
  system: string;
  media?: MediaHandle;
  /** Our INVITE's offer: the start of the call's SDP session. */
  offer: OfferResult;
  ringTimer?: TimerHandle;
  /** Why we asked for CANCEL, if we did. */
  cancelled?: CancelCause;
  /** The final non-2xx that ended the attempt (or 408 for Timer B). */
  failure?: { code: number; reason: string };
  gotProvisional: boolean;
  /** RING_TIMEOUT_S passed before any response: cancel as soon as one arrives (§9.1). */
  ringExpired?: boolean;
  /** SDP of a 183 (early media); used if the 2xx repeats none. */
  earlySdp?: string;
  earlyPackets: number;
}

export class OutboundDialer {
  private readonly live = new Map<string, LiveOutbound>();
  private readonly limiter: SlidingWindowLimiter;
  /** Calls admitted but not yet INVITEd (port allocation, prompt). */
  private pending = 0;
  private draining = false;
  private readonly observer: CallObserver;

  constructor(private readonly d: OutboundDialerDeps) {
    this.limiter = new SlidingWindowLimiter(d.callsPerMinute, d.clock);
    this.observer = d.observer ?? storeObserver(d.store);
  }

  /** Live outbound calls (INVITE sent, not ended) plus those being set up. */
  get activeCalls(): number {
    return this.live.size + this.pending;
  }

  /**
   * Validates the request, checks the limits, allocates an RTP port and sends the INVITE. Resolves with
   * the new record (status "initiating") as soon as the INVITE is out; the call goes on in the background.
   * @throws OutboundError invalid_request (with `field`), destination_not_allowed (field phone_number),
   *   draining, at_capacity, rate_limited (with `retryAfterMs`), no_media_port.
   */
  async place(input: PlaceCallRequest): Promise<CallRecord> {
    const req = validatePlaceRequest(input);
    const notAllowed = this.d.destinations?.check(req.phoneNumber);
    if (notAllowed) throw new OutboundError("destination_not_allowed", `phone_number: ${notAllowed}`, { field: "phone_number" });
    if (this.draining) throw new OutboundError("draining", "the agent is shutting down; no new calls");
    const refusal = this.d.admit?.();
    if (refusal) {
      if (refusal.code === "at_capacity") this.observer.callRefused("outbound", "busy");
      throw refusal;
    }
    if (this.activeCalls >= this.d.maxCalls) {
      this.observer.callRefused("outbound", "busy");
      throw new OutboundError("at_capacity", `${this.d.maxCalls} outbound calls are live (MAX_OUTBOUND_CALLS)`);
    }
    const rate = this.limiter.tryAcquire();
    if (!rate.ok) {
      throw new OutboundError("rate_limited", `more than ${this.d.callsPerMinute} calls in a minute (OUTBOUND_CALLS_PER_MINUTE)`, {
        retryAfterMs: rate.retryAfterMs,
      });
    }
    this.pending++;
    let lease: RtpPortLease | undefined;
    let system: string;
    try {
      lease = await this.d.allocatePort();
      system = await this.d.systemPrompt(req.objective);
    } catch (err) {
      lease?.release();
      if (err instanceof RtpPortPoolError && err.code === "exhausted") {
        this.observer.callRefused("outbound", "busy");
        throw new OutboundError("no_media_port", "no free RTP port");
      }
      throw err;
    } finally {
      this.pending--;
    }
    if (this.draining) {
      lease.release();
      throw new OutboundError("draining", "the agent is shutting down; no new calls");
    }
    return this.invite(req, lease, system);
  }

  /**
   * Ends a live call: CANCEL before answer (status canceled), BYE after (status completed). Before any
   * response from the trunk no CANCEL may be sent (§9.1): the call ends as canceled at once and the
   * SIP layer deals with whatever the INVITE still brings (src/sip/ua/outbound-call.ts cancel()). Returns the record, or undefined when the id is unknown. A call
   * already ended is returned unchanged (from a synchronous store; undefined from PostgreSQL).
   */
  hangup(id: string): CallRecord | undefined {
    const live = this.live.get(id);
    if (!live) {
      // Not live: nothing to end. The stored record when the store answers at once (memory, SQLite);
      // with PostgreSQL the caller (the HTTP route) already holds the record it read.
      const stored = this.d.store.get(id);
      return stored instanceof Promise ? undefined : stored;
    }
    const { record, sip } = live;
    if (record.status === "connected") {
      void live.session.end("api_hangup");
    } else {
      live.cancelled ??= "api";
      record.endReason ??= "api_cancel";
      sip.cancel();
    }
    this.d.log.info({ callId: id, status: record.status }, "outbound call hang-up requested");
    return record;
  }

  /** Refuses new calls from now on (OutboundError "draining"); live calls go on. */
  drain(): void {
    this.draining = true;
  }

  /** Refuses new calls, then cancels or hangs up every live one; resolves when all ended or after `ms`. */
  async shutdown(ms: number): Promise<void> {
    this.draining = true;
    const ends = [...this.live.values()].map((live) => {
      if (live.record.status === "connected") {
        live.record.endReason ??= "shutdown";
        void live.sip.hangup();
      } else {
        live.cancelled ??= "shutdown";
        live.record.endReason ??= "shutdown";
        live.sip.cancel();
      }
      return live.sip.done;
    });
    let timer: TimerHandle | undefined;
    await Promise.race([Promise.all(ends), new Promise<void>((r) => (timer = this.d.clock.setTimer(ms, r)))]);
    this.d.clock.clearTimer(timer);
    for (const live of [...this.live.values()]) live.session.release("local_bye");
  }

  // ---------------------------------------------------------------- call life

  private invite(req: ReturnType<typeof validatePlaceRequest>, lease: RtpPortLease, system: string): CallRecord {
    const { trunk, callerId, log } = this.d;
    const hostPort = trunk.port === 5060 ? trunk.host : `${trunk.host}:${trunk.port}`;
    const requestUri = `sip:${req.phoneNumber}@${hostPort}`;
    const from = `sip:${callerId}@${trunk.host}`;
    const offer = createOffer({ localAddress: this.d.mediaAddress, localPort: lease.port });
    let sip: OutboundCall;
    try {
      sip = this.d.ua.invite({ requestUri, from, offerSdp: offer.sdp, proxy: { host: trunk.host, port: trunk.port }, credentials: this.d.credentials });
    } catch (err) {
      lease.release();
      throw new OutboundError("invalid_request", `cannot build the INVITE: ${(err as Error).message}`, { field: "phone_number" });
    }
    const opening = buildOpening(req.openingReason);
    const record = newCallRecord(
      { direction: "outbound", sipCallId: sip.callId, from, to: requestUri, providers: this.d.providers },
      { status: "initiating", openingReason: req.openingReason, objective: req.objective, metadata: req.metadata },
    );
    const session = new CallSession({
      record,
      observer: this.observer,
      log,
      clock: this.d.clock,
      // Before the answer the SIP side is ended by CANCEL (§9.1), after it by BYE.
      sip: { hangup: () => (record.status === "connected" ? sip.hangup() : (sip.cancel(), sip.done.then(() => {}))) },
      beforeEnded: (reason) => this.finish(live, reason as EndReason),
      onReleased: () => this.live.delete(record.id),
    });
    session.holdLease(lease);
    const live: LiveOutbound = {
      record,
      sip,
      session,
      lease,
      llm: new OpeningLlm(this.d.outboundLlm?.({ objective: req.objective, opening }) ?? this.d.llm, opening),
      system: `${system}\n\nYou have already opened the call by saying: "${opening}"`,
      offer,
      gotProvisional: false,
      earlyPackets: 0,
    };
    this.live.set(record.id, live);
    log.info({ callId: record.id, sipCallId: sip.callId, trunk: hostPort, pii: { to: req.phoneNumber } }, "outbound call placed");

    sip.on("trying", session.guard("trying", () => this.cancelIfRingExpired(live))); // ring time over before any response: CANCEL now
    sip.on("provisional", session.guard("provisional", (code: number, reason: string, sdp: string | undefined) => this.onProvisional(live, code, reason, sdp)));
    sip.on("answered", session.guard("answer", (sdp: string) => this.onAnswered(live, sdp)));
    sip.on("failed", (code, reason) => {
      live.failure = { code, reason };
    });
    sip.on("ended", (reason) => session.release(reason));
    sip.on("dtmf", session.guard("dtmf", (key: string) => live.media?.onDtmf?.(key)));
    // No answer within RING_TIMEOUT_S → CANCEL (sent once a provisional has arrived, §9.1). With no
    // response at all the trunk is not ringing anything: Timer B (or ICMP) ends the call as unreachable,
    // and a response arriving late gets the CANCEL then.
    live.ringTimer = session.clock.setTimer(this.d.ringTimeoutMs, () => {
      live.ringTimer = undefined;
      if (session.isReleased || record.status === "connected") return;
      if (!sip.hasResponse) {
        live.ringExpired = true;
        log.info({ callId: record.id, ringTimeoutMs: this.d.ringTimeoutMs }, "outbound call: ring timeout with no response from the trunk yet");
        return;
      }
      live.ringExpired = true;
      this.cancelIfRingExpired(live);
    });
    return record;
  }

  private cancelIfRingExpired(live: LiveOutbound): void {
    const { record, sip } = live;
    if (!live.ringExpired || live.session.isReleased || record.status === "connected" || live.cancelled) return;
    live.cancelled = "ring_timeout";
    record.endReason ??= "ring_timeout";
    this.d.log.info({ callId: record.id, ringTimeoutMs: this.d.ringTimeoutMs, provisional: live.gotProvisional }, "outbound call not answered: cancel");
    sip.cancel();
  }

  private onProvisional(live: LiveOutbound, code: number, reason: string, sdp: string | undefined): void {
    const { record } = live;
    live.gotProvisional = true;
    this.cancelIfRingExpired(live);
    if (record.status === "initiating") {
      this.setStatus(record, "ringing");
      record.ringingAt = new Date().toISOString();
      live.session.updated();
    }
    // 183 with SDP: early media (ringback, announcements). RTP is received on our port and dropped; the
    // call is not answered until a 2xx (RFC 3261 §13.2.1; RFC 3960 §3).
    if (sdp && !live.earlySdp) {
      live.earlySdp = sdp;
      live.lease.onPacket = () => {
        live.earlyPackets++;
      };
    }
    this.d.log.info({ callId: record.id, status: code, reason, earlyMedia: !!sdp }, "outbound call progress");
  }

  private onAnswered(live: LiveOutbound, sdp: string): void {
    const { record, sip } = live;
    this.d.clock.clearTimer(live.ringTimer);
    live.ringTimer = undefined;
    if (live.session.isReleased) return;
    let media: NegotiatedMedia;
    try {
      // RFC 3261 §13.2.1: the answer may have come in an unreliable 183 and not be repeated.
      media = parseAnswer(sdp.trim() ? sdp : (live.earlySdp ?? ""), { codecs: ["PCMU", "PCMA"] });
    } catch (err) {
      const msg = err instanceof SdpError ? err.message : String(err);
      this.d.log.warn({ callId: record.id, err: msg }, "outbound call answered with unusable sdp: bye");
      live.failure = { code: 488, reason: `Not Acceptable Here (${msg})` };
      record.hangupCause = { code: 488, reason: `Not Acceptable Here (${msg})`, source: "local" };
      this.setStatus(record, "failed");
      record.endReason = "bad_answer_sdp";
      void sip.hangup();
      return;
    }
    live.lease.onPacket = null;
    record.codec = media.codec;
    this.setStatus(record, "connected");
    live.session.answered();
    this.d.log.info(
      { callId: record.id, codec: media.codec, remote: media.remote, earlyMediaPackets: live.earlyPackets },
      "outbound call answered",
    );
    live.session.startMedia((lease, hooks) => {
      try {
        const handle = this.d.createMedia({ ...hooks, record, lease, media, system: live.system, llm: live.llm, sipCall: sip });
        live.media = handle;
        // The trunk's re-INVITEs/UPDATEs (hold, media moves, codec change) are answered from this call's
        // SDP session, which began with our offer (RFC 3264 §8).
        sip.media = new CallSessionDescription(
          SdpSession.fromOffer(live.offer, media, { localAddress: this.d.mediaAddress, localPort: lease.port }),
          { renegotiate: (m, prev) => handle.renegotiate?.(m, prev) },
          this.d.log,
          record.id,
        );
        return handle;
      } catch (err) {
        this.d.log.error({ callId: record.id, err: String(err) }, "outbound media setup failed: bye");
        record.hangupCause = { code: null, reason: `media setup failed: ${(err as Error).message}`, source: "local" };
        this.setStatus(record, "failed");
        record.endReason = "error";
        throw err;
      }
    });
  }

  /**
   * The final status, cause and outcome, written once the session has released the media and port and
   * before it reports the end (store, metrics). Runs once per call.
   */
  private finish(live: LiveOutbound, reason: EndReason): void {
    const { record } = live;
    this.d.clock.clearTimer(live.ringTimer);

    const { status, cause } = finalOutcome({
      status: record.status ?? "initiating",
      endReason: record.endReason,
      sipReason: reason,
      failure: live.failure,
      cancelled: live.cancelled,
      gotProvisional: live.gotProvisional,
      responded: live.sip.hasResponse,
      packetsReceived: live.media?.packetsReceived,
    });
    if (reason === "timeout" || reason === "unreachable") record.endReason ??= "trunk_unreachable";
    if (status !== record.status) this.setStatus(record, status);
    record.hangupCause ??= cause;
    // The outcome is what the agent concluded with end_call, never its own last words (an opening line
    // spoken to nobody is not a result), and nothing when no audio came from the callee.
    if (record.answeredAt && status !== "no_media" && live.llm.endCallReason) {
      record.outcome = live.llm.endCallReason;
      record.outcomeSource = "end_call";
    }
    this.d.log.info(
      {
        callId: record.id,
        status: record.status,
        reason: record.endReason,
        cause: record.hangupCause,
        turns: record.turns.length,
        pii: { outcome: record.outcome },
      },
      "outbound call ended",
    );
  }

  private setStatus(record: CallRecord, to: CallStatus): void {
    record.status = nextStatus(record.status ?? "initiating", to);
  }
}
