/**
 * The second leg of a B2BUA transfer (TRANSFER_FALLBACK=bridge, src/call/transfer-bridge.ts): an
 * outbound call from the agent to the transfer target through the SIP trunk, with no conversation of
 * its own — its RTP session only receives frames for the bridge and sends the caller's.
 *
 * Signalling is the outbound UAC the dialer uses (UserAgent.invite): INVITE with our offer (RFC 3264 §5)
 * to the trunk as next hop, the trunk's digest challenge answered (RFC 3261 §22.2), CANCEL when nobody
 * answers within the ring timeout (§9.1), BYE to end it. Destinations obey OUTBOUND_ALLOW_PREFIXES /
 * OUTBOUND_DENY_PREFIXES (`checkDestination`). The leg is a call of its own for the store and metrics
 * (direction "outbound", `metadata.bridge_of` = the caller's call id), with its CallSession releasing
 * the port on every path out.
 *
 *   const r = await legs.dial({ parent: record, target: "sales", uri, onFrame, onDtmf, signal });
 *   if (r.ok) { r.leg.rtp.sendFrame(…); r.leg.ended.then(…); await r.leg.end("caller_hangup"); }
 */
import type { CallRecord, CallStatus } from "../pipeline/call-record";
import type { AudioFrame } from "../media/constants";
import { DtmfSender, RtpPortPoolError, RtpSession, type LatchMode, type Pacer, type PacerSource, type RtpPortLease } from "../rtp";
import { CallSessionDescription, createOffer, parseAnswer, SdpSession, type NegotiatedMedia, type OfferResult } from "../sdp";
import { RING_TIMEOUT_DRAIN_MAX_MS, type DigestCredentials, type InviteOptions, type OutboundCall } from "../sip";
import type { Clock } from "../util/clock";
import type { Logger } from "../util/log";
import type { CallObserver } from "./observer";
import { CallSession, newCallRecord, type SessionMedia } from "./session";

/** Server-wide facts a bridge leg needs (the trunk and outbound settings, shared resources). */
export interface BridgeLegDeps {
  ua: { invite(opts: InviteOptions): OutboundCall };
  /** Next hop of the INVITE (SIP_TRUNK_HOST, SIP_TRUNK_PORT). */
  trunk: { host: string; port: number };
  /** From user part (SIP_CALLER_ID). */
  callerId: string;
  credentials?: DigestCredentials;
  /** Address in our SDP `c=` line (SIP_PUBLIC_IP). */
  mediaAddress: string;
  allocatePort(): Promise<RtpPortLease>;
  /** OUTBOUND_ALLOW/DENY_PREFIXES for an E.164 number: the refusal, or undefined when allowed. */
  checkDestination?(number: string): string | undefined;
  /** No final answer within this (ms) → CANCEL (RING_TIMEOUT_S). */
  ringTimeoutMs: number;
  /** Drives the leg's DTMF sender (20 ms ticks). */
  pacer: Pacer;
  latchMode?: LatchMode;
  observer: CallObserver;
  log: Logger;
  clock: Clock;
}

export interface DialRequest {
  /** The caller's call (its record id goes into the leg's `metadata.bridge_of`). */
  parent: CallRecord;
  /** The configured target name (TRANSFER_TARGETS). */
  target: string;
  /** Request-URI: the target's SIP URI, or `sip:+E164@trunk`. */
  uri: string;
  /** Each audio frame the target sends (the bridge forwards it to the caller). */
  onFrame(frame: AudioFrame): void;
  /** Each DTMF key the target sends (RFC 4733 or SIP INFO). */
  onDtmf?(key: string): void;
  /** Aborted when the caller's call ends while the leg rings: the leg is cancelled. */
  signal: AbortSignal;
  /** The INVITE is out: the leg's call record id. */
  onPlaced?(legCallId: string): void;
}

/** A connected leg. */
export interface BridgeLeg {
  readonly record: CallRecord;
  /** The leg's RTP session: `sendFrame` sends to the target with this leg's SSRC/sequence/timestamp. */
  readonly rtp: RtpSession;
  /** DTMF towards the target (RFC 4733, sent on the pacer's ticks). */
  readonly dtmfOut: DtmfSender;
  /** Resolves with the SIP end reason once the leg is over (either side's BYE, a failure). */
  readonly ended: Promise<string>;
  /** Ends the leg (BYE) with `reason` recorded; resolves when done or after the teardown limit. */
  end(reason: string): Promise<void>;
}

