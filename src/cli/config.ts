/**
 * Typed configuration from the environment (and `.env`, which Bun loads from the working directory
 * before our code runs). Every variable is validated at start-up; a bad value throws `ConfigError`
 * naming the variable and what it accepts, and the process stops before opening any socket.
 */
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

export type ProviderChoice<T extends string> = T;
export type SttChoice = "deepgram" | "pocketsphinx";
export type LlmChoice = "gemini" | "openai" | "scripted";
export type TtsChoice = "cartesia" | "flite";
export type Mode = "inbound" | "outbound" | "all";

export interface Config {
  sipHost: string;
  sipPort: number;
  /** Address written into Contact and SDP `c=`: SIP_PUBLIC_IP, else the bind address, else the first non-loopback IPv4. */
  publicIp: string;
  rtpPortStart: number;
  rtpPortEnd: number;
  serverHost: string;
  serverPort: number;
  /** Ringing time before answering, ms (180 Ringing is sent meanwhile). */
  answerDelayMs: number;
  scriptFile?: string;
  logLevel: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
  logPii: boolean;
  stt: SttChoice;
  llm: LlmChoice;
  tts: TtsChoice;
  deepgram: { apiKey?: string; model: string; baseUrl?: string };
  gemini: { apiKey?: string; model: string; baseUrl?: string };
  openai: { apiKey?: string; model?: string; baseUrl?: string };
  cartesia: { apiKey?: string; model: string; voiceId?: string; baseUrl?: string };
  /** System prompt file for the LLM (inbound). */
  inboundPromptFile?: string;
  /** Maximum simultaneous calls; further INVITEs get 486/503. */
  maxCalls: number;
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const v = str(env, name);
  if (v === undefined) return def;
  if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `expected an integer from ${min} to ${max}, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `expected an integer from ${min} to ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const v = str(env, name);
  if (v === undefined) return def;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(name, `expected true or false, got "${v}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], def: T): T {
  const v = str(env, name);
  if (v === undefined) return def;
  if (!(allowed as readonly string[]).includes(v.toLowerCase()))
    throw new ConfigError(name, `expected one of ${allowed.join(", ")}, got "${v}"`);
  return v.toLowerCase() as T;
}

function ip(env: Env, name: string, def?: string): string | undefined {
  const v = str(env, name) ?? def;
  if (v === undefined) return undefined;
  if (isIP(v) !== 4) throw new ConfigError(name, `expected an IPv4 address, got "${v}"`);
  return v;
}

function url(env: Env, name: string): string | undefined {
  const v = str(env, name);
  if (v === undefined) return undefined;
  try {
    const u = new URL(v);
    if (!/^(https?|wss?):$/.test(u.protocol)) throw new Error();
  } catch {
    throw new ConfigError(name, `expected an http(s):// or ws(s):// URL, got "${v}"`);
  }
  return v.replace(/\/+$/, "");
}

/** The first non-internal IPv4 address of this host, or 127.0.0.1. */
export function detectLocalIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

/**
 * Reads and validates the configuration.
 * @throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const sipHost = ip(env, "SIP_HOST", "0.0.0.0")!;
  const sipPort = int(env, "SIP_PORT", 5060, 1, 65535);
  const rtpPortStart = int(env, "RTP_PORT_START", 10000, 1024, 65534);
  const rtpPortEnd = int(env, "RTP_PORT_END", 20000, 1025, 65535);
  if (rtpPortEnd <= rtpPortStart + 1)
    throw new ConfigError("RTP_PORT_END", `must be above RTP_PORT_START + 1 (${rtpPortStart + 1}), got ${rtpPortEnd}`);
  const publicIp = ip(env, "SIP_PUBLIC_IP") ?? (sipHost !== "0.0.0.0" ? sipHost : detectLocalIp());

  const deepgram = { apiKey: str(env, "DEEPGRAM_API_KEY"), model: str(env, "DEEPGRAM_MODEL") ?? "nova-2-phonecall", baseUrl: url(env, "DEEPGRAM_BASE_URL") };
  const gemini = { apiKey: str(env, "GEMINI_API_KEY"), model: str(env, "GEMINI_MODEL") ?? "gemini-2.0-flash", baseUrl: url(env, "GEMINI_BASE_URL") };
  const openai = { apiKey: str(env, "OPENAI_API_KEY"), model: str(env, "OPENAI_MODEL"), baseUrl: url(env, "OPENAI_BASE_URL") };
  const cartesia = {
    apiKey: str(env, "CARTESIA_API_KEY"),
    model: str(env, "CARTESIA_MODEL") ?? "sonic-2",
    voiceId: str(env, "CARTESIA_VOICE_ID"),
    baseUrl: url(env, "CARTESIA_BASE_URL"),
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
  if (tts === "cartesia" && !cartesia.voiceId) throw new ConfigError("CARTESIA_VOICE_ID", "required when TTS_PROVIDER=cartesia");

  return {
    sipHost,
    sipPort,
    publicIp,
    rtpPortStart,
    rtpPortEnd,
    serverHost: ip(env, "SERVER_HOST", "0.0.0.0")!,
    serverPort: int(env, "SERVER_PORT", 8000, 1, 65535),
    answerDelayMs: int(env, "ANSWER_DELAY_MS", 0, 0, 120_000),
    scriptFile: str(env, "SCRIPT_FILE"),
    logLevel: oneOf(env, "LOG_LEVEL", ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const, "info"),
    logPii: bool(env, "LOG_PII", true),
    stt,
    llm,
    tts,
    deepgram,
    gemini,
    openai,
    cartesia,
    inboundPromptFile: str(env, "INBOUND_PROMPT_FILE"),
    maxCalls: int(env, "MAX_CALLS", 100, 1, 10_000),
  };
}
