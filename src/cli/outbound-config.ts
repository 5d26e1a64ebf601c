/**
 * Outbound calling through a SIP trunk: its variables (SIP_TRUNK_*, SIP_CALLER_ID, credentials, E.164
 * prefix lists, limits) and the check of what `--mode outbound|all` needs.
 */
import { countryCodeOf, DEFAULT_DENY_PREFIXES, PREFIX_PATTERN } from "../outbound/destination-policy";
import { AMD_MODES, DEFAULT_BEEP_WAIT_MS, type OutboundAnswerSettings } from "../pipeline/outbound-answer";
import { DEFAULT_AMD_CLASSIFIER } from "../pipeline/amd-classifier";
import { ConfigError, host, int, oneOf, pair, str, type Env } from "./env-vars";

export type Mode = "inbound" | "outbound" | "all";

/** Outbound calling through a SIP trunk (used with `--mode outbound` or `all`). */
export interface OutboundConfig {
  /** SIP_TRUNK_HOST: the trunk's host name or IPv4 address; unset = outbound calling not configured. */
  trunkHost?: string;
  /** SIP_TRUNK_PORT (UDP), default 5060. */
  trunkPort: number;
  /** SIP_CALLER_ID: the From user part (our number as the trunk knows it), e.g. +14155550123. */
  callerId?: string;
  /** Digest credentials (RFC 3261 §22): SIP_USERNAME/SIP_PASSWORD, else PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN. */
  credentials?: { username: string; password: string; from: "SIP_USERNAME" | "PLIVO_AUTH_ID"; realm?: string };
  /**
   * OUTBOUND_ALLOW_PREFIXES: E.164 prefixes outbound calls may go to ("*" = any); default the caller
   * ID's country code. Undefined when unset and the caller ID is not E.164 (requireOutbound refuses).
   */
  allowPrefixes?: string[];
  /**
   * OUTBOUND_DENY_PREFIXES: E.164 prefixes never called (wins over the allow list); unset =
   * DEFAULT_DENY_PREFIXES (premium rate, +1 area codes billed as international), "none" = no deny list.
   */
  denyPrefixes: string[];
  /** Whether denyPrefixes is the default list (OUTBOUND_DENY_PREFIXES unset). */
  denyIsDefault: boolean;
  /** RING_TIMEOUT_S: no answer within this → CANCEL, status no_answer. Seconds, default 30. */
  ringTimeoutS: number;
  /** MAX_OUTBOUND_CALLS: simultaneous outbound calls, default 10. */
  maxCalls: number;
  /** OUTBOUND_CALLS_PER_MINUTE: new outbound calls per sliding minute, default 30. */
  callsPerMinute: number;
  /**
   * The opening's wait and answering-machine detection (src/pipeline/outbound-answer.ts): AMD
   * (off|hangup|message, default off), AMD_DECISION_MS, AMD_GREETING_MS, AMD_BEEP_WAIT_S,
   * OPENING_NO_SPEECH_MS.
   */
  answer: Omit<OutboundAnswerSettings, "message">;
}

/** A comma-separated list of E.164 prefixes ("+1,+44"); `star` also accepts "*" alone. */
function prefixList(env: Env, name: string, star: boolean): string[] | undefined {
  const v = str(env, name);
  if (v === undefined) return undefined;
  const list = v.split(",").map((x) => x.trim()).filter(Boolean);
  if (star && list.length === 1 && list[0] === "*") return ["*"];
  if (list.length === 0) throw new ConfigError(name, `expected comma-separated E.164 prefixes such as +1,+44${star ? ' or "*"' : ' or "none"'}`);
  for (const p of list) {
    if (!PREFIX_PATTERN.test(p)) {
      throw new ConfigError(name, `expected comma-separated E.164 prefixes such as +1,+44 ("+" then 1 to 15 digits)${star ? ' or "*"' : ' or "none"'}, got "${p}"`);
    }
  }
  return list;
}

/** OUTBOUND_DENY_PREFIXES: a list, "none", or unset (the default list). */
function denyList(env: Env): { denyPrefixes: string[]; denyIsDefault: boolean } {
  if (str(env, "OUTBOUND_DENY_PREFIXES")?.trim().toLowerCase() === "none") return { denyPrefixes: [], denyIsDefault: false };
  const list = prefixList(env, "OUTBOUND_DENY_PREFIXES", false);
  return list ? { denyPrefixes: list, denyIsDefault: false } : { denyPrefixes: [...DEFAULT_DENY_PREFIXES], denyIsDefault: true };
}

/**
 * The trunk's digest username goes into our Authorization header as `username="…"` (RFC 3261 §22.4,
 * RFC 2617 §3.2.2), a quoted-string: §25.1 "qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII",
 * "quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)": CR and LF cannot be written in it at all, so one in
 * the variable would end the header and start another in every INVITE and REGISTER we send (header
 * injection); other control characters are refused with them.
 * @throws ConfigError naming the variable.
 */
