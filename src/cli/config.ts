/**
 * Typed configuration from the environment (and `.env`, which Bun loads from the working directory
 * before our code runs). Every variable is validated at start-up; a bad value throws `ConfigError`
 * naming the variable and what it accepts, and the process stops before opening any socket.
 */
import { hostname } from "node:os";
import { HEADROOM_DEFAULTS, type HeadroomLimits } from "../call/headroom";
// Provider defaults and variable names live in each provider's options module (the single source).
import { CARTESIA_DEFAULTS, CARTESIA_ENV } from "../providers/cartesia/options";
import { DEEPGRAM_CHUNK_MS_RANGE, DEEPGRAM_DEFAULTS, DEEPGRAM_ENV } from "../providers/deepgram/options";
import { GEMINI_DEFAULTS, GEMINI_ENV } from "../providers/gemini/options";
import { OPENAI_ENV } from "../providers/openai/options";
import { parseTransferTargets } from "../call/transfer";
import { PACER_STALL_LOG_MS } from "./pacer-stall-log";
import { RECOGNISER_NICE_DEFAULT } from "../providers/pocketsphinx/recogniser-process";
import { RTP_RX_BUDGET_MS } from "../rtp/receive-budget";
import { conversationConfig, type ConversationConfig } from "./config-turns";
import { rtpMediaConfig, type RtpMediaConfig } from "./config-rtp";
import { sipConfig, type SipConfig } from "./config-sip";
import { vadConfig, type VadConfig } from "./config-vad";
import { bool, ConfigError, int, intOrOff, ip, oneOf, str, url, type Env } from "./env-vars";
import { outboundConfig, type Mode, type OutboundConfig } from "./outbound-config";
import { tracingConfig } from "./otel-config";
import type { TracingConfig } from "../metrics/trace-export";
export { ConfigError } from "./env-vars";
export { requireOutbound, type Mode, type OutboundConfig } from "./outbound-config";
export type { ConversationConfig } from "./config-turns";
export type { InboundAuthConfig, RateLimitConfig, RegisterConfig, SipTlsConfig } from "./config-sip";

export type SttChoice = "deepgram" | "pocketsphinx";
export type LlmChoice = "gemini" | "openai" | "scripted";
export type TtsChoice = "cartesia" | "flite";

/**
 * MAX_CALLS defaults, from measurement on one core of this machine (README, Benchmarks). Cloud: 100, the
 * highest N through the whole gate (every call hears its replies, CPU < 80 %, gap p90 ≤ 5 ms and p99 ≤ 10 ms,
 * no silence inside a phrase, OPTIONS within 50 ms) under callers the project did not write (session 13's
 * independent check, 6 Dec 2026: SIPp with other voices, −65 dBFS line noise under the silences, 48 s calls,
 * admission on, OPTIONS probed every 100 ms): 100 calls 49.6 % CPU, gap p99 3.7 ms, OPTIONS max 24 ms; 150
 * failed OPTIONS (max 130 ms) and 200 the CPU gate (91 %). bench:load's own callers (digital-zero silences)
 * pass at 200 on a quiet core. Above the default, the headroom admission (ADMISSION_*) still refuses calls
 * that would hurt the live ones. Offline (one pocketsphinx process per call): no N passes the strict gate
 * (one stall of 70–100 ms per run even at 1 call); at 4 calls every call is answered (reply p50 1.8 s), gap
 * p90 7.5 ms, no silence in phrases.
 */
export const MAX_CALLS_DEFAULTS = { cloud: 100, offline: 4 } as const;

/**
 * The agent's configuration; the SIP side (listening, transports, front, source gate, rate limits,
 * registration, timers): ./config-sip.ts; the VAD's part: ./config-vad.ts; the RTP media rules
 * (timeouts, latching): ./config-rtp.ts.
 */
