/**
 * Can the cloud providers chosen by the configuration be reached at all? A typo in a `*_BASE_URL` or a
 * host without a route out otherwise shows only per call, in its logs, while every call quietly runs on
 * the offline fallback (s15 report, finding 6). One TCP connection per endpoint to its host and port —
 * no TLS, no request, no key sent (reachability, not credentials: a request would cost quota) — at
 * start-up in the background (the agent takes calls meanwhile) and awaited by `check-config`.
 *
 * MAX_CALLS is not lowered on a failed probe: the probe is one moment (a network that comes up a second
 * later, a provider's brief outage), while MAX_CALLS is the operator's; a machine that runs out of CPU on
 * fallback calls is what the headroom admission (ADMISSION_*, src/call/headroom.ts) refuses new calls for.
 */
import { connect } from "node:net";
import { CARTESIA_DEFAULTS, CARTESIA_ENV } from "../providers/cartesia/options";
import { DEEPGRAM_DEFAULTS, DEEPGRAM_ENV } from "../providers/deepgram/options";
import { GEMINI_DEFAULTS, GEMINI_ENV } from "../providers/gemini/options";
import { OPENAI_ENV } from "../providers/openai/options";
import type { Config } from "./config";

/** How long one connection attempt may take before the endpoint counts as unreachable, ms. */
export const CLOUD_PROBE_TIMEOUT_MS = 3000;

/** One chosen cloud provider's endpoint, and what its calls fall back to. */
export interface CloudEndpoint {
  provider: "deepgram" | "gemini" | "openai" | "cartesia";
  /** The variable that sets the endpoint (e.g. DEEPGRAM_BASE_URL), for the message. */
  variable: string;
  /** The base URL probed (the configured one, else the provider's default). */
  url: string;
  /** True when `variable` set `url`; false for the provider's default (the message then says so). */
  configured: boolean;
  /** The offline provider its calls use when it fails (src/providers/offline.ts). */
  fallback: "pocketsphinx" | "scripted" | "flite";
}

/** The endpoints of the cloud providers `cfg` chose (none offline). */
export function cloudEndpoints(cfg: Config): CloudEndpoint[] {
  const out: CloudEndpoint[] = [];
  if (cfg.stt === "deepgram") out.push({ provider: "deepgram", variable: DEEPGRAM_ENV.baseUrl, url: cfg.deepgram.baseUrl ?? DEEPGRAM_DEFAULTS.baseUrl, configured: !!cfg.deepgram.baseUrl, fallback: "pocketsphinx" });
  if (cfg.llm === "gemini") out.push({ provider: "gemini", variable: GEMINI_ENV.baseUrl, url: cfg.gemini.baseUrl ?? GEMINI_DEFAULTS.baseUrl, configured: !!cfg.gemini.baseUrl, fallback: "scripted" });
  if (cfg.llm === "openai" && cfg.openai.baseUrl) out.push({ provider: "openai", variable: OPENAI_ENV.baseUrl, url: cfg.openai.baseUrl, configured: true, fallback: "scripted" });
  if (cfg.tts === "cartesia") out.push({ provider: "cartesia", variable: CARTESIA_ENV.baseUrl, url: cfg.cartesia.baseUrl ?? CARTESIA_DEFAULTS.baseUrl, configured: !!cfg.cartesia.baseUrl, fallback: "flite" });
  return out;
}

/** The result of one probe: reached (with the connect time, ms), or the system error code or `timeout`. */
export type ProbeResult = { endpoint: CloudEndpoint; ok: true; ms: number } | { endpoint: CloudEndpoint; ok: false; error: string };

/** Host and TCP port of a base URL: the URL's port, else 443 for https/wss, 80 for http/ws. */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : u.protocol === "https:" || u.protocol === "wss:" ? 443 : 80;
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port };
}

/** Opens (and at once closes) one TCP connection to the endpoint's host and port. Never rejects. */
export function probeEndpoint(endpoint: CloudEndpoint, timeoutMs = CLOUD_PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const { host, port } = hostPort(endpoint.url);
    const socket = connect({ host, port });
    const timer = setTimeout(() => finish({ endpoint, ok: false, error: "timeout" }), timeoutMs);
    socket.once("connect", () => finish({ endpoint, ok: true, ms: Math.round(performance.now() - t0) }));
    socket.once("error", (err: Error & { code?: string }) => finish({ endpoint, ok: false, error: err.code ?? err.message }));
  });
}

/** Probes every endpoint at once; resolves within about `timeoutMs`. */
export function probeCloud(endpoints: CloudEndpoint[], timeoutMs = CLOUD_PROBE_TIMEOUT_MS): Promise<ProbeResult[]> {
  return Promise.all(endpoints.map((e) => probeEndpoint(e, timeoutMs)));
}

/**
 * The one-line warning for an unreachable endpoint (stderr of check-config and start-up). The variable in
 * brackets set the URL; for the provider's own endpoint it says "default; <VARIABLE> unset" (s17: a user
 * with only the key set was told to look at a variable they had never set).
 */
export function unreachableMessage(r: Extract<ProbeResult, { ok: false }>): string {
  const e = r.endpoint;
  const from = e.configured ? e.variable : `default; ${e.variable} unset`;
  return `voice-agent: warning: ${e.provider} endpoint ${e.url} (${from}) unreachable (${r.error}): its calls will fall back to ${e.fallback}`;
}
