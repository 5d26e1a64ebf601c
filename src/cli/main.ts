/**
 * The compiled entry point: `voice-agent [--mode inbound|outbound|all] | check-config | call <uri>`.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration.
 */
import { cloudEndpoints, probeCloud, unreachableMessage } from "./cloud-probe";
import pkg from "../../package.json";
import { HELP, parseCommand, UsageError, type Command } from "./args";
import { ConfigError, loadConfig, requireOutbound, type Config, type Mode } from "./config";
import { createProviders } from "./providers";
import { StoreError } from "../store/schema";
import { DataDirLock, DataDirLockError } from "../store/data-dir-lock";
import { redact } from "../store/pg-call-store";
import { createLogger, flushLog } from "../util/log";
import { installProcessGuard } from "../util/process-guard";
import { libc } from "../util/libc";
import { exposureWarning } from "./exposure";
import { rtpPortPairs, rtpRangeWarning } from "./rtp-range";
import { registerTraceCounter } from "../metrics/trace-counter";
import { startTracing } from "./tracing";
import { warmFliteFallback } from "./flite-warm";
import { DEFAULT_CONVERSATION } from "../pipeline/conversation-settings";

const VERSION: string = pkg.version;

/** The start-up line about HTTP access: token required, or loopback only and why. */
function httpAccess(cfg: Config): string {
  if (cfg.apiToken) return "Bearer token required (API_TOKEN)";
  const asked = cfg.serverHostRequested ? ` instead of SERVER_HOST=${cfg.serverHostRequested}` : "";
  return `API_TOKEN is not set: listening on 127.0.0.1 only${asked}; set API_TOKEN to serve other hosts`;
}

/** Who may send SIP requests, and how fast. */
function sipAccess(cfg: Config): string {
  const who = cfg.sipTrustedIps.length > 0 ? `trusted ${cfg.sipTrustedIps.join(", ")} (others: ${cfg.sipUntrusted === "drop" ? "dropped" : "403"})` : "any source";
  const rate = cfg.sipRateLimit.perSecond > 0 ? `${cfg.sipRateLimit.perSecond}/s per source, burst ${cfg.sipRateLimit.burst}` : "no rate limit";
  const auth = cfg.sipInboundAuth ? `digest auth as ${cfg.sipInboundAuth.username}` : "no inbound auth";
  return `${who}; ${rate}; ${auth}`;
}

/** The deny list for check-config: the default one by what it holds (25 prefixes), a user's list in full. */
function denied(ob: Config["outbound"]): string {
  if (ob.denyIsDefault) return ` except premium rate and +1 numbers billed as international (default OUTBOUND_DENY_PREFIXES, ${ob.denyPrefixes.length} prefixes)`;
  return ob.denyPrefixes.length ? ` except ${ob.denyPrefixes.join(" ")}` : "";
}

function describeConfig(cfg: Config, mode: string, providers: { stt: string; llm: string; tts: string }): string {
  const rtpCalls = rtpPortPairs(cfg.rtpPortStart, cfg.rtpPortEnd);
  const ob = cfg.outbound;
  const outbound =
    mode === "inbound"
      ? []
      : [
          `  OUT   trunk udp ${ob.trunkHost}:${ob.trunkPort}, caller ID ${ob.callerId}, ` +
            `${ob.credentials ? `digest auth as ${ob.credentials.username} (${ob.credentials.from})${ob.credentials.realm ? ` for realm "${ob.credentials.realm}" only` : ""}` : "no digest credentials"}, ` +
            `to ${ob.allowPrefixes?.join(" ") ?? "(none)"}${denied(ob)}, ` +
            `ring ${ob.ringTimeoutS} s, max ${ob.maxCalls} calls, ${ob.callsPerMinute}/min`,
        ];
  return [
    `voice-agent ${VERSION} — mode ${mode}`,
    `  SIP   udp${cfg.sipTcp ? " and tcp" : ""} ${cfg.sipHost}:${cfg.sipPort}${cfg.sipTls ? `, tls port ${cfg.sipTls.port}` : ""}, Contact/SDP address ${cfg.publicIp}${cfg.answerDelayMs ? `, rings ${cfg.answerDelayMs} ms` : ""}`,
    `  ACL   ${sipAccess(cfg)}`,
    `  RTP   udp ports ${cfg.rtpPortStart}-${cfg.rtpPortEnd} (${rtpCalls} calls), max ${cfg.maxCalls} simultaneous calls`,
    ...outbound,
    `  HTTP  ${cfg.serverHost}:${cfg.serverPort} — ${httpAccess(cfg)}`,
    cfg.databaseUrl ? `  DATA  ${redact(cfg.databaseUrl)} (PostgreSQL, as agent ${cfg.agentId})` : `  DATA  ${cfg.dataDir} (calls.db)`,
    `  STT   ${providers.stt}`,
    `  LLM   ${providers.llm}`,
    `  TTS   ${providers.tts}`,
    `  TURN  ${bargeInSummary(cfg.conversation)}`,
  ].join("\n");
}