export interface Config extends SipConfig, VadConfig, RtpMediaConfig {
  rtpPortStart: number;
  rtpPortEnd: number;
  serverHost: string;
  serverPort: number;
  /** TRANSFER_TARGETS: names → SIP URI or E.164 number (src/call/transfer.ts); empty = no transfers. */
  transferTargets: Map<string, string>;
  /** TRANSFER_NOTIFY_TIMEOUT_S: wait for the final NOTIFY of a REFER, ms. */
  transferNotifyTimeoutMs: number;
  /**
   * TRANSFER_FALLBACK: when the trunk refuses the REFER, `bridge` calls the target through the trunk and
   * bridges the two calls (src/call/transfer-bridge.ts); `none` (default) tells the caller it failed.
   */
  transferFallback: "bridge" | "none";
  scriptFile?: string;
  logLevel: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
  logPii: boolean;
  /** LOG_RATE_LIMIT: lines per message kind per second before the rest are summarised; 0 = no limit. */
  logRateLimit: number;
  /** OpenTelemetry traces (the standard OTEL_* variables, src/cli/otel-config.ts); undefined = off. */
  tracing?: TracingConfig;
  stt: SttChoice;
  /** STT_STEP_GRAMMAR: scripted step kinds whose expected words become a pocketsphinx grammar (default category; [] = off). */
  sttStepGrammar: ("category" | "yes_no" | "digits")[];
  /** STT_RECOGNISER_NICE: added to the nice value of each pocketsphinx process and its feeder (0–19; recogniser-process.ts). */
  sttRecogniserNice: number;
  llm: LlmChoice;
  tts: TtsChoice;
  deepgram: { apiKey?: string; model: string; baseUrl?: string; chunkMs: number };
  gemini: { apiKey?: string; model: string; baseUrl?: string };
  openai: { apiKey?: string; model?: string; baseUrl?: string };
  /** `voiceId`: CARTESIA_VOICE_ID, default CARTESIA_DEFAULTS.voiceId (a stock Cartesia voice). */
  cartesia: { apiKey?: string; model: string; voiceId: string; baseUrl?: string };
  /** System prompt file for the LLM (inbound). */
  inboundPromptFile?: string;
  /** Maximum simultaneous calls; further INVITEs get 486/503. */
  /** ADMISSION_CPU_PCT, ADMISSION_PACER_P99_MS, ADMISSION_VAD_SKIP_PCT, ADMISSION_MIN_CALLS: when a new call gets 503 "overloaded" (src/call/headroom.ts). */
  admission: HeadroomLimits;
  /** MEDIA_WORKER: RTP sockets and the 20 ms pacer in a worker thread of their own (src/rtp/worker/). Default false. */
  mediaWorker: boolean;
  /** MEDIA_WORKER_SLICE_US: the media worker thread's time slice, µs (0 = the kernel's; 100–100,000). */
  mediaWorkerSliceUs: number;
  /** MEDIA_WORKER_CALL_NICE: raise the call thread's nice value by this much when the media worker runs (0 = unchanged; 0–19). */
  mediaWorkerCallNice: number;
  /** PACER_HOME_PHASES: the call thread's pacer spreads the calls' shared 20 ms ticks over 1, 2 or 4 phases (src/rtp/pacer.ts). */
  pacerHomePhases: 1 | 2 | 4;
  /** PACER_STALL_LOG_MS: pacer ticks at least this late are logged with what held the thread, ms (pacer-stall-log.ts). */
  pacerStallLogMs: number;
  /** RTP_RX_BUDGET_MS: RTP receive work per event-loop turn before later datagrams wait for a later slice, ms (0 = off; src/rtp/receive-budget.ts). LOOP_TURN_LOG_MS: turns at least this long logged, ms (0 = off). */
  rtpRxBudgetMs: number;
  loopTurnLogMs: number;
  /** RUNTIME_THREADS_NICE: the runtime's helper threads run this much nicer than the call thread (0 = unchanged; call-pacer.ts). */
  runtimeThreadsNice: number;
  /** RUNTIME_THREADS_NICE_KEEP: names (comm) of helper threads RUNTIME_THREADS_NICE leaves alone, e.g. "JITWorker". */
  runtimeThreadsNiceKeep: string[];
  /** CALL_THREAD_SLICE_US: the call thread's time slice, µs (0 = the kernel's; 100–100,000; call-pacer.ts). */
  callThreadSliceUs: number;
  /** FLITE_WORKERS: threads synthesising flite speech off the RTP pacing thread; 0 = on it. Default 2. */
  fliteWorkers: number;
  /** FLITE_FALLBACK_WARM: with a cloud TTS, start flite's workers (the fallback voice) in the background after start-up, not on the first fallback. Default true. */
  fliteFallbackWarm: boolean;
  maxCalls: number;
  outbound: OutboundConfig;
  /** API_TOKEN: `Authorization: Bearer <API_TOKEN>` required on the HTTP API; unset = loopback only. */
  apiToken?: string;
  /** The SERVER_HOST asked for, when `serverHost` was forced to 127.0.0.1 because API_TOKEN is unset. */
  serverHostRequested?: string;
  /** DATA_DIR: where calls.db lives, default ./data. */
  dataDir: string;
  /** DATABASE_URL: postgres://… stores the records in PostgreSQL (shared by a fleet); unset = SQLite in DATA_DIR. */
  databaseUrl?: string;
  /** AGENT_ID: this agent's name in shared records; default `<hostname>:<SIP_PORT>`. */
  agentId: string;
  /** RECORD_RETENTION_DAYS: ended calls older than this are deleted in the background; unset = keep all. */
  recordRetentionDays?: number;
  /** RECORDING=on: a stereo WAV per call in DATA_DIR/recordings (caller left, agent right); default off. */
  recording: boolean;
  /** SIGTERM: how long live calls may go on before they are ended politely, s. */
  drainTimeoutS: number;
  /** IDLE_GC_S: a full garbage collection after this long with no live call, s (0 = never; src/util/idle-collector.ts). */
  idleGcS: number;
  conversation: ConversationConfig;
}

