/**
 * Inbound call set-up: admission (mode, trusted sources, draining/capacity/degraded), an RTP port, the system
 * prompt, the SDP answer (RFC 3264 §6) and our 2xx; media and providers start only when the ACK
 * confirms the dialog. Each call lives in a `CallSession` (record, port, media, end, observer).
 *
 * Why the ACK: a forged or abandoned INVITE must cost no STT/LLM/TTS session and no recogniser
 * process, only our 2xx retransmissions (RFC 3261 §13.3.1.4: the 2xx "MUST be passed to the transport
 * with an interval that starts at T1 seconds and doubles for each retransmission until it reaches T2
 * seconds"; "If the server retransmits the 2xx response for 64*T1 seconds without receiving an ACK, the
 * dialog is confirmed, but the session SHOULD be terminated"). The port then returns to the pool when
 * the SIP layer ends the call ("no_ack", Timer H = 64·T1), or sooner when a new INVITE needs its place
 * ("ack_given_up", ./unconfirmed.ts).
 *
 * Every path out of set-up releases what it took: CANCEL or BYE at any await point (the session is
 * released by the SIP "ended" event and each await is followed by a check), a failing prompt read (500),
 * an unusable offer (488), media that fails to start (BYE, reason "error"). An INVITE without an offer
 * gets ours in the 200 and the media starts from the answer in the ACK (./late-offer.ts; none usable →
 * BYE, reason "bad_answer_sdp").
 *
 *   const inbound = new InboundCalls({ … });
 *   ua delegate: onInvite: (call) => inbound.onInvite(call)
 */
import { randomUUID } from "node:crypto";
import type { CallRecord } from "../pipeline/call-record";
import type { ConversationSettings } from "../pipeline/agent-call";
import { CallSessionDescription, createAnswer, SdpError, SdpSession, type OfferResult } from "../sdp";
import { lateOffer, sessionFromAck } from "./late-offer";
import { RtpPortPoolError, type LatchMode, type Pacer, type RtpPortPool } from "../rtp";
import type { SileroVad } from "../media/vad/silero";
import { warningValue, type Address, type InboundCall, type InviteRefusal } from "../sip";
import type { Clock } from "../util/clock";
import { inRanges, parseIpv4Range } from "../util/ip-range";
import type { Logger } from "../util/log";
import type { Admission } from "./admission";
import { CallMedia, type CallMediaOptions, type CallProviders } from "./media";
import type { CallObserver } from "./observer";
import { CallSession, newCallRecord } from "./session";
import { transferHook, type TransferTargets } from "./transfer";
import type { BridgeLegs } from "./bridge-leg";
import { ackGraceMs, UnconfirmedCalls } from "./unconfirmed";
import { InviteScreen } from "./invite-screen";
import type { TeardownQueue } from "./teardown-queue";
import { T1 } from "../sip";

