/**
 * The running agent: SIP user agent on UDP, RTP port pool and pacer, per-call conversation, HTTP API.
 * Wires the layers together and owns every call's resources, releasing them on every path out.
 *
 *   const server = await AgentServer.start({ cfg, providers, log, version, mode });
 *   …
 *   await server.shutdown(30_000);
 */
import type { Config } from "./config";
import { conversationSettings, detectorOptions } from "./config-turns";
import { createBridgeLegs, createDialer, type OutboundWiring } from "./outbound-wiring";
import type { Providers } from "./providers";
import { systemPrompt } from "./prompts";
import { createApp } from "../http/app";
import { PgCallStore, SqliteCallStore } from "../store";

/** Where the agent keeps its call records: SQLite (default) or PostgreSQL (DATABASE_URL). */
export type AgentStore = SqliteCallStore | PgCallStore;
import type { OutboundDialer } from "../outbound";
import { Pacer, RtpPortPool } from "../rtp";
import type { MediaPlane } from "../rtp/worker/plane";
import { InboundCalls } from "../call/inbound";
import { Admission, optionsAnswer } from "../call/admission";
import { ackGraceMs } from "../call/unconfirmed";
import { Headroom } from "../call/headroom";
import { IdleCollector } from "../util/idle-collector";
import { TeardownQueue } from "../call/teardown-queue";
import { combineObservers, eventsObserver, logObserver, metricsObserver, storeObserver, type CallObserver } from "../call/observer";
import { CallEventHub } from "../call/events";
import { RECORDINGS_DIR, scheduleRecordingRetention } from "../call/recording";
import { join } from "node:path";
import { loadSileroVad, type SileroVad } from "../media/vad/silero";
import { DigestVerifier, MultiTransport, Registration, T1, UserAgent, type TimerValues } from "../sip";
import { listenSip } from "./sip-listeners";
import { registrationInfo, startRegistration } from "./registration";
import { SystemClock, type Clock } from "../util/clock";
import type { BridgeLegs } from "../call/bridge-leg";
import type { Logger } from "../util/log";
import { createMetrics, instrumentTransport, type Metrics } from "../metrics";
import { startPacing } from "./call-pacer";

/** Longest the start waits for the VAD worker (VAD_WORKER=on) to load its model, ms (0.4–1.3 s measured at bench:load's start). */
const VAD_WORKER_START_WAIT_MS = 10_000;

export interface AgentServerOptions {
  cfg: Config;
  providers: Providers;
  log: Logger;
  version: string;
  mode: string;
  clock?: Clock;
  /** SIP timer values (tests shorten T1); default RFC 3261 T1 = 500 ms. */
  sipTimers?: TimerValues;
  /** More views of every call (OpenTelemetry traces, src/call/trace-observer.ts), after the built-in ones. */
  observers?: CallObserver[];
}

export class AgentServer {
  private readonly inbound: InboundCalls;
  /** Every call of both directions reports here: the store and the metrics. */
  private readonly observer: CallObserver;
  private draining = false;
  /** SIP_FRONT=on: publishes the OPTIONS answer to the front thread now (sip-listeners.ts attachFront). */
  publishOptionsStatus: (() => void) | undefined;
  /** Draining, MAX_CALLS, degraded: one decision for INVITE, OPTIONS and GET /health/ready. */
  readonly admission: Admission;
  /** CPU and pacer lateness: refuses new calls (degraded, "overloaded") when one more would hurt the live ones. */
  readonly headroom: Headroom;
  private readonly idle: IdleCollector;
  private http: { stop(): void } | null = null;
  /** Live call events for the call page and GET /events. */
  readonly events = new CallEventHub();
  /** SIP_REGISTRAR: our registration, if configured. */
  registration: Registration | null = null;
  /** Prometheus metrics served at GET /metrics. */
  readonly metrics: Metrics;
  /** Places outbound calls (--mode outbound|all with a trunk configured); null otherwise. */
  dialer: OutboundDialer | null = null;
  /** MEDIA_WORKER=on: the worker owning the RTP sockets and the pacer. */
  mediaPlane: MediaPlane | undefined;
  /** Unsets the process's pace point (pacer.poll) at shutdown. */
  private unpace: (() => void) | undefined;
  /** TRANSFER_FALLBACK=bridge: the transfer targets' calls; undefined otherwise. */
  private readonly bridgeLegs: BridgeLegs | undefined;
  /** The work of calls' ends that can wait, spread over the call thread's turns (src/call/teardown-queue.ts). */
  private readonly teardown: TeardownQueue;