/** DEEPGRAM_CHUNK_MS: audio per WebSocket message, ms, whole 20 ms frames (DEEPGRAM_CHUNK_MS_RANGE). */
function deepgramChunkMs(env: Env): number {
  const { min, max, step } = DEEPGRAM_CHUNK_MS_RANGE;
  const ms = int(env, DEEPGRAM_ENV.chunkMs, DEEPGRAM_DEFAULTS.chunkMs, min, max);
  if (ms % step !== 0) throw new ConfigError(DEEPGRAM_ENV.chunkMs, `expected a multiple of ${step} (whole 20 ms frames), got ${ms}`);
  return ms;
}

/** TRANSFER_FALLBACK=bridge places calls through the trunk: it needs SIP_TRUNK_HOST and SIP_CALLER_ID. */
function transferFallbackOf(env: Env, outbound: OutboundConfig): "bridge" | "none" {
  const v = oneOf(env, "TRANSFER_FALLBACK", ["none", "bridge"] as const, "none");
  if (v === "bridge" && (!outbound.trunkHost || !outbound.callerId)) {
    throw new ConfigError("TRANSFER_FALLBACK", "bridge calls the target through the trunk: set SIP_TRUNK_HOST and SIP_CALLER_ID too");
  }
  return v;
}

function transferTargetsOf(env: Env): Map<string, string> {
  const v = str(env, "TRANSFER_TARGETS");
  if (v === undefined) return new Map();
  try {
    return parseTransferTargets(v);
  } catch (err) {
    throw new ConfigError("TRANSFER_TARGETS", (err as Error).message);
  }
}

/** DATABASE_URL: a postgres:// or postgresql:// URL with a host. */
function databaseUrl(env: Env): string | undefined {
  const v = str(env, "DATABASE_URL");
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError("DATABASE_URL", "expected postgres://user:password@host:port/database");
  }
  if (!/^postgres(ql)?:$/.test(u.protocol) || u.hostname === "") {
    throw new ConfigError("DATABASE_URL", `expected postgres://user:password@host:port/database, got a ${u.protocol}// URL`);
  }
  return v;
}

/** AGENT_ID: 1–64 of [A-Za-z0-9._:@-]; default `<hostname>:<SIP_PORT>`, unique per host and port. */
function agentId(env: Env): string {
  const v = str(env, "AGENT_ID") ?? `${hostname()}:${str(env, "SIP_PORT") ?? "5060"}`;
  if (!/^[A-Za-z0-9._:@-]{1,64}$/.test(v)) throw new ConfigError("AGENT_ID", `expected 1-64 letters, digits or . _ : @ -, got "${v}"`);
  return v;
}

