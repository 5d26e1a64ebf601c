/**
 * The running agent: SIP user agent on UDP, RTP port pool and pacer, per-call conversation, HTTP API.
 * Wires the layers together and owns every call's resources, releasing them on every path out.
 *
 *   const server = await AgentServer.start({ cfg, providers, log, version, mode });
 *   …
 *   await server.shutdown(30_000);
 */
import { randomUUID } from "node:crypto";
import type { Config } from "./config";
import type { Providers } from "./providers";
import { systemPrompt } from "./prompts";
import { createApp } from "../http/app";
import type { CallRecord, TurnRecord } from "../pipeline/call-record";
import { SqliteCallStore } from "../store";
import { OutboundDialer, OutboundError } from "../outbound";
import { createAnswer, mirrorDirection, parseOffer, SdpError } from "../sdp";
import { Pacer, RtpPortPool, RtpPortPoolError } from "../rtp";
import { CallMedia } from "./call-media";
import { loadSileroVad, type SileroVad } from "../media/vad/silero";
import { DigestVerifier, SourceGate, UdpTransport, UserAgent, type InboundCall, type TimerValues } from "../sip";
import { SystemClock, type Clock } from "../util/clock";
import { inRanges, parseIpv4Range } from "../util/ip-range";
import type { Logger } from "../util/log";
import { createMetrics, instrumentTransport, type Metrics } from "../metrics";
import { ProviderError } from "../providers/types";

export interface AgentServerOptions {
  cfg: Config;
  providers: Providers;
  log: Logger;
  version: string;
  mode: string;
  clock?: Clock;
  /** SIP timer values (tests shorten T1); default RFC 3261 T1 = 500 ms. */
  sipTimers?: TimerValues;
}

interface LiveCall {
  record: CallRecord;
  sip: InboundCall;
  media?: CallMedia;
  released: boolean;
}

export class AgentServer {
  private readonly calls = new Map<string, LiveCall>();
  private draining = false;
  private http: { stop(): void } | null = null;
  /** Prometheus metrics served at GET /metrics. */
  readonly metrics: Metrics;
  /** Places outbound calls (--mode outbound|all with a trunk configured); null otherwise. */
  dialer: OutboundDialer | null = null;

  private constructor(
    private readonly o: AgentServerOptions,
    readonly store: SqliteCallStore,
    private readonly transport: UdpTransport,
    readonly ua: UserAgent,
    private readonly pool: RtpPortPool,
    private readonly pacer: Pacer,
    private readonly vad: SileroVad | null,
    private readonly clock: Clock,
    metrics: Metrics,
  ) {
    this.metrics = metrics;
  }

  /** Binds SIP, HTTP and prepares RTP. @throws when a port cannot be bound. */
  static async start(o: AgentServerOptions): Promise<AgentServer> {
    const { cfg, log } = o;
    const clock = o.clock ?? new SystemClock();
    let vad: SileroVad | null = null;
    try {
      vad = await loadSileroVad();
    } catch (err) {
      log.error({ err: (err as Error).message }, "vad unavailable: barge-in disabled");
    }
    // SIP first: a second instance on the same port stops here, before it touches the call records.
    let transport: UdpTransport;
    // Trust and per-source rate limit before any parsing or transaction (SIP_TRUSTED_IPS, SIP_RATE_LIMIT).
    const gate = new SourceGate({
      trusted: cfg.sipTrustedIps,
      untrusted: cfg.sipUntrusted,
      ratePerSecond: cfg.sipRateLimit.perSecond,
      burst: cfg.sipRateLimit.burst,
    });
    try {
      transport = await UdpTransport.bind({ host: cfg.sipHost, port: cfg.sipPort, log, gate });
    } catch (err) {
      throw new Error(`SIP_PORT: cannot bind udp ${cfg.sipHost}:${cfg.sipPort}: ${(err as Error).message}`);
    }
    let store: SqliteCallStore;
    try {
      store = SqliteCallStore.open({ dir: cfg.dataDir, log });
    } catch (err) {
      transport.close();
      throw err;
    }
    const pool = new RtpPortPool(cfg.rtpPortStart, cfg.rtpPortEnd, cfg.sipHost);
    const metrics = createMetrics();
    const pacer = new Pacer({
      clock,
      onLateness: metrics.pacerLateness,
      onError: (err) => log.error({ err: String(err) }, "pacer source failed"),
    });
    let server!: AgentServer;
    const ua = new UserAgent({
      transport: instrumentTransport(transport, metrics),
      clock,
      contact: { host: cfg.publicIp, port: transport.local.port },
      answerDelayMs: cfg.answerDelayMs,
      userAgent: `voice-agent/${o.version}`,
      log,
      timers: o.sipTimers,
      inboundAuth: cfg.sipInboundAuth
        ? new DigestVerifier({ ...cfg.sipInboundAuth, realm: cfg.sipInboundAuth.realm ?? cfg.publicIp })
        : undefined,
      delegate: {
        onInvite: (call) => server.onInvite(call),
        acceptingNewCalls: () => !server.draining,
      },
    });
    server = new AgentServer(o, store, transport, ua, pool, pacer, vad, clock, metrics);
    const outboundMode = o.mode === "outbound" || o.mode === "all";
    if (outboundMode && cfg.outbound.trunkHost && cfg.outbound.callerId) server.dialer = server.createDialer();
    const app = createApp({
      store,
      metrics,
      apiToken: cfg.apiToken,
      outbound: server.dialer ?? undefined,
      outboundDisabledReason: outboundMode
        ? "outbound calling is not configured: set SIP_TRUNK_HOST and SIP_CALLER_ID"
        : `outbound calling is off: the agent runs with --mode ${o.mode}; use --mode outbound or all`,
      health: {
        version: o.version,
        mode: o.mode,
        providers: o.providers.describe,
        sip: { host: cfg.sipHost, port: transport.local.port, publicIp: cfg.publicIp },
        stats: () => ({ status: server.draining ? "draining" : "ok", rtp: { portsInUse: pool.inUse, portsFree: pool.free } }),
      },
    });
    try {
      app.listen({ hostname: cfg.serverHost, port: cfg.serverPort });
    } catch (err) {
      transport.close();
      store.close();
      throw new Error(`SERVER_PORT: cannot listen on ${cfg.serverHost}:${cfg.serverPort}: ${(err as Error).message}`);
    }
    server.http = { stop: () => void app.stop() };
    return server;
  }

