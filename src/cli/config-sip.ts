/**
 * The SIP side of the configuration (src/cli/config.ts spreads `sipConfig(env)` into Config): where the
 * agent listens (address, ports, transports, the SIP front thread), the address it writes into Contact
 * and SDP, who may send requests (trusted sources, per-source rate limit and pending calls, inbound
 * digest authentication), registration (SIP_REGISTRAR) and the RFC 3261 timers.
 * A bad value is a `ConfigError` naming the variable.
 */
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { T1, T2, timerValues, type TimerValues } from "../sip/transaction/index.ts";
import { bool, ConfigError, host, int, intOrOff, ip, ipRangeList, oneOf, pair, str, type Env } from "./env-vars";

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
  /** SIP_INBOUND_MAX_FAILURES: wrong credentials from one source before it is locked out (0 = never). */
  maxFailures: number;
  /** SIP_INBOUND_LOCKOUT_S: how long, s (src/sip/ua/digest-lockout.ts). */
  lockoutS: number;
}

/** SIP_TLS_PORT with its PEM files. */
export interface SipTlsConfig {
  port: number;
  certFile: string;
  keyFile: string;
}

/** The SIP settings (part of Config). */
export interface SipConfig {
  sipHost: string;
  sipPort: number;
  /** Address written into Contact and SDP `c=`: SIP_PUBLIC_IP, else the bind address, else the first non-loopback IPv4. */
  publicIp: string;
  /** Ringing time before answering, ms (180 Ringing is sent meanwhile). */
  answerDelayMs: number;
  /** SIP_TCP: listen on TCP on SIP_PORT too (default true). */
  sipTcp: boolean;
  /** SIP_UDP_RECEIVE_BUFFER_BYTES: SO_RCVBUF asked for the SIP UDP socket, bytes (0 = the kernel's default). */
  sipUdpReceiveBufferBytes: number;
  /** SIP_TLS_PORT with SIP_TLS_CERT_FILE and SIP_TLS_KEY_FILE (PEM): SIP over TLS; undefined = off. */
  sipTls?: SipTlsConfig;
  /** SIP_FRONT: the SIP UDP socket in a thread of its own that answers OPTIONS probes (src/sip/front/); default on. */
  sipFront: boolean;
  /** SIP_FRONT_SLICE_US: the SIP front thread's time slice, µs (0 = the kernel's; 100–100,000). */
  sipFrontSliceUs: number;
  /**
   * SIP_REGISTRAR (host or host:port; + SIP_USERNAME/SIP_PASSWORD, SIP_REGISTER_EXPIRES): register
   * `sip:USERNAME@HOST` with our Contact (src/sip/ua/registration.ts); undefined = no registration.
   */
  register?: RegisterConfig;
  /** SIP_MAX_PENDING_PER_SOURCE: unconfirmed (not yet ACKed) inbound calls per source IP, capped at MAX_CALLS/2. Default 10. */
  sipMaxPendingPerSource: number;
  /**
   * SIP_TRUSTED_IPS: requests are served only from these source addresses or CIDR ranges (the
   * trunk's); empty = from anyone. Others are refused at the transport, before any transaction.
   */
  sipTrustedIps: string[];
  /** SIP_UNTRUSTED: requests from untrusted sources get a stateless 403 (`reject`) or nothing (`drop`). */
  sipUntrusted: "reject" | "drop";
  /**
   * SIP_DIALOG_PEER_ONLY: in-dialog requests (BYE, re-INVITE, UPDATE, INFO, REFER, ACK) only from the
   * dialog's signalling peer address; others get 403 (sip/ua/delegate.ts `dialogPeerOnly`). Applies
   * when SIP_TRUSTED_IPS is empty (a trusted list already limits the senders, and a carrier may send a
   * dialog's requests from any of its addresses). Default true.
   */
  sipDialogPeerOnly: boolean;
  /** SIP_RATE_LIMIT: datagrams per second per source IP (0 = off); SIP_RATE_BURST: bucket size. */
  sipRateLimit: RateLimitConfig;
  /** SIP_INBOUND_USERNAME/SIP_INBOUND_PASSWORD: digest credentials inbound INVITEs must present. */
  sipInboundAuth?: InboundAuthConfig;
  /** SIP_T1_MS: RFC 3261 T1 and every timer derived from it (sipTimersOf); undefined = T1 500 ms. */
  sipTimers?: TimerValues;
  /** SIP_USER_AGENT: our `Server`/`User-Agent` header value (sipUserAgentOf); undefined = `voice-agent/<version>`. */
  sipUserAgent?: string;
}