  private constructor(
    private readonly o: AgentServerOptions,
    readonly store: AgentStore,
    private readonly transport: MultiTransport,
    readonly ua: UserAgent,
    private readonly pool: RtpPortPool,
    private readonly pacer: Pacer,
    private readonly vad: SileroVad | null,
    private readonly clock: Clock,
    metrics: Metrics,
    headroom: Headroom,
  ) {
    this.metrics = metrics;
    this.headroom = headroom;
    const { cfg, providers, log } = o;
    this.teardown = new TeardownQueue({ onError: (err) => log.error({ err: err instanceof Error ? (err.stack ?? err.message) : String(err) }, "call teardown failed") });
    const observer = combineObservers(log, storeObserver(store), metricsObserver(metrics), eventsObserver(this.events), logObserver(log), ...(o.observers ?? []));
    // IDLE_GC_S: with no call live for that long, one full collection gives the last calls' garbage back.
    this.idle = new IdleCollector({ clock, idleMs: cfg.idleGcS * 1000, active: () => this.activeCalls, onCollected: (r) => log.info(r, "memory collected while idle") });
    this.observer = cfg.idleGcS > 0 ? { ...observer, callEnded: (record, result) => (observer.callEnded(record, result), this.idle.callEnded()) } : observer;
    this.bridgeLegs = createBridgeLegs(this.wiring);
    // MAX_CALLS counts confirmed calls: an inbound call awaiting its ACK takes a place left beside them and
    // is given up for a new INVITE after the ACK grace (src/call/unconfirmed.ts), so forged INVITEs never
    // make an OPTIONS probe or /health/ready read "full".
    this.admission = new Admission({
      capacity: cfg.maxCalls,
      active: () => this.confirmedCalls,
      draining: () => this.draining,
      // No free RTP port counts only when none is held by a call a new INVITE could take it from (src/call/unconfirmed.ts).
      degraded: [() => (pool.free === 0 && this.inbound.unconfirmed.reclaimable() === 0 ? "no free RTP port" : undefined), () => headroom.check(this.confirmedCalls)],
    });
    this.inbound = new InboundCalls({
      log,
      clock,
      observer: this.observer,
      pool,
      pacer,
      vad,
      providers,
      mode: o.mode,
      trustedIps: cfg.sipTrustedIps,
      admission: this.admission,
      maxPendingPerSource: cfg.sipMaxPendingPerSource,
      ackGraceMs: ackGraceMs((o.sipTimers ?? cfg.sipTimers)?.T1 ?? T1),
      acksWaiting: () => transport.acksWaiting(),
      publicIp: cfg.publicIp,
      systemPrompt: () => systemPrompt(cfg, "inbound"),
      settings: conversationSettings(cfg.conversation),
      detector: detectorOptions(cfg.conversation),
      rtpTimeout: { ms: cfg.rtpTimeoutMs, holdMs: cfg.rtpHoldTimeoutMs, startMs: cfg.rtpStartTimeoutMs },
      recordingsDir: this.recordingsDir,
      latchMode: cfg.rtpLatch,
      silenceSuppression: cfg.rtpSilenceSuppression,
      transferTargets: cfg.transferTargets,
      transferNotifyTimeoutMs: cfg.transferNotifyTimeoutMs,
      bridgeLegs: this.bridgeLegs,
      teardown: this.teardown,
    });
  }

  /** What the outbound parts (./outbound-wiring.ts) share with inbound calls. */
  private get wiring(): OutboundWiring {
    const { cfg, log } = this.o;
    return { cfg, log, clock: this.clock, ua: this.ua, pool: this.pool, pacer: this.pacer, observer: this.observer, teardown: this.teardown };
  }

  /** Stops the hourly prune of recordings (RECORD_RETENTION_DAYS). */
  private stopRecordingRetention: (() => void) | undefined;

  /** RECORDING=on: DATA_DIR/recordings; undefined when calls are not recorded. */
  get recordingsDir(): string | undefined {
    return this.o.cfg.recording ? join(this.o.cfg.dataDir, RECORDINGS_DIR) : undefined;
  }