export interface InboundCallsOptions {
  log: Logger;
  /** RECORDING=on: where call recordings go (src/call/recording.ts). */
  recordingsDir?: string;
  clock: Clock;
  /** Store and metrics (src/call/observer.ts). */
  observer: CallObserver;
  /** Where RTP ports come from (the agent's RtpPortPool); `free` = ports not leased. */
  pool: Pick<RtpPortPool, "allocate" | "free">;
  pacer: Pacer;
  vad: SileroVad | null;
  providers: CallProviders & { describe: { stt: string; llm: string; tts: string } };
  /** `--mode`: inbound calls are refused (403) in "outbound" mode. */
  mode: string;
  /** SIP_TRUSTED_IPS: when non-empty, INVITEs from other addresses get 403. */
  trustedIps: readonly string[];
  /**
   * Draining, MAX_CALLS over both directions, degraded: the decision OPTIONS answers share (./admission.ts).
   * Its `active` must count confirmed calls only, not {@link InboundCalls.unconfirmed} ones: those take
   * the places left and are given up for a new INVITE (./unconfirmed.ts).
   */
  admission: Pick<Admission, "verdict" | "capacity">;
  /**
   * How long (ms) after our 2xx an unconfirmed call keeps its place against a new INVITE; default
   * {@link ackGraceMs}(T1) = 4 s (the agent passes 8·SIP_T1_MS).
   */
  ackGraceMs?: number;
  /** ACKs received and not yet handled (the SIP transport's `acksWaiting`): no call is given up meanwhile. */
  acksWaiting?: () => number;
  /**
   * SIP_MAX_PENDING_PER_SOURCE: calls offered but not yet confirmed by an ACK that one source IP address
   * may hold at once (default 10, ./unconfirmed.ts); further INVITEs from it get 503 (./invite-screen.ts).
   * Never more than half of MAX_CALLS (at least 1).
   */
  maxPendingPerSource?: number;
  /** Address in our SDP answer's `c=` line (SIP_PUBLIC_IP). */
  publicIp: string;
  /** The inbound system instruction (src/cli/prompts.ts). */
  systemPrompt(): Promise<string>;
  /** Turn-taking settings for the conversation. */
  settings?: Partial<ConversationSettings>;
  /** The caller-speech detector's configured options (src/call/media.ts). */
  detector?: CallMediaOptions["detector"];
  /** RTP inactivity limits (RTP_TIMEOUT_S, RTP_HOLD_TIMEOUT_S, RTP_START_TIMEOUT_S), ms. */
  rtpTimeout?: CallMediaOptions["rtpTimeout"];
  /** Which RTP sources a call may latch onto (RTP_LATCH); default `signalled`. */
  latchMode?: LatchMode;
  /** RTP_SILENCE_SUPPRESSION=on (src/rtp/silence-suppression.ts): CN accepted in our answers, idle ticks unsent. */
  silenceSuppression?: boolean;
  /** TRANSFER_TARGETS: names → SIP URI or E.164 (src/call/transfer.ts); none: no transfer_call tool. */
  transferTargets?: TransferTargets;
  /** Wait for a REFER's final NOTIFY, ms (TRANSFER_NOTIFY_TIMEOUT_S). */
  transferNotifyTimeoutMs?: number;
  /** TRANSFER_FALLBACK=bridge: a refused REFER is followed by a bridged call (src/call/transfer-bridge.ts). */
  bridgeLegs?: BridgeLegs;
  /** Where the work of a call's end that can wait runs (teardown-queue.ts); default: at once. */
  teardown?: TeardownQueue;
}

/** One live inbound call and what it holds. */
export interface LiveInbound {
  record: CallRecord;
  sip: InboundCall;
  session: CallSession;
  /** The media, once the ACK started it. */
  media?: CallMedia;
  /** Our answer (a late-offer INVITE: our `offer`, answered in the ACK, ./late-offer.ts) and the prompt, 2xx to ACK. */
  pending?: { sdp?: SdpSession; offer?: OfferResult; port: number; system: string };
}

export class InboundCalls {
  private readonly calls = new Map<string, LiveInbound>();
  /** Calls admitted and not yet confirmed by an ACK: being set up, or our 2xx awaiting it (./unconfirmed.ts). */
  readonly unconfirmed: UnconfirmedCalls;
  private readonly screen: InviteScreen;

  constructor(private readonly o: InboundCallsOptions) {
    this.unconfirmed = new UnconfirmedCalls({ clock: o.clock, graceMs: o.ackGraceMs ?? ackGraceMs(T1), acksWaiting: o.acksWaiting });
    this.screen = new InviteScreen({ ...o, unconfirmed: this.unconfirmed });
  }

  /** Live inbound calls (offered, being set up, or connected). */
  get size(): number {
    return this.calls.size;
  }

  /** The live inbound calls (a snapshot). */
  live(): LiveInbound[] {
    return [...this.calls.values()];
  }

  /**
   * The UA delegate's `screenInvite`: the 503 a new INVITE from `source` gets before any transaction
   * exists (sent statelessly by the UA, RFC 3261 §8.2.7), or undefined to let it through to `onInvite`.
   * Refused, in this order: the source holds its limit of unconfirmed calls (SIP_MAX_PENDING_PER_SOURCE,
   * Retry-After 5 s; ./invite-screen.ts); the admission verdict on the confirmed calls (draining,
   * full, degraded; ./admission.ts); no place left beside the confirmed calls and no unconfirmed call old
   * enough to give up for this one (./unconfirmed.ts; Retry-After: until one is). When one is old enough,
   * it is given up here (one BYE, reason "ack_given_up") and this INVITE takes its place; the same when
   * every RTP port is held. Cheap and synchronous; counted in metrics, logged at most a few lines per
   * kind (the logger's per-message rate limit), so a flood shows as a count, not a line per INVITE.
   */
  screenInvite(source: Address): InviteRefusal | undefined {
    return this.screen.refusal(source.host);
  }