  /** The bound SIP port (SIP_PORT, or the port picked when it was 0). */
  get sipPort(): number {
    return this.transport.local.port;
  }

  /** Live calls of both directions. */
  get activeCalls(): number {
    return this.calls.size + (this.dialer?.activeCalls ?? 0);
  }

  /** The outbound dialer: INVITEs through the trunk, media and conversation through CallMedia. */
  private createDialer(): OutboundDialer {
    const { cfg, log, providers } = this.o;
    const ob = cfg.outbound;
    return new OutboundDialer({
      ua: this.ua,
      store: this.store,
      clock: this.clock,
      log,
      trunk: { host: ob.trunkHost!, port: ob.trunkPort },
      callerId: ob.callerId!,
      credentials: ob.credentials ? { username: ob.credentials.username, password: ob.credentials.password } : undefined,
      mediaAddress: cfg.publicIp,
      ringTimeoutMs: ob.ringTimeoutS * 1000,
      maxCalls: ob.maxCalls,
      callsPerMinute: ob.callsPerMinute,
      allocatePort: () => this.pool.allocate(),
      systemPrompt: (objective) => systemPrompt(cfg, "outbound", objective),
      llm: providers.llm,
      providers: providers.describe,
      admit: () =>
        this.activeCalls >= cfg.maxCalls ? new OutboundError("at_capacity", `${cfg.maxCalls} calls are live (MAX_CALLS)`) : undefined,
      createMedia: (req) =>
        new CallMedia({
          record: req.record,
          lease: req.lease,
          media: req.media,
          signallingAddress: ob.trunkHost,
          pacer: this.pacer,
          clock: this.clock,
          log,
          providers: { ...providers, llm: req.llm },
          vad: this.vad,
          system: req.system,
          conversation: cfg.conversation,
          hangup: req.hangup,
          onTurn: (turn) => {
            this.observeTurn(turn);
            req.onTurn?.(turn);
          },
          onBargeIn: this.metrics.bargeIn,
          onProviderError: (err) => err instanceof ProviderError && this.metrics.providerErrorFrom(err),
        }),
    });
  }