/** The barge-in settings as check-config prints them (BARGE_IN*, BACKCHANNEL_MODE; README, Configuration). */
function bargeInSummary(c: Config["conversation"]): string {
  if (!c.bargeIn) return "barge-in off (BARGE_IN=false): the caller cannot interrupt the agent";
  const floor = c.bargeInFirstTurnFloorDbfs === 0 ? "no level floor" : `floor ${c.bargeInFirstTurnFloorDbfs} dBFS peak ${c.bargeInFloorAfterFirstTurn ? "always" : "until the caller's first turn"}`;
  const pause = c.bargeInPauseWaitMs === null ? "cut at once (pause off)" : `paused, words awaited ${c.bargeInPauseWaitMs} ms`;
  return `barge-in after ${c.bargeInMinSpeechMs} ms of speech, ${floor}, caller margin ${c.bargeInCallerMarginDb} dB; ${pause}; backchannels ${c.backchannel}`;
}

async function run(cmd: Extract<Command, { kind: "run" | "check-config" }>): Promise<number> {
  const cfg = loadConfig();
  requireOutbound(cfg, cmd.mode as Mode);
  const providers = await createProviders(cfg);
  if (cfg.stt === "pocketsphinx" && providers.offlineSttMissing) {
    // Without it every call would be answered and greeted, then never hear the caller.
    const why = process.env.STT_PROVIDER ? "" : " (the offline default: DEEPGRAM_API_KEY is not set)";
    throw new ConfigError("STT_PROVIDER", `pocketsphinx${why} cannot run here: ${providers.offlineSttMissing}; or set DEEPGRAM_API_KEY for cloud STT`);
  }
  const exposed = exposureWarning(cfg);
  const narrowRtp = rtpRangeWarning(cfg);
  if (cmd.kind === "check-config") {
    // The agent creates and locks DATA_DIR at start (also with DATABASE_URL: the lock and recordings live there).
    const inUse = DataDirLock.check(cfg.dataDir);
    console.log(describeConfig(cfg, cmd.mode, providers.describe));
    if (inUse) console.error(`voice-agent: note: DATA_DIR: ${inUse}; the agent refuses to start until it stops`);
    if (exposed) console.error(exposed);
    if (narrowRtp) console.error(narrowRtp);
    for (const r of await probeCloud(cloudEndpoints(cfg))) if (!r.ok) console.error(unreachableMessage(r));
    console.log("configuration ok");
    return 0;
  }
  const log = createLogger({ level: cfg.logLevel, pii: cfg.logPii, rateLimit: { burst: cfg.logRateLimit } });
  // Whatever no call boundary caught is logged and counted; the other calls go on.
  installProcessGuard(log);
  if (providers.offlineSttMissing) log.warn({ reason: providers.offlineSttMissing }, "offline stt fallback unavailable: a call whose STT fails to open will not hear the caller");
  if (cfg.sttRecogniserNice > 0 && typeof libc() === "string") {
    log.warn({ reason: libc(), sttRecogniserNice: cfg.sttRecogniserNice }, "recognisers run at the agent's priority: STT_RECOGNISER_NICE needs libc");
  }
  // One agent per DATA_DIR, checked before any socket or calls.db is touched.
  const lock = DataDirLock.acquire(cfg.dataDir, { sip: `udp:${cfg.sipHost}:${cfg.sipPort}`, http: `${cfg.serverHost}:${cfg.serverPort}` });
  if (cfg.tts === "flite" && providers.flitePool) {
    // Synthesis threads up before the first call (the compiled binary carries their entry point).
    const t0 = performance.now();
    try {
      await providers.flitePool.start();
      log.info({ workers: providers.flitePool.live, ms: Math.round(performance.now() - t0) }, "flite workers ready");
    } catch (err) {
      lock.release();
      await flushLog(log);
      throw new Error(`flite workers failed to start (FLITE_WORKERS=${cfg.fliteWorkers}; 0 runs flite on the main thread): ${String(err)}`, { cause: err });
    }
  }
  {
    // The recogniser's resamplers built before any call (each build held the thread 60–300 ms): one per
    // call up to MAX_CALLS when pocketsphinx is the STT, one for a cloud call's fallback otherwise.
    const t0 = performance.now();
    const n = await providers.fallback.stt.prewarm?.(cfg.stt === "pocketsphinx" ? cfg.maxCalls : 1);
    if (n !== undefined) log.info({ resamplers: n, ms: Math.round(performance.now() - t0) }, "stt resamplers ready");
  }
  const { AgentServer } = await import("./agent-server");
  // OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT: one trace per call, built and sent by a worker thread.
  const tracing = cfg.tracing ? startTracing(cfg.tracing, { pii: cfg.logPii, log }) : null;
  const observers = tracing ? [tracing.observer] : [];
  let server: Awaited<ReturnType<typeof AgentServer.start>>;
  try {
    server = await AgentServer.start({ cfg, providers, log, version: VERSION, mode: cmd.mode, observers });
  } catch (err) {
    lock.release();
    await flushLog(log);
    throw err;
  }
  if (tracing && cfg.tracing) {
    registerTraceCounter(server.metrics.registry, tracing.counts);
    const u = new URL(cfg.tracing.url);
    log.info({ otlp: `${u.origin}${u.pathname}`, serviceName: cfg.tracing.serviceName, pii: cfg.logPii }, "traces: OTLP/HTTP export on");
  }
  lock.update({ sip: `udp:${cfg.sipHost}:${server.sipPort}` });
  // A cloud TTS's fallback voice ready before the first outage, not ~2.5 s into it (flite-warm.ts).
  if (cfg.tts !== "flite" && cfg.fliteFallbackWarm) void warmFliteFallback(providers.flite, DEFAULT_CONVERSATION.apologyText, log);
  log.info(
    {
      version: VERSION,
      mode: cmd.mode,
      sip: `udp:${cfg.sipHost}:${server.sipPort}`,
      publicIp: cfg.publicIp,
      rtp: `${cfg.rtpPortStart}-${cfg.rtpPortEnd}`,
      http: `${cfg.serverHost}:${cfg.serverPort}`,
      dataDir: cfg.dataDir,
      trunk: cmd.mode === "inbound" ? undefined : `${cfg.outbound.trunkHost}:${cfg.outbound.trunkPort}`,
      providers: providers.describe,
    },
    "voice-agent started",
  );
  // In the background: calls are taken meanwhile; a cloud endpoint that cannot be reached is said once
  // here instead of per call (cloud-probe.ts).
  void probeCloud(cloudEndpoints(cfg)).then((results) => {
    for (const r of results) {
      const e = r.endpoint;
      if (r.ok) log.info({ provider: e.provider, endpoint: e.url, connectMs: r.ms }, "cloud provider endpoint reachable");
      else {
        console.error(unreachableMessage(r));
        log.warn({ provider: e.provider, endpoint: e.url, variable: e.variable, configured: e.configured, error: r.error, fallback: e.fallback }, "cloud provider endpoint unreachable at start-up: its calls will fall back to the offline provider");
      }
    }
  });
  if (exposed) {
    console.error(exposed);
    log.warn({ sip: `${cfg.sipHost}:${server.sipPort}` }, "sip is open to the internet: set SIP_TRUSTED_IPS or SIP_INBOUND_USERNAME/SIP_INBOUND_PASSWORD");
  }
  if (narrowRtp) {
    console.error(narrowRtp);
    log.warn({ rtpPortStart: cfg.rtpPortStart, rtpPortEnd: cfg.rtpPortEnd, maxCalls: cfg.maxCalls }, "rtp port range holds fewer calls than MAX_CALLS");
  }
  if (!cfg.apiToken) log.warn({ http: `${cfg.serverHost}:${cfg.serverPort}`, requested: cfg.serverHostRequested }, `http api: ${httpAccess(cfg)}`);
  else log.info({}, "http api: bearer token required (API_TOKEN)");
  const drainMs = cfg.drainTimeoutS * 1000;
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string, ms: number) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal, drainMs: ms, activeCalls: server.activeCalls }, "shutting down");
      void server.shutdown(ms).then(async () => {
        await tracing?.stop(2000); // the last calls' spans, bounded
        log.info({}, "stopped");
        lock.release();
        await flushLog(log);
        resolve(0);
      });
    };
    process.on("SIGTERM", () => stop("SIGTERM", drainMs));
    process.on("SIGINT", () => stop("SIGINT", Math.min(drainMs, 5000)));
  });
}

export async function main(argv: string[]): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseCommand(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`voice-agent: ${err.message}`);
      return 2;
    }
    throw err;
  }
  try {
    switch (cmd.kind) {
      case "help":
        console.log(HELP);
        return 0;
      case "version":
        console.log(VERSION);
        return 0;
      case "call": {
        const { runCaller } = await import("./caller");
        return await runCaller(cmd);
      }
      default:
        return await run(cmd);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`voice-agent: configuration error: ${err.message}`);
      return 2;
    }
    if (err instanceof DataDirLockError) {
      console.error(`voice-agent: configuration error: DATA_DIR: ${err.message}`);
      return 2;
    }
    if (err instanceof StoreError && err.code !== "migration_failed") {
      // The PostgreSQL store's messages start with "DATABASE_URL:" or name the database; SQLite's name the file.
      const variable = process.env.DATABASE_URL ? "DATABASE_URL" : "DATA_DIR";
      console.error(`voice-agent: configuration error: ${err.message.startsWith(`${variable}:`) ? err.message : `${variable}: ${err.message}`}`);
      return 2;
    }
    console.error(`voice-agent: ${(err as Error).message}`);
    return 1;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  process.exit(code);
}