  /**
   * The UA delegate's `onInvite`: admits or rejects the call, then sets it up in the background. The
   * screening of {@link screenInvite} is applied again here (for a UA without that delegate), as a 503
   * through the INVITE transaction.
   */
  onInvite(sip: InboundCall): void {
    const { log, observer } = this.o;
    const id = randomUUID();
    log.info({ callId: id, sipCallId: sip.callId, pii: { from: sip.from.uri, to: sip.to.uri } }, "call offered");
    // Every "call offered" line gets its "call ended", also for a call refused before it had a session.
    const endedRefused = (status: number) => log.info({ callId: id, reason: "rejected", status, turns: 0 }, "call ended");
    if (this.o.mode === "outbound") {
      sip.reject(403, "Forbidden", { Warning: '399 voice-agent "inbound calls are off (--mode outbound)"' });
      observer.callRefused("inbound", "rejected");
      log.warn({ callId: id }, "call rejected: inbound calls are off in outbound mode");
      endedRefused(403);
      return;
    }
    // The transport's SourceGate refuses untrusted requests before they get here; this is a second line.
    if (this.o.trustedIps.length > 0 && !inRanges(sip.remote.host, this.o.trustedIps.map(parseIpv4Range))) {
      sip.reject(403, "Forbidden");
      observer.callRefused("inbound", "rejected");
      log.warn({ callId: id, source: sip.remote.host }, "call rejected: source not in SIP_TRUSTED_IPS");
      endedRefused(403);
      return;
    }
    const refusal = this.screen.refusal(sip.remote.host);
    if (refusal) {
      sip.reject(refusal.status, undefined, Object.fromEntries(refusal.headers ?? []));
      endedRefused(refusal.status);
      return;
    }
    const record = newCallRecord(
      { direction: "inbound", sipCallId: sip.callId, from: sip.from.uri, to: sip.to.uri, providers: this.o.providers.describe },
      { id },
    );
    const session = new CallSession({
      record,
      observer,
      log,
      clock: this.o.clock,
      sip: { hangup: () => sip.hangup() },
      teardown: this.o.teardown,
      beforeEnded: (reason) =>
        log.info({ callId: id, reason: record.endReason ?? reason, turns: record.turns.length }, "call ended"),
      onReleased: () => {
        this.calls.delete(id);
        this.unconfirmed.done(id);
      },
    });
    const live: LiveInbound = { record, sip, session };
    this.calls.set(id, live);
    this.unconfirmed.add(id, sip.remote.host, () => {
      record.endReason = "ack_given_up"; // more precise than the SIP layer's "no_ack" (metrics, store)
      if (sip.giveUp()) return true;
      record.endReason = undefined;
      return false;
    });
    sip.on("answered", () => this.unconfirmed.answered(id));
    sip.on("ended", (reason) => {
      this.unconfirmed.done(id);
      session.release(reason);
    });
    sip.on("confirmed", () => this.unconfirmed.done(id));
    sip.on("confirmed", session.guard("ack", (ackSdp: string | undefined) => this.onConfirmed(live, ackSdp)));
    sip.on("dtmf", session.guard("dtmf", (key: string) => live.media?.onDtmf(key)));
    this.setUp(live).catch((err) => {
      log.error({ callId: id, err: String(err) }, "call setup failed");
      record.endReason ??= "error";
      if (sip.state === "offered") sip.reject(500, "Server Internal Error");
      void session.end("error");
    });
  }

  /**
   * Port, prompt, answer, 2xx. After each await the call may be over (CANCEL, BYE): then the session
   * has released everything and set-up stops.
   */
  private async setUp(live: LiveInbound): Promise<void> {
    const { log } = this.o;
    const { sip, record, session } = live;
    this.o.providers.llm.prepare?.(); // the greeting's request goes out at the ACK: no handshake then
    let lease;
    try {
      lease = await this.o.pool.allocate();
    } catch (err) {
      // No port now (the range is leased, or no file descriptor is left): 503, not 500. RFC 3261 §21.5.4: "The
      // server is temporarily unable to process the request due to a temporary overloading or maintenance".
      if (err instanceof RtpPortPoolError && err.retryable) {
        sip.reject(503, "Service Unavailable", { "Retry-After": err.code === "exhausted" ? "30" : "5" });
        log.warn({ callId: record.id, code: err.code }, "call rejected: no rtp port");
        return;
      }
      throw err;
    }
    if (!session.holdLease(lease)) return; // ended while the port was bound
    const system = await this.o.systemPrompt();
    if (session.isReleased) return; // ended while the prompt was read
    if (!sip.offerSdp) {
      // Late offer: ours goes in the 200, the caller's answer comes in the ACK (./late-offer.ts).
      const offer = lateOffer(this.o.publicIp, lease.port);
      live.pending = { offer, port: lease.port, system };
      if (!sip.accept(offer.sdp)) void session.end("error");
      return;
    }
    let answer;
    try {
      answer = createAnswer({ offer: sip.offerSdp, localAddress: this.o.publicIp, localPort: lease.port, bindAddress: lease.host, comfortNoise: this.o.silenceSuppression });
    } catch (err) {
      if (err instanceof SdpError) {
        // §20.43: 305 "Incompatible media format", else 399 "Miscellaneous warning"; the text may quote the offer.
        sip.reject(488, "Not Acceptable Here", { Warning: warningValue(err.code === "no_common_codec" ? 305 : 399, err.message) });
        log.warn({ callId: record.id, code: err.code, reason: err.message }, "call rejected: sdp");
        return;
      }
      throw err;
    }
    // re-INVITE/UPDATE offers (hold, resume, moved media, codec change) are answered from the call's
    // SDP session and applied to its media once it runs (RFC 3264 §8); the media starts from the
    // session's current state, so an offer taken before the ACK is not lost.
    const sdp = SdpSession.fromAnswer(answer, { localAddress: this.o.publicIp, localPort: lease.port, bindAddress: lease.host, comfortNoise: this.o.silenceSuppression }, sip.offerSdp);
    sip.media = new CallSessionDescription(sdp, { renegotiate: (m, prev) => live.media?.renegotiate(m, prev) }, log, record.id);
    live.pending = { sdp, port: lease.port, system };
    if (!sip.accept(answer.sdp)) void session.end("error");
  }