/**
 * Reads and validates the configuration.
 * @throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const sip = sipConfig(env);
  const rtpPortStart = int(env, "RTP_PORT_START", 10000, 1024, 65534);
  const rtpPortEnd = int(env, "RTP_PORT_END", 20000, 1025, 65535);
  if (rtpPortEnd <= rtpPortStart + 1)
    throw new ConfigError("RTP_PORT_END", `must be above RTP_PORT_START + 1 (${rtpPortStart + 1}), got ${rtpPortEnd}`);

  const deepgram = {
    apiKey: str(env, DEEPGRAM_ENV.apiKey),
    model: str(env, DEEPGRAM_ENV.model) ?? DEEPGRAM_DEFAULTS.model,
    baseUrl: url(env, DEEPGRAM_ENV.baseUrl),
    chunkMs: deepgramChunkMs(env),
  };
  const gemini = {
    apiKey: str(env, GEMINI_ENV.apiKey),
    model: str(env, GEMINI_ENV.model) ?? GEMINI_DEFAULTS.model,
    baseUrl: url(env, GEMINI_ENV.baseUrl),
  };
  // No model default for OpenAI-compatible servers: each names its own models (OPENAI_MODEL is required).
  const openai = { apiKey: str(env, OPENAI_ENV.apiKey), model: str(env, OPENAI_ENV.model), baseUrl: url(env, OPENAI_ENV.baseUrl) };
  const cartesia = {
    apiKey: str(env, CARTESIA_ENV.apiKey),
    model: str(env, CARTESIA_ENV.model) ?? CARTESIA_DEFAULTS.model,
    voiceId: str(env, CARTESIA_ENV.voiceId) ?? CARTESIA_DEFAULTS.voiceId,
    baseUrl: url(env, CARTESIA_ENV.baseUrl),
  };

  const stt = oneOf<SttChoice>(env, "STT_PROVIDER", ["deepgram", "pocketsphinx"], deepgram.apiKey ? "deepgram" : "pocketsphinx");
  const llm = oneOf<LlmChoice>(
    env,
    "LLM_PROVIDER",
    ["gemini", "openai", "scripted"],
    gemini.apiKey ? "gemini" : openai.baseUrl ? "openai" : "scripted",
  );
  const tts = oneOf<TtsChoice>(env, "TTS_PROVIDER", ["cartesia", "flite"], cartesia.apiKey ? "cartesia" : "flite");
  if (stt === "deepgram" && !deepgram.apiKey) throw new ConfigError("DEEPGRAM_API_KEY", "required when STT_PROVIDER=deepgram");
  if (llm === "gemini" && !gemini.apiKey) throw new ConfigError("GEMINI_API_KEY", "required when LLM_PROVIDER=gemini");
  if (llm === "openai" && !openai.baseUrl) throw new ConfigError("OPENAI_BASE_URL", "required when LLM_PROVIDER=openai");
  if (llm === "openai" && !openai.model) throw new ConfigError("OPENAI_MODEL", "required when LLM_PROVIDER=openai");
  if (tts === "cartesia" && !cartesia.apiKey) throw new ConfigError("CARTESIA_API_KEY", "required when TTS_PROVIDER=cartesia");

  const apiToken = env.API_TOKEN === undefined || env.API_TOKEN === "" ? undefined : env.API_TOKEN;
  if (apiToken !== undefined && !/^[\x21-\x7e]{16,}$/.test(apiToken)) {
    throw new ConfigError("API_TOKEN", "expected at least 16 printable characters without spaces");
  }
  const serverHostRequested = ip(env, "SERVER_HOST", "0.0.0.0")!;
  const outbound = outboundConfig(env);

  return {
    ...sip,
    rtpPortStart,
    rtpPortEnd,
    // Without API_TOKEN anyone who reaches the port could place (paid) calls: listen on loopback only.
    serverHost: apiToken ? serverHostRequested : "127.0.0.1",
    serverHostRequested: apiToken || serverHostRequested === "127.0.0.1" ? undefined : serverHostRequested,
    serverPort: int(env, "SERVER_PORT", 8000, 1, 65535),
    ...rtpMediaConfig(env),
    transferTargets: transferTargetsOf(env),
    transferNotifyTimeoutMs: int(env, "TRANSFER_NOTIFY_TIMEOUT_S", 30, 1, 600) * 1000,
    transferFallback: transferFallbackOf(env, outbound),
    scriptFile: str(env, "SCRIPT_FILE"),
    logLevel: oneOf(env, "LOG_LEVEL", ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const, "info"),
    logPii: bool(env, "LOG_PII", true),
    logRateLimit: int(env, "LOG_RATE_LIMIT", 50, 0, 1_000_000),
    tracing: tracingConfig(env),
    stt,
    sttStepGrammar: stepGrammarKinds(env),
    sttRecogniserNice: int(env, "STT_RECOGNISER_NICE", RECOGNISER_NICE_DEFAULT, 0, 19),
    llm,
    tts,
    deepgram,
    gemini,
    openai,
    cartesia,
    inboundPromptFile: str(env, "INBOUND_PROMPT_FILE"),
    maxCalls: int(env, "MAX_CALLS", stt === "pocketsphinx" ? MAX_CALLS_DEFAULTS.offline : MAX_CALLS_DEFAULTS.cloud, 1, 10_000),
    fliteWorkers: int(env, "FLITE_WORKERS", 2, 0, 64),
    fliteFallbackWarm: bool(env, "FLITE_FALLBACK_WARM", true),
    ...vadConfig(env),
    mediaWorker: bool(env, "MEDIA_WORKER", false),
    mediaWorkerSliceUs: intOrOff(env, "MEDIA_WORKER_SLICE_US", 100, 100_000),
    mediaWorkerCallNice: int(env, "MEDIA_WORKER_CALL_NICE", 0, 0, 19),
    pacerHomePhases: Number(oneOf(env, "PACER_HOME_PHASES", ["1", "2", "4"] as const, "4")) as 1 | 2 | 4,
    pacerStallLogMs: int(env, "PACER_STALL_LOG_MS", PACER_STALL_LOG_MS, 1, 60_000),
    rtpRxBudgetMs: int(env, "RTP_RX_BUDGET_MS", RTP_RX_BUDGET_MS, 0, 1000),
    loopTurnLogMs: int(env, "LOOP_TURN_LOG_MS", 0, 0, 60_000),
    runtimeThreadsNice: int(env, "RUNTIME_THREADS_NICE", 0, 0, 19),
    runtimeThreadsNiceKeep: threadNames(env, "RUNTIME_THREADS_NICE_KEEP"),
    callThreadSliceUs: intOrOff(env, "CALL_THREAD_SLICE_US", 100, 100_000),
    admission: {
      cpuPct: int(env, "ADMISSION_CPU_PCT", HEADROOM_DEFAULTS.cpuPct, 0, 6400),
      pacerP99Ms: int(env, "ADMISSION_PACER_P99_MS", HEADROOM_DEFAULTS.pacerP99Ms, 0, 1000),
      vadSkipPct: int(env, "ADMISSION_VAD_SKIP_PCT", HEADROOM_DEFAULTS.vadSkipPct, 0, 100),
      minCalls: int(env, "ADMISSION_MIN_CALLS", HEADROOM_DEFAULTS.minCalls, 0, 10_000),
    },
    outbound,
    apiToken,
    dataDir: str(env, "DATA_DIR") ?? "./data",
    databaseUrl: databaseUrl(env),
    agentId: agentId(env),
    recording: oneOf(env, "RECORDING", ["off", "on"] as const, "off") === "on",
    recordRetentionDays: str(env, "RECORD_RETENTION_DAYS") === undefined ? undefined : int(env, "RECORD_RETENTION_DAYS", 0, 1, 36_500),
    drainTimeoutS: int(env, "DRAIN_TIMEOUT_S", 30, 0, 3600),
    idleGcS: int(env, "IDLE_GC_S", 40, 0, 86_400),
    conversation: conversationConfig(env),
  };
}

/** STT_STEP_GRAMMAR: "off", or comma-separated step kinds (category, yes_no, digits); default "category" (bench stt-grammar.ts). */
function stepGrammarKinds(env: Env): Config["sttStepGrammar"] {
  const v = str(env, "STT_STEP_GRAMMAR") ?? "category";
  if (v === "off") return [];
  const kinds = v.split(",").map((k) => k.trim());
  for (const k of kinds) if (k !== "category" && k !== "yes_no" && k !== "digits") throw new ConfigError("STT_STEP_GRAMMAR", `expected "off" or comma-separated category, yes_no, digits, got "${k}"`);
  return [...new Set(kinds)] as Config["sttStepGrammar"];
}

/** A comma-separated list of thread names (comm: 1–15 characters, Linux's TASK_COMM_LEN − 1); "" = none. @throws ConfigError */
function threadNames(env: Env, name: string): string[] {
  const names = (str(env, name) ?? "").split(",").map((n) => n.trim()).filter(Boolean);
  for (const n of names) if (n.length > 15) throw new ConfigError(name, `thread name "${n}" is longer than 15 characters (Linux's comm)`);
  return names;
}