export type DialResult =
  | { ok: true; leg: BridgeLeg }
  /** `status`: the final SIP status that refused the leg (486, 603…; 487 after our CANCEL), if any. */
  | { ok: false; status?: number; reason: string };

/** The final status of an unanswered leg from its SIP answer (as the dialer's outcome does). */
function failedStatus(code: number | undefined, cancelled: boolean): CallStatus {
  if (code === 486 || code === 600) return "busy";
  if (code === 603) return "declined";
  if (cancelled || code === 408 || code === 480 || code === 487) return "no_answer";
  return "failed";
}

/** The leg's media: an RTP session and a DTMF sender, no conversation. */
class LegMedia implements SessionMedia, PacerSource {
  readonly dtmfOut: DtmfSender;
  constructor(
    readonly session: RtpSession,
    private readonly pacer: Pacer,
  ) {
    this.dtmfOut = new DtmfSender(session);
  }
  start(): void {
    this.pacer.add(this);
  }
  onTick(): void {
    this.dtmfOut.tick();
  }
  close(): void {
    this.pacer.remove(this);
    this.session.close();
  }
}

export class BridgeLegs {
  private live = 0;

  constructor(private readonly d: BridgeLegDeps) {}

  /**
   * Legs placed and not yet over. They count as calls for admission (MAX_CALLS: each relays RTP on a
   * port of its own), but a leg is never refused for capacity: it continues a call already admitted.
   */
  get active(): number {
    return this.live;
  }

  /** The Request-URI for a configured target: a SIP URI as is, an E.164 number at the trunk. */
  requestUri(target: string): string {
    if (!target.startsWith("+")) return target;
    const { host, port } = this.d.trunk;
    return `sip:${target}@${port === 5060 ? host : `${host}:${port}`}`;
  }

  /**
   * Places the leg and resolves once it is answered (ok, media running) or over (not ok: refused,
   * busy, not answered in time, cancelled because the caller left, no port). Never rejects.
   */
  async dial(req: DialRequest): Promise<DialResult> {
    const { d } = this;
    const user = /^sips?:([^@;]+)@/i.exec(req.uri)?.[1];
    if (user && /^\+\d+$/.test(user)) {
      const refusal = d.checkDestination?.(user);
      if (refusal) return { ok: false, reason: `destination not allowed: ${refusal}` };
    }
    let lease: RtpPortLease;
    try {
      lease = await d.allocatePort();
    } catch (err) {
      if (err instanceof RtpPortPoolError) return { ok: false, reason: "no free RTP port" };
      throw err;
    }
    if (req.signal.aborted) {
      lease.release();
      return { ok: false, reason: "caller hung up" };
    }
    const offer = createOffer({ localAddress: d.mediaAddress, localPort: lease.port });
    const from = `sip:${d.callerId}@${d.trunk.host}`;
    let sip: OutboundCall;
    try {
      sip = d.ua.invite({ requestUri: req.uri, from, offerSdp: offer.sdp, proxy: d.trunk, credentials: d.credentials });
    } catch (err) {
      lease.release();
      return { ok: false, reason: `cannot build the INVITE: ${(err as Error).message}` };
    }
    return this.run(req, sip, lease, offer, from);
  }

