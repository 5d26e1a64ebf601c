/**
 * Inbound call set-up and teardown: admission (mode, trusted sources, capacity, SDP offer), an RTP port,
 * the SDP answer (RFC 3264 §6), the call's media and conversation, the record, and the release of every
 * resource on every path out of the call.
 *
 *   const inbound = new InboundCalls({ … });
 *   ua delegate: onInvite: (call) => inbound.onInvite(call)
 */
import { randomUUID } from "node:crypto";
import type { CallRecord, TurnRecord } from "../pipeline/call-record";
import type { ConversationSettings } from "../pipeline/agent-call";
import type { SqliteCallStore } from "../store";
import { CallSessionDescription, createAnswer, SdpError, SdpSession } from "../sdp";
import { RtpPortPoolError, type Pacer, type RtpPortPool } from "../rtp";
import type { SileroVad } from "../media/vad/silero";
import type { InboundCall } from "../sip";
import type { Clock } from "../util/clock";
import { inRanges, parseIpv4Range } from "../util/ip-range";
import type { Logger } from "../util/log";
import type { Metrics } from "../metrics";
import { ProviderError } from "../providers/types";
import { CallMedia, type CallProviders } from "./media";
import { observeTurnLatency } from "./turn-latency";

export interface InboundCallsOptions {
  log: Logger;
  clock: Clock;
  store: SqliteCallStore;
  metrics: Metrics;
  pool: RtpPortPool;
  pacer: Pacer;
  vad: SileroVad | null;
  providers: CallProviders & { describe: { stt: string; llm: string; tts: string } };
  /** `--mode`: inbound calls are refused (403) in "outbound" mode. */
  mode: string;
  /** SIP_TRUSTED_IPS: when non-empty, INVITEs from other addresses get 403. */
  trustedIps: readonly string[];
  /** MAX_CALLS over both directions. */
  maxCalls: number;
  /** Address in our SDP answer's `c=` line (SIP_PUBLIC_IP). */
  publicIp: string;
  /** The inbound system instruction (src/cli/prompts.ts). */
  systemPrompt(): Promise<string>;
  /** Turn-taking settings for the conversation. */
  settings?: Partial<ConversationSettings>;
  bargeInMinSpeechMs?: number;
  /** Live calls of both directions, for the MAX_CALLS check. */
  activeCalls(): number;
}

/** One live inbound call and what it holds. */
export interface LiveInbound {
  record: CallRecord;
  sip: InboundCall;
  media?: CallMedia;
  released: boolean;
}

export class InboundCalls {
  private readonly calls = new Map<string, LiveInbound>();

  constructor(private readonly o: InboundCallsOptions) {}

  /** Live inbound calls (offered, being set up, or connected). */
  get size(): number {
    return this.calls.size;
  }

  /** The live inbound calls (a snapshot). */
  live(): LiveInbound[] {
    return [...this.calls.values()];
  }

  /** The UA delegate's `onInvite`: admits or rejects the call, then sets it up in the background. */
  onInvite(sip: InboundCall): void {
    const { log, metrics } = this.o;
    const id = randomUUID();
    const record: CallRecord = {
      id,
      sipCallId: sip.callId,
      direction: "inbound",
      from: sip.from.uri,
      to: sip.to.uri,
      state: "ringing",
      startedAt: new Date().toISOString(),
      turns: [],
      bargeIns: 0,
      providers: this.o.providers.describe,
    };
    log.info({ callId: id, sipCallId: sip.callId, pii: { from: sip.from.uri, to: sip.to.uri } }, "call offered");
    if (this.o.mode === "outbound") {
      sip.reject(403, "Forbidden", { Warning: '399 voice-agent "inbound calls are off (--mode outbound)"' });
      metrics.callRefused("inbound", "rejected");
      log.warn({ callId: id }, "call rejected: inbound calls are off in outbound mode");
      return;
    }
    // The transport's SourceGate refuses untrusted requests before they get here; this is a second line.
    if (this.o.trustedIps.length > 0 && !inRanges(sip.remote.host, this.o.trustedIps.map(parseIpv4Range))) {
      sip.reject(403, "Forbidden");
      metrics.callRefused("inbound", "rejected");
      log.warn({ callId: id, source: sip.remote.host }, "call rejected: source not in SIP_TRUSTED_IPS");
      return;
    }
    if (this.o.activeCalls() >= this.o.maxCalls) {
      sip.reject(503, "Service Unavailable", { "Retry-After": "30" });
      metrics.callRefused("inbound", "busy");
      log.warn({ callId: id, max: this.o.maxCalls }, "call rejected: at capacity");
      return;
    }
    if (!sip.offerSdp) {
      sip.reject(488, "Not Acceptable Here", { Warning: '399 voice-agent "an SDP offer in the INVITE is required"' });
      metrics.callRefused("inbound", "rejected");
      log.warn({ callId: id }, "call rejected: no sdp offer");
      return;
    }
    const live: LiveInbound = { record, sip, released: false };
    this.calls.set(id, live);
    metrics.callStarted("inbound");
    this.o.store.add(record);
    sip.on("ended", (reason) => this.teardown(live, reason));
    void this.prepareMedia(live).catch((err) => {
      log.error({ callId: id, err: String(err) }, "call setup failed");
      if (sip.state === "offered") sip.reject(500, "Server Internal Error");
      this.teardown(live, "error");
    });
  }