/** Reads the SIP variables. @throws ConfigError naming the first bad variable */
export function sipConfig(env: Env): SipConfig {
  const sipHost = ip(env, "SIP_HOST", "0.0.0.0")!;
  return {
    sipHost,
    sipPort: int(env, "SIP_PORT", 5060, 1, 65535),
    publicIp: ip(env, "SIP_PUBLIC_IP") ?? (sipHost !== "0.0.0.0" ? sipHost : detectLocalIp()),
    answerDelayMs: int(env, "ANSWER_DELAY_MS", 0, 0, 120_000),
    sipTcp: bool(env, "SIP_TCP", true),
    sipUdpReceiveBufferBytes: int(env, "SIP_UDP_RECEIVE_BUFFER_BYTES", 4 << 20, 0, 1 << 30),
    sipTls: sipTlsOf(env),
    sipFront: bool(env, "SIP_FRONT", true),
    sipFrontSliceUs: intOrOff(env, "SIP_FRONT_SLICE_US", 100, 100_000),
    register: registerConfig(env),
    sipMaxPendingPerSource: int(env, "SIP_MAX_PENDING_PER_SOURCE", 10, 1, 10_000),
    sipTrustedIps: ipRangeList(env, "SIP_TRUSTED_IPS"),
    sipUntrusted: oneOf(env, "SIP_UNTRUSTED", ["reject", "drop"] as const, "reject"),
    sipDialogPeerOnly: bool(env, "SIP_DIALOG_PEER_ONLY", true),
    sipRateLimit: rateLimit(env),
    sipInboundAuth: inboundAuth(env),
    sipTimers: sipTimersOf(env),
    sipUserAgent: sipUserAgentOf(env),
  };
}

/**
 * SIP_USER_AGENT: the product the agent names in its `Server` (responses) and `User-Agent` (requests)
 * headers. RFC 3261 §20.35: "Revealing the specific software version of the server might allow the server
 * to become more vulnerable to attacks against software that is known to contain security holes.
 * Implementers SHOULD make the Server header field a configurable option." Printable ASCII words separated
 * by single spaces, at most 128 characters (no CR/LF can reach a header). @throws ConfigError
 */
function sipUserAgentOf(env: Env): string | undefined {
  const v = str(env, "SIP_USER_AGENT");
  if (v === undefined) return undefined;
  if (v.length > 128 || !/^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(v))
    throw new ConfigError("SIP_USER_AGENT", `expected up to 128 printable ASCII characters (words separated by single spaces), got "${v.slice(0, 40)}"`);
  return v;
}

/**
 * The first non-internal IPv4 address of this host, or 127.0.0.1 when it has none.
 * @throws ConfigError naming SIP_PUBLIC_IP when the interfaces cannot be read.
 */
export function detectLocalIp(): string {
  let interfaces: ReturnType<typeof networkInterfaces>;
  try {
    interfaces = networkInterfaces();
  } catch (err) {
    // No netlink (a sandbox without AF_NETLINK): guessing would put a wrong address into SDP.
    throw new ConfigError("SIP_PUBLIC_IP", `cannot detect this host's address (${(err as Error).message}); set SIP_PUBLIC_IP`);
  }
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

/** SIP_REGISTRAR (host or host:port) with SIP_USERNAME and SIP_REGISTER_EXPIRES; undefined when unset. */
function registerConfig(env: Env): RegisterConfig | undefined {
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
function rateLimit(env: Env): RateLimitConfig {
  const perSecond = int(env, "SIP_RATE_LIMIT", 100, 0, 1_000_000);
  const burst = int(env, "SIP_RATE_BURST", Math.max(1, perSecond * 2), 1, 10_000_000);
  return { perSecond, burst };
}

/**
 * SIP_INBOUND_USERNAME / SIP_INBOUND_PASSWORD (set together), SIP_INBOUND_REALM (default: SIP_PUBLIC_IP),
 * SIP_INBOUND_DIGEST_ALGORITHMS, SIP_INBOUND_MAX_FAILURES / SIP_INBOUND_LOCKOUT_S (default 5, 600 s).
 */
function inboundAuth(env: Env): InboundAuthConfig | undefined {
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
  // Back-off on wrong credentials (fail2ban's maxretry/bantime for its asterisk jail: 5, 10 min).
  const maxFailures = int(env, "SIP_INBOUND_MAX_FAILURES", 5, 0, 1000);
  const lockoutS = int(env, "SIP_INBOUND_LOCKOUT_S", 600, 1, 86_400);
  return { username: p[0], password: p[1], realm, algorithms, maxFailures, lockoutS };
}

/** SIP_TLS_PORT (0 or unset: off) and the two PEM files it needs; a startup error names what is missing. */
function sipTlsOf(env: Env): SipTlsConfig | undefined {
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
function sipTimersOf(env: Env): TimerValues | undefined {
  const t1 = int(env, "SIP_T1_MS", T1, 10, T2);
  return t1 === T1 ? undefined : timerValues(t1);
}