  private run(req: DialRequest, sip: OutboundCall, lease: RtpPortLease, offer: OfferResult, from: string): Promise<DialResult> {
    const { d } = this;
    const record = newCallRecord(
      { direction: "outbound", sipCallId: sip.callId, from, to: req.uri },
      { status: "initiating", metadata: { bridge_of: req.parent.id, transfer_target: req.target } },
    );
    let failure: { code: number; reason: string } | undefined;
    let cancelled = false;
    let media: LegMedia | undefined;
    let settle!: (r: DialResult) => void;
    const result = new Promise<DialResult>((r) => (settle = r));
    let endedResolve!: (reason: string) => void;
    const ended = new Promise<string>((r) => (endedResolve = r));
    const session = new CallSession({
      record,
      observer: d.observer,
      log: d.log,
      clock: d.clock,
      // Before the answer the leg is ended by CANCEL (§9.1), after it by BYE.
      sip: { hangup: () => (record.status === "connected" ? sip.hangup() : (sip.cancel(), sip.done.then(() => {}))) },
      beforeEnded: (reason) => {
        if (record.status === "connected") record.status = "completed";
        else {
          record.status = record.endReason === "caller_hangup" ? "canceled" : failedStatus(failure?.code, cancelled);
          record.hangupCause ??= failure ? { code: failure.code, reason: failure.reason, source: "remote" } : { code: null, reason, source: "local" };
        }
        d.log.info({ callId: record.id, bridgeOf: req.parent.id, status: record.status, reason: record.endReason ?? reason }, "bridge leg ended");
      },
      onReleased: () => {
        this.live--;
        clearRing();
        req.signal.removeEventListener("abort", onAbort);
        settle({ ok: false, status: failure?.code, reason: failure ? `${failure.code} ${failure.reason}` : (record.endReason ?? "ended") });
        endedResolve(record.endReason ?? "ended");
      },
    });
    session.holdLease(lease);
    this.live++;
    req.onPlaced?.(record.id);
    // As an outbound call's (src/outbound/attempt.ts): the responses already received are handled first,
    // for at most RING_TIMEOUT_DRAIN_MAX_MS, so a 2xx waiting in a starved agent's queue is not CANCELled.
    const ring = session.clock.setTimer(d.ringTimeoutMs, () =>
      sip.afterReceivedWithin(RING_TIMEOUT_DRAIN_MAX_MS, () => {
        if (session.isReleased || record.status === "connected") return;
        cancelled = true;
        record.endReason ??= "ring_timeout";
        d.log.info({ callId: record.id, ringTimeoutMs: d.ringTimeoutMs }, "bridge leg not answered: cancel");
        sip.cancel();
      }),
    );
    const clearRing = () => d.clock.clearTimer(ring);
    const onAbort = () => void session.end("caller_hangup");
    req.signal.addEventListener("abort", onAbort, { once: true });
    d.log.info({ callId: record.id, bridgeOf: req.parent.id, target: req.target, sipCallId: sip.callId, pii: { uri: req.uri } }, "bridge leg placed");

    sip.on("provisional", session.guard("provisional", () => {
      if (record.status !== "initiating") return;
      record.status = "ringing";
      record.ringingAt = new Date().toISOString();
      session.updated();
    }));
    sip.on("failed", (code, reason) => {
      failure = { code, reason };
    });
    sip.on("ended", (reason) => session.release(reason));
    sip.on("dtmf", session.guard("dtmf", (key: string) => req.onDtmf?.(key)));
    sip.on("answered", session.guard("answer", (sdp: string) => {
      clearRing();
      if (session.isReleased) return;
      let negotiated: NegotiatedMedia;
      try {
        negotiated = parseAnswer(sdp, { codecs: ["PCMU", "PCMA"] });
      } catch (err) {
        record.hangupCause = { code: 488, reason: `Not Acceptable Here (${(err as Error).message})`, source: "local" };
        failure = { code: 488, reason: "Not Acceptable Here" };
        return void session.end("bad_answer_sdp");
      }
      record.status = "connected";
      record.codec = negotiated.codec;
      session.answered();
      session.startMedia((leased) => {
        const rtp = new RtpSession({
          lease: leased,
          remote: negotiated.remote,
          signallingAddress: d.trunk.host,
          latchMode: d.latchMode,
          codec: negotiated.codec,
          payloadType: negotiated.payloadType,
          telephoneEventPt: negotiated.telephoneEventPt,
          packetMs: negotiated.sendPtime,
          direction: negotiated.direction,
          clock: d.clock,
          onAudio: (frame) => req.onFrame(frame),
          onDtmf: (ev) => req.onDtmf?.(ev.key),
        });
        media = new LegMedia(rtp, d.pacer);
        // The target's re-INVITEs (hold, moved media) are answered from the leg's SDP session (RFC 3264 §8).
        sip.media = new CallSessionDescription(
          SdpSession.fromOffer(offer, negotiated, { localAddress: d.mediaAddress, localPort: leased.port }, sdp),
          { renegotiate: (m) => rtp.update(m.remote, m.direction, { codec: m.codec, payloadType: m.payloadType, telephoneEventPt: m.telephoneEventPt, packetMs: m.sendPtime }) },
          d.log,
          record.id,
        );
        return media;
      });
      if (!media) return;
      d.log.info({ callId: record.id, bridgeOf: req.parent.id, codec: negotiated.codec }, "bridge leg answered");
      const m = media;
      settle({ ok: true, leg: { record, rtp: m.session, dtmfOut: m.dtmfOut, ended, end: (reason) => session.end(reason) } });
    }));
    return result;
  }
}