  private onInvite(sip: InboundCall): void {
    const { cfg, log } = this.o;
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
      this.metrics.callRefused("inbound", "rejected");
      log.warn({ callId: id }, "call rejected: inbound calls are off in outbound mode");
      return;
    }
    // The transport's SourceGate refuses untrusted requests before they get here; this is a second line.
    if (cfg.sipTrustedIps.length > 0 && !inRanges(sip.remote.host, cfg.sipTrustedIps.map(parseIpv4Range))) {
      sip.reject(403, "Forbidden");
      this.metrics.callRefused("inbound", "rejected");
      log.warn({ callId: id, source: sip.remote.host }, "call rejected: source not in SIP_TRUSTED_IPS");
      return;
    }
    if (this.activeCalls >= cfg.maxCalls) {
      sip.reject(503, "Service Unavailable", { "Retry-After": "30" });
      this.metrics.callRefused("inbound", "busy");
      log.warn({ callId: id, max: cfg.maxCalls }, "call rejected: at capacity");
      return;
    }
    if (!sip.offerSdp) {
      sip.reject(488, "Not Acceptable Here", { Warning: '399 voice-agent "an SDP offer in the INVITE is required"' });
      this.metrics.callRefused("inbound", "rejected");
      log.warn({ callId: id }, "call rejected: no sdp offer");
      return;
    }
    const live: LiveCall = { record, sip, released: false };
    this.calls.set(id, live);
    this.metrics.callStarted("inbound");
    this.store.add(record);
    sip.on("ended", (reason) => this.teardown(live, reason));
    void this.prepareMedia(live).catch((err) => {
      log.error({ callId: id, err: String(err) }, "call setup failed");
      if (sip.state === "offered") sip.reject(500, "Server Internal Error");
      this.teardown(live, "error");
    });
  }

  private async prepareMedia(live: LiveCall): Promise<void> {
    const { cfg, log, providers } = this.o;
    const { sip, record } = live;
    let lease;
    try {
      lease = await this.pool.allocate();
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
      answer = createAnswer({ offer: sip.offerSdp, localAddress: cfg.publicIp, localPort: lease.port });
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
      pacer: this.pacer,
      clock: this.clock,
      log,
      providers,
      vad: this.vad,
      system: await systemPrompt(cfg, "inbound"),
      conversation: cfg.conversation,
      hangup: (reason) => {
        record.endReason ??= reason;
        void sip.hangup();
      },
      onTurn: (turn) => {
        this.observeTurn(turn);
        this.store.addTurn(record.id, turn);
      },
      onBargeIn: this.metrics.bargeIn,
      onProviderError: (err) => err instanceof ProviderError && this.metrics.providerErrorFrom(err),
    });
    live.media = media;
    sip.on("answered", () => {
      record.state = "connected";
      record.answeredAt = new Date().toISOString();
      this.store.save(record);
      log.info({ callId: record.id, codec: answer.codec, rtpPort: lease.port }, "call answered");
      media.start();
    });
    sip.on("reinvite", (offer) => {
      // The UA answered with our unchanged SDP (RFC 3264 §8); the media follows the new offer: a moved
      // address or port, and hold (their sendonly/inactive → we stop sending).
      try {
        const audio = parseOffer(offer).audio;
        if (!audio.connection) throw new Error("no connection address");
        const remote = { address: audio.connection.address, port: audio.port };
        media.session.update(remote, mirrorDirection(audio.direction));
        log.info({ callId: record.id, remotePort: remote.port, direction: audio.direction }, "re-invite applied to media");
      } catch (err) {
        log.warn({ callId: record.id, err: (err as Error).message }, "re-invite offer not usable; media unchanged");
      }
    });
    if (!sip.accept(answer.sdp)) this.teardown(live, "error");
  }

  /** Releases everything a call holds. Idempotent; runs on every path out of a call. */
  private teardown(live: LiveCall, reason: string): void {
    if (live.released) return;
    live.released = true;
    if (live.media) {
      const st = live.media.session.stats;
      this.metrics.rtpPackets("in", st.packetsIn);
      this.metrics.rtpPackets("out", st.packetsOut);
      this.metrics.rtpPacketsLost(Math.max(0, st.lost));
    }
    live.media?.close();
    this.metrics.callEnded("inbound", live.record.endReason ?? reason);
    this.calls.delete(live.record.id);
    this.store.end(live.record.id, reason);
    this.o.log.info(
      { callId: live.record.id, reason: live.record.endReason ?? reason, turns: live.record.turns.length },
      "call ended",
    );
  }

  /** Feeds a completed turn's latency to the histograms (the first-RTP figure may fill in later). */
  private observeTurn(turn: TurnRecord): void {
    if (turn.speaker !== "agent" || !turn.latency) return;
    const lat = turn.latency;
    // firstRtpMs is written when the first packet goes out, possibly after the turn was recorded.
    setTimeout(() => this.metrics.turnLatencies(lat), 1000);
  }

  /**
   * Stops taking calls (new INVITEs get 503), lets live calls finish for up to `drainMs`, then says a
   * short goodbye on the calls still up, hangs them up (BYE) and closes every socket.
   */
  async shutdown(drainMs: number): Promise<void> {
    this.draining = true;
    // Outbound calls drain like inbound ones: no new calls, live ones may finish, the rest are ended below.
    this.dialer?.drain();
    const deadline = Date.now() + drainMs;
    while (this.activeCalls > 0 && Date.now() < deadline) await Bun.sleep(50);
    const outbound = this.dialer?.shutdown(2000); // CANCEL the ringing ones, BYE the others
    // The polite end: each live call hears a goodbye, then gets its BYE after the last packet of it.
    for (const c of this.calls.values()) {
      c.record.endReason ??= "shutdown";
      if (c.media && c.sip.state !== "offered" && c.sip.state !== "ringing") c.media.conversation.endPolitely();
      else void c.sip.hangup().catch(() => {});
    }
    const goodbyeDeadline = Date.now() + 8000;
    while (this.calls.size > 0 && Date.now() < goodbyeDeadline) await Bun.sleep(50);
    const ends = [...this.calls.values()].map((c) => c.sip.hangup().catch(() => {}));
    await Promise.race([Promise.all(ends), Bun.sleep(2000)]);
    for (const c of [...this.calls.values()]) this.teardown(c, "shutdown");
    await outbound;
    this.pacer.stop();
    this.ua.dispose();
    this.transport.close();
    this.http?.stop();
    this.store.close();
  }
}