  /** Binds SIP, HTTP and prepares RTP. @throws when a port cannot be bound. */
  static async start(o: AgentServerOptions): Promise<AgentServer> {
    const { cfg, log } = o;
    const clock = o.clock ?? new SystemClock();
    let vad: SileroVad | null = null;
    try {
      vad = await loadSileroVad();
      vad.batching = cfg.vadBatch;
      vad.batchWaitMs = cfg.vadBatchMs;
      vad.maxLagMs = cfg.vadMaxLagMs || Infinity; // 0: never shed
      vad.silenceFloorDbfs = cfg.vadSilenceFloorDbfs;
      vad.noiseMarginDb = cfg.vadNoiseMarginDb;
      // VAD_WORKER: runs move to a thread of their own once it has loaded the model; until then, and if it fails, here.
      // The start waits for it (at most VAD_WORKER_START_WAIT_MS), so calls from the first one get it.
      if (cfg.vadWorker) await Promise.race([vad.startWorker({ nice: cfg.vadWorkerNice, log }).settled, Bun.sleep(VAD_WORKER_START_WAIT_MS)]);
    } catch (err) {
      log.error({ err: (err as Error).message }, "vad unavailable: barge-in disabled");
    }
    // SIP first: a second instance on the same port stops here, before it touches the call records.
    const userAgent = cfg.sipUserAgent ?? `voice-agent/${o.version}`; // SIP_USER_AGENT (RFC 3261 §20.35)
    const { transport, attachFront } = await listenSip(cfg, log, userAgent);
    let store: AgentStore;
    try {
      // DATABASE_URL: one PostgreSQL database for a fleet of agents; else SQLite in DATA_DIR.
      store = cfg.databaseUrl
        ? await PgCallStore.open({ url: cfg.databaseUrl, agentId: cfg.agentId, log, retentionDays: cfg.recordRetentionDays })
        : SqliteCallStore.open({ dir: cfg.dataDir, log, retentionDays: cfg.recordRetentionDays, walCheckpoint: "worker" });
    } catch (err) {
      transport.close();
      throw err;
    }
    const metrics = createMetrics();
    const headroom = new Headroom({ clock, limits: cfg.admission });
    // The media worker (MEDIA_WORKER=on) and this thread's pacer, late ticks logged (call-pacer.ts).
    const { plane, pacer, unpace } = startPacing({ cfg, clock, log, metrics, headroom });
    const pool = new RtpPortPool(cfg.rtpPortStart, cfg.rtpPortEnd, cfg.sipHost, plane?.binder);
    let server!: AgentServer;
    const optionsStatus = () => optionsAnswer(server.admission.verdict(), transport.backlogMs());
    const ua = new UserAgent({
      transport: instrumentTransport(transport, metrics),
      clock,
      contact: { host: cfg.publicIp, port: transport.local.port },
      answerDelayMs: cfg.answerDelayMs,
      userAgent,
      log,
      timers: o.sipTimers ?? cfg.sipTimers,
      dialogPeerOnly: cfg.sipDialogPeerOnly && cfg.sipTrustedIps.length === 0,
      inboundAuth: cfg.sipInboundAuth
        ? new DigestVerifier({ ...cfg.sipInboundAuth, realm: cfg.sipInboundAuth.realm ?? cfg.publicIp })
        : undefined,
      inboundAuthLockout: cfg.sipInboundAuth && { maxFailures: cfg.sipInboundAuth.maxFailures, lockoutMs: cfg.sipInboundAuth.lockoutS * 1000 },
      delegate: {
        // Refusals before any transaction (503 when full, draining or the source holds too many
        // unconfirmed calls), sent statelessly: a flood of INVITEs costs no transaction state.
        screenInvite: (source) => server.inbound.screenInvite(source),
        onInvite: (call) => server.inbound.onInvite(call),
        // What a load balancer's OPTIONS probe gets: the verdict a new INVITE would get (503 also while new
        // INVITEs wait over 1 s in the SIP receive queue), and the load.
        optionsStatus,
      },
    });
    server = new AgentServer(o, store, transport, ua, pool, pacer, vad, clock, metrics, headroom);
    metrics.readUnconfirmedCalls(() => server.inbound.unconfirmed.size);
    server.mediaPlane = plane;
    server.unpace = unpace;
    server.registration = startRegistration(cfg, ua, metrics, log);
    headroom.start();
    const outboundMode = o.mode === "outbound" || o.mode === "all";
    if (outboundMode && cfg.outbound.trunkHost && cfg.outbound.callerId) {
      server.dialer = createDialer({
        ...server.wiring,
        providers: o.providers,
        store,
        vad,
        admission: server.admission,
        unconfirmedInbound: () => server.inbound.unconfirmed.size,
        metrics,
        recordingsDir: server.recordingsDir,
        bridgeLegs: server.bridgeLegs,
      });
    }
    const app = createApp({
      store,
      metrics,
      apiToken: cfg.apiToken,
      allowedHosts: cfg.serverHost === "0.0.0.0" ? [] : [cfg.serverHost],
      outbound: server.dialer ?? undefined,
      events: server.events,
      recordingsDir: join(cfg.dataDir, RECORDINGS_DIR),
      outboundDisabledReason: outboundMode
        ? "outbound calling is not configured: set SIP_TRUNK_HOST and SIP_CALLER_ID"
        : `outbound calling is off: the agent runs with --mode ${o.mode}; use --mode outbound or all`,
      health: {
        version: o.version,
        mode: o.mode,
        providers: o.providers.describe,
        sip: { host: cfg.sipHost, port: transport.local.port, publicIp: cfg.publicIp },
        stats: () => ({
          status: server.draining ? "draining" : "ok",
          rtp: { portsInUse: pool.inUse, portsFree: pool.free },
          ...(server.registration ? { registration: registrationInfo(server.registration, cfg) } : {}),
        }),
        ready: () => server.admission.verdict(),
      },
    });
    try {
      // reusePort off (Elysia turns it on): a second agent on the same port must fail here, not share it.
      app.listen({ hostname: cfg.serverHost, port: cfg.serverPort, reusePort: false });
    } catch (err) {
      transport.close();
      await store.close();
      throw new Error(`SERVER_PORT: cannot listen on ${cfg.serverHost}:${cfg.serverPort}: ${(err as Error).message}`);
    }
    server.http = { stop: () => void app.stop() };
    // SIP_FRONT=on: the front thread answers probes from this, published with a heartbeat (sip-listeners.ts);
    // last, once everything else started (until then the front relays probes to this thread, which answers them
    // when it gets to them, as without the front).
    server.publishOptionsStatus = attachFront?.(optionsStatus, (status, n) => {
      for (let i = 0; i < n; i++) (metrics.sipRequestReceived("OPTIONS"), metrics.sipResponseSent("OPTIONS", status));
    });
    const days = cfg.recordRetentionDays;
    if (days !== undefined) server.stopRecordingRetention = scheduleRecordingRetention(join(cfg.dataDir, RECORDINGS_DIR), days, log);
    return server;
  }