function digestUsername(name: "SIP_USERNAME" | "PLIVO_AUTH_ID", value: string): void {
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new ConfigError(name, `expected printable characters (no control characters such as CR or LF: it is sent quoted in the Authorization header), got ${JSON.stringify(value)}`);
  }
}

export function outboundConfig(env: Env): OutboundConfig {
  const callerId = str(env, "SIP_CALLER_ID");
  // RFC 3261 §25.1 user part: unreserved characters and "+" (E.164 numbers, or a trunk account name).
  if (callerId !== undefined && !/^[A-Za-z0-9+._~-]{1,64}$/.test(callerId)) {
    throw new ConfigError("SIP_CALLER_ID", `expected a number such as +14155550123 (letters, digits, + . _ ~ -), got "${callerId}"`);
  }
  const sip = pair(env, "SIP_USERNAME", "SIP_PASSWORD");
  const plivo = pair(env, "PLIVO_AUTH_ID", "PLIVO_AUTH_TOKEN");
  if (sip) digestUsername("SIP_USERNAME", sip[0]);
  if (plivo) digestUsername("PLIVO_AUTH_ID", plivo[0]);
  const realm = str(env, "SIP_TRUNK_REALM");
  if (realm !== undefined && /["\\\x00-\x1f\x7f]/.test(realm)) throw new ConfigError("SIP_TRUNK_REALM", `expected a realm without quotes, backslashes or control characters, got ${JSON.stringify(realm)}`);
  const credentials = sip
    ? { username: sip[0], password: sip[1], from: "SIP_USERNAME" as const, realm }
    : plivo
      ? { username: plivo[0], password: plivo[1], from: "PLIVO_AUTH_ID" as const, realm }
      : undefined;
  if (realm !== undefined && !credentials) throw new ConfigError("SIP_TRUNK_REALM", "set SIP_USERNAME/SIP_PASSWORD (or PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN) with it");
  const callerCountry = callerId === undefined ? undefined : countryCodeOf(callerId);
  return {
    allowPrefixes: prefixList(env, "OUTBOUND_ALLOW_PREFIXES", true) ?? (callerCountry ? [callerCountry] : undefined),
    ...denyList(env),
    trunkHost: host(env, "SIP_TRUNK_HOST"),
    trunkPort: int(env, "SIP_TRUNK_PORT", 5060, 1, 65535),
    callerId,
    credentials,
    ringTimeoutS: int(env, "RING_TIMEOUT_S", 30, 1, 600),
    maxCalls: int(env, "MAX_OUTBOUND_CALLS", 10, 1, 10_000),
    callsPerMinute: int(env, "OUTBOUND_CALLS_PER_MINUTE", 30, 1, 100_000),
    answer: answerConfig(env),
  };
}

function answerConfig(env: Env): Omit<OutboundAnswerSettings, "message"> {
  const decisionMs = int(env, "AMD_DECISION_MS", DEFAULT_AMD_CLASSIFIER.decisionMs, 1000, 30_000);
  const greetingMs = int(env, "AMD_GREETING_MS", DEFAULT_AMD_CLASSIFIER.greetingMs, 500, 30_000);
  if (greetingMs >= decisionMs) {
    throw new ConfigError("AMD_GREETING_MS", `must be shorter than AMD_DECISION_MS (${decisionMs}), got ${greetingMs}: a long greeting could never be told apart`);
  }
  return {
    amd: oneOf(env, "AMD", AMD_MODES, "off"),
    // OPENING_NO_SPEECH_MS unset: the call's AMD mode picks (outbound-answer.ts).
    classifier: { decisionMs, greetingMs, noSpeechMs: str(env, "OPENING_NO_SPEECH_MS") === undefined ? undefined : int(env, "OPENING_NO_SPEECH_MS", 0, 200, 10_000) },
    beepWaitMs: int(env, "AMD_BEEP_WAIT_S", DEFAULT_BEEP_WAIT_MS / 1000, 1, 120) * 1000,
  };
}

/**
 * Checks what `--mode outbound|all` needs: SIP_TRUNK_HOST and SIP_CALLER_ID.
 * @throws ConfigError naming the missing variable.
 */
export function requireOutbound(cfg: { outbound: OutboundConfig }, mode: Mode): void {
  if (mode === "inbound") return;
  if (!cfg.outbound.trunkHost) throw new ConfigError("SIP_TRUNK_HOST", `required with --mode ${mode} (the SIP trunk outbound calls go through)`);
  if (!cfg.outbound.callerId) throw new ConfigError("SIP_CALLER_ID", `required with --mode ${mode} (the number outbound calls come from)`);
  if (!cfg.outbound.allowPrefixes) {
    throw new ConfigError(
      "OUTBOUND_ALLOW_PREFIXES",
      `required with --mode ${mode} when SIP_CALLER_ID (${cfg.outbound.callerId}) is not an E.164 number: list the prefixes calls may go to, e.g. +1,+44, or "*" for any`,
    );
  }
}
