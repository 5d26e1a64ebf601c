/**
 * The SIP side's variables beyond addresses and ports: registration (SIP_REGISTRAR), the per-source
 * rate limit, inbound digest authentication and SIP over TLS. A bad value is a `ConfigError` naming
 * the variable.
 */
import { existsSync } from "node:fs";
import { T1, T2, timerValues, type TimerValues } from "../sip/transaction/index.ts";
import { ConfigError, host, int, pair, str, type Env } from "./env-vars";

export type { TimerValues };

/** SIP_REGISTRAR: where and as whom we register (RFC 3261 §10). */
export interface RegisterConfig {
  host: string;
  port: number;
  /** sip:SIP_USERNAME@host, the address of record. */
  aor: string;
  /** SIP_REGISTER_EXPIRES, s. */
  expiresS: number;
}

/** SIP_RATE_LIMIT / SIP_RATE_BURST: a token bucket per source IP. */
export interface RateLimitConfig {
  /** Requests per second; 0 = off. */
  perSecond: number;
  burst: number;
}

/** SIP_INBOUND_USERNAME/SIP_INBOUND_PASSWORD: digest credentials inbound INVITEs must present. */
export interface InboundAuthConfig {
  username: string;
  password: string;
  realm?: string;
  /** Challenge order (RFC 8760 §2.4). */
  algorithms: ("SHA-256" | "MD5")[];
}

/** SIP_TLS_PORT with its PEM files. */
export interface SipTlsConfig {
  port: number;
  certFile: string;
  keyFile: string;
}

/** SIP_REGISTRAR (host or host:port) with SIP_USERNAME and SIP_REGISTER_EXPIRES; undefined when unset. */
export function registerConfig(env: Env): RegisterConfig | undefined {
  const v = str(env, "SIP_REGISTRAR");
  if (v === undefined) return undefined;
  const m = /^([^:\s]+)(?::(\d{1,5}))?$/.exec(v);
  const port = m?.[2] === undefined ? 5060 : Number(m[2]);
  if (!m || port < 1 || port > 65535) throw new ConfigError("SIP_REGISTRAR", `expected host or host:port, got "${v}"`);
  const hostName = host({ SIP_REGISTRAR: m[1] }, "SIP_REGISTRAR")!;
  const user = str(env, "SIP_USERNAME");
  if (user === undefined) throw new ConfigError("SIP_USERNAME", "required with SIP_REGISTRAR (the user part of the registered address)");
  if (!/^[A-Za-z0-9+._~-]{1,64}$/.test(user)) throw new ConfigError("SIP_USERNAME", `expected letters, digits, + . _ ~ - for a registered user, got "${user}"`);
  return { host: hostName, port, aor: `sip:${user}@${hostName}`, expiresS: int(env, "SIP_REGISTER_EXPIRES", 600, 10, 86_400) };
}

/** SIP_RATE_LIMIT (default 100/s per source IP, 0 = off) and SIP_RATE_BURST (default 2 × the rate). */
export function rateLimit(env: Env): RateLimitConfig {
  const perSecond = int(env, "SIP_RATE_LIMIT", 100, 0, 1_000_000);
  const burst = int(env, "SIP_RATE_BURST", Math.max(1, perSecond * 2), 1, 10_000_000);
  return { perSecond, burst };
}

/** SIP_INBOUND_USERNAME / SIP_INBOUND_PASSWORD (set together), SIP_INBOUND_REALM (default: SIP_PUBLIC_IP). */
export function inboundAuth(env: Env): InboundAuthConfig | undefined {
  const p = pair(env, "SIP_INBOUND_USERNAME", "SIP_INBOUND_PASSWORD");
  if (!p) return undefined;
  const realm = str(env, "SIP_INBOUND_REALM");
  // A quoted-string without quotes or backslashes (RFC 3261 §25.1 realm-value), so it needs no escaping.
  if (realm !== undefined && !/^[\x20\x21\x23-\x5b\x5d-\x7e]{1,128}$/.test(realm)) {
    throw new ConfigError("SIP_INBOUND_REALM", `expected up to 128 printable characters without " or \\, got "${realm}"`);
  }
  // SIP_INBOUND_DIGEST_ALGORITHMS: challenge order (RFC 8760 §2.4); MD5 first for UACs that answer only the first.
  const list = (str(env, "SIP_INBOUND_DIGEST_ALGORITHMS") ?? "SHA-256,MD5").split(",").map((a) => a.trim().toUpperCase()).filter(Boolean);
  const algorithms: ("SHA-256" | "MD5")[] = [];
  for (const a of list) {
    if (a !== "SHA-256" && a !== "MD5") throw new ConfigError("SIP_INBOUND_DIGEST_ALGORITHMS", `expected SHA-256 and/or MD5 in order of preference, got "${a}"`);
    if (!algorithms.includes(a)) algorithms.push(a);
  }
  if (algorithms.length === 0) throw new ConfigError("SIP_INBOUND_DIGEST_ALGORITHMS", "expected SHA-256 and/or MD5 in order of preference");
  return { username: p[0], password: p[1], realm, algorithms };
}

/** SIP_TLS_PORT (0 or unset: off) and the two PEM files it needs; a startup error names what is missing. */
export function sipTlsOf(env: Env): SipTlsConfig | undefined {
  const port = int(env, "SIP_TLS_PORT", 0, 0, 65535);
  if (port === 0) return undefined;
  const certFile = str(env, "SIP_TLS_CERT_FILE");
  const keyFile = str(env, "SIP_TLS_KEY_FILE");
  if (!certFile) throw new ConfigError("SIP_TLS_CERT_FILE", "required with SIP_TLS_PORT (PEM certificate chain)");
  if (!keyFile) throw new ConfigError("SIP_TLS_KEY_FILE", "required with SIP_TLS_PORT (PEM private key)");
  for (const [name, path] of [["SIP_TLS_CERT_FILE", certFile], ["SIP_TLS_KEY_FILE", keyFile]] as const) {
    if (!existsSync(path)) throw new ConfigError(name, `file not found: ${path}`);
  }
  return { port, certFile, keyFile };
}

/**
 * SIP_T1_MS: RFC 3261 T1, the round-trip estimate every SIP transaction timer derives from (Table 4:
 * A, E, G start at T1; B, F, H, J, L, M are 64·T1), default 500 ms; T2 (4 s) and T4 (5 s) stay.
 * §17.1.1.1: "Elements MAY (though it is NOT RECOMMENDED) use smaller values of T1 within closed, private
 * networks that do not permit general Internet connection. T1 MAY be chosen larger, and this is
 * RECOMMENDED if it is known in advance (such as on high latency access links) that the RTT is larger."
 * A lab knob below 500 (the end-to-end tests wait out 64·T1 in seconds); undefined = the defaults.
 */
export function sipTimersOf(env: Env): TimerValues | undefined {
  const t1 = int(env, "SIP_T1_MS", T1, 10, T2);
  return t1 === T1 ? undefined : timerValues(t1);
}