  /** The ACK confirmed the dialog: the call is connected; media and providers start now. */
  private onConfirmed(live: LiveInbound, ackSdp: string | undefined): void {
    const { record, session, pending } = live;
    if (!pending) return;
    if (pending.offer) {
      try {
        pending.sdp = sessionFromAck(pending.offer, ackSdp, { localAddress: this.o.publicIp, localPort: pending.port });
      } catch (err) {
        if (!(err instanceof SdpError)) throw err;
        this.o.log.warn({ callId: record.id, code: err.code, reason: err.message }, "late-offer call: no usable answer in the ack: bye");
        record.endReason = "bad_answer_sdp";
        return void session.end("bad_answer_sdp");
      }
      const sdp = pending.sdp;
      live.sip.media = new CallSessionDescription(sdp, { renegotiate: (m, prev) => live.media?.renegotiate(m, prev) }, this.o.log, record.id);
    }
    const sdp = pending.sdp!;
    session.answered();
    this.o.log.info({ callId: record.id, codec: sdp.media.codec, rtpPort: pending.port, lateOffer: !!pending.offer || undefined }, "call answered");
    session.startMedia((lease, hooks) => {
      live.media = new CallMedia({
        ...hooks,
        record,
        lease,
        media: sdp.media,
        signallingAddress: live.sip.remote.host,
        advertisedAddress: this.o.publicIp,
        latchMode: this.o.latchMode,
        silenceSuppression: this.o.silenceSuppression,
        pacer: this.o.pacer,
        log: this.o.log,
        providers: this.o.providers,
        vad: this.o.vad,
        system: pending.system,
        settings: this.o.settings,
        detector: this.o.detector,
        rtpTimeout: this.o.rtpTimeout,
        recordingsDir: this.o.recordingsDir,
        transfer: transferHook({
          call: live.sip,
          targets: this.o.transferTargets,
          peerHost: live.sip.remote.host,
          clock: hooks.clock,
          notifyTimeoutMs: this.o.transferNotifyTimeoutMs,
          record,
          onRecordChanged: hooks.onRecordChanged,
          log: this.o.log,
          fallback: this.o.bridgeLegs ? { legs: this.o.bridgeLegs, media: () => live.media } : undefined,
        }),
      });
      return live.media;
    });
  }

  /** Ends a call now (shutdown): BYE or rejection as its state allows, everything released. */
  end(live: LiveInbound, reason: string): Promise<void> {
    return live.session.end(reason);
  }

  /**
   * Ends every live call politely (shutdown, reason "shutdown"): a call whose media runs hears a short
   * goodbye and gets its BYE after the last packet of it; a call not yet confirmed is ended at once.
   * Whatever is still up after `goodbyeMs` is ended then (each end bounded by the session's teardown
   * limit). Resolves when every call is released.
   */
  async endAll(goodbyeMs: number): Promise<void> {
    for (const c of this.live()) {
      c.record.endReason ??= "shutdown";
      if (c.media) c.media.conversation.endPolitely();
      else void c.session.end("shutdown");
    }
    const deadline = Date.now() + goodbyeMs;
    while (this.calls.size > 0 && Date.now() < deadline) await Bun.sleep(50);
    await Promise.all(this.live().map((c) => c.session.end("shutdown")));
  }
}