  /** The bound SIP port (SIP_PORT, or the port picked when it was 0). */
  get sipPort(): number {
    return this.transport.local.port;
  }

  /** Live calls of both directions. */
  get activeCalls(): number {
    return this.inbound.size + (this.dialer?.activeCalls ?? 0) + (this.bridgeLegs?.active ?? 0);
  }

  /** Live calls less the inbound ones awaiting their ACK: what MAX_CALLS counts. */
  get confirmedCalls(): number {
    return this.activeCalls - this.inbound.unconfirmed.size;
  }


  /**
   * Stops taking calls (new INVITEs and OPTIONS probes get 503), lets live calls finish for up to `drainMs`, then says a
   * short goodbye on the calls still up, hangs them up (BYE) and closes every socket.
   */
  async shutdown(drainMs: number): Promise<void> {
    this.draining = true;
    // SIP_FRONT=on: the front answers probes from the status last published; draining must not wait a beat.
    this.publishOptionsStatus?.();
    // Outbound calls drain like inbound ones: no new calls, live ones may finish, the rest are ended below.
    this.dialer?.drain();
    // RFC 3261 §10.2.2: remove our binding (Expires: 0) so the registrar stops routing calls here.
    const unregistered = this.registration?.stop();
    const deadline = Date.now() + drainMs;
    while (this.activeCalls > 0 && Date.now() < deadline) await Bun.sleep(50);
    const outbound = this.dialer?.shutdown(2000); // CANCEL the ringing ones, BYE the others
    // The polite end: each live call hears a goodbye, then gets its BYE after the last packet of it.
    await this.inbound.endAll(8000);
    await outbound;
    await unregistered;
    this.teardown.flush(); // every ended call's record and metrics, before the store closes
    this.pacer.stop();
    this.unpace?.();
    await this.mediaPlane?.stop(1000);
    this.headroom.stop();
    this.idle.stop();
    this.ua.dispose();
    this.transport.close();
    this.events.closeAll();
    this.stopRecordingRetention?.();
    this.http?.stop();
    await this.store.close(); // PostgreSQL: what is still queued is written first (up to 5 s)
  }
}