  private async prepareMedia(live: LiveInbound): Promise<void> {
    const { log, providers, metrics } = this.o;
    const { sip, record } = live;
    let lease;
    try {
      lease = await this.o.pool.allocate();
    } catch (err) {
      if (err instanceof RtpPortPoolError && err.code === "exhausted") {
        sip.reject(503, "Service Unavailable", { "Retry-After": "30" });
        log.warn({ callId: record.id }, "call rejected: no rtp port");
        return;
      }
      throw err;
    }
    if (live.released || sip.state === "ended") {
      lease.release();
      return;
    }
    let answer;
    try {
      answer = createAnswer({ offer: sip.offerSdp, localAddress: this.o.publicIp, localPort: lease.port });
    } catch (err) {
      lease.release();
      if (err instanceof SdpError) {
        const warning = err.code === "no_common_codec" ? `305 voice-agent "${err.message}"` : `399 voice-agent "${err.message}"`;
        sip.reject(488, "Not Acceptable Here", { Warning: warning.replace(/[\r\n]/g, " ") });
        log.warn({ callId: record.id, code: err.code, reason: err.message }, "call rejected: sdp");
        return;
      }
      throw err;
    }
    const media = new CallMedia({
      record,
      lease,
      media: answer,
      signallingAddress: sip.remote.host,
      pacer: this.o.pacer,
      clock: this.o.clock,
      log,
      providers,
      vad: this.o.vad,
      system: await this.o.systemPrompt(),
      settings: this.o.settings,
      bargeInMinSpeechMs: this.o.bargeInMinSpeechMs,
      hangup: (reason) => {
        record.endReason ??= reason;
        void sip.hangup();
      },
      onTurn: (turn: TurnRecord) => {
        observeTurnLatency(metrics, turn);
        this.o.store.addTurn(record.id, turn);
      },
      onBargeIn: metrics.bargeIn,
      onProviderError: (err) => err instanceof ProviderError && metrics.providerErrorFrom(err),
    });
    live.media = media;
    sip.on("answered", () => {
      record.state = "connected";
      record.answeredAt = new Date().toISOString();
      this.o.store.save(record);
      log.info({ callId: record.id, codec: answer.codec, rtpPort: lease.port }, "call answered");
      media.start();
    });
    // re-INVITE/UPDATE offers (hold, resume, moved media, codec change) are answered from the call's
    // SDP session and applied to its media (RFC 3264 §8).
    sip.media = new CallSessionDescription(
      SdpSession.fromAnswer(answer, { localAddress: this.o.publicIp, localPort: lease.port }),
      media,
      log,
      record.id,
    );
    if (!sip.accept(answer.sdp)) this.teardown(live, "error");
  }

  /** Releases everything a call holds. Idempotent; runs on every path out of a call. */
  teardown(live: LiveInbound, reason: string): void {
    if (live.released) return;
    live.released = true;
    const { metrics } = this.o;
    if (live.media) {
      const st = live.media.session.stats;
      metrics.rtpPackets("in", st.packetsIn);
      metrics.rtpPackets("out", st.packetsOut);
      metrics.rtpPacketsLost(Math.max(0, st.lost));
    }
    live.media?.close();
    metrics.callEnded("inbound", live.record.endReason ?? reason);
    this.calls.delete(live.record.id);
    this.o.store.end(live.record.id, reason);
    this.o.log.info(
      { callId: live.record.id, reason: live.record.endReason ?? reason, turns: live.record.turns.length },
      "call ended",
    );
  }
}
