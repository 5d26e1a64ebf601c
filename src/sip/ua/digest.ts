import { createHash } from "node:crypto";
import { quote, unquote } from "../message/index.ts";

/**
 * HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 2617, RFC 7616 for SHA-256): parse a
 * WWW-Authenticate / Proxy-Authenticate challenge, compute the response, write the Authorization /
 * Proxy-Authorization value. Pure apart from the random cnonce.
 */

export interface DigestCredentials {
  username: string;
  password: string;
  /** Answer only challenges of this realm (default: any). */
  realm?: string;
}

export type DigestAlgorithm = "MD5" | "MD5-sess" | "SHA-256" | "SHA-256-sess";

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  /** Offered qop values (lower-case), empty for an RFC 2069 style challenge. */
  qop: string[];
  stale: boolean;
}

export type DigestErrorCode = "bad_challenge" | "unsupported_algorithm";

export class DigestError extends Error {
  override readonly name = "DigestError";
  constructor(
    readonly code: DigestErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Parses `Digest realm="…", nonce="…", qop="auth,auth-int", algorithm=MD5, opaque="…", stale=TRUE`.
 * @throws DigestError("bad_challenge") when not Digest or realm/nonce is missing;
 *   DigestError("unsupported_algorithm") for an algorithm other than MD5, MD5-sess, SHA-256(-sess).
 */
export function parseDigestChallenge(value: string): DigestChallenge {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) throw new DigestError("bad_challenge", "not a Digest challenge");
  const params = parseAuthParams(m[1]!);
  const realm = params.get("realm");
  const nonce = params.get("nonce");
  if (realm === undefined || nonce === undefined) throw new DigestError("bad_challenge", "challenge without realm or nonce");
  const algRaw = params.get("algorithm") ?? "MD5";
  const algorithm = (["MD5", "MD5-sess", "SHA-256", "SHA-256-sess"] as const).find((a) => a.toLowerCase() === algRaw.toLowerCase());
  if (!algorithm) throw new DigestError("unsupported_algorithm", `unsupported digest algorithm ${algRaw}`);
  return {
    realm,
    nonce,
    opaque: params.get("opaque"),
    algorithm,
    qop: (params.get("qop") ?? "").split(",").map((q) => q.trim().toLowerCase()).filter(Boolean),
    stale: (params.get("stale") ?? "").toLowerCase() === "true",
  };
}

/** Comma-separated `name=value` / `name="quoted"` pairs, names lower-cased, values unquoted. */
export function parseAuthParams(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && m[0] !== "") out.set(m[1]!.toLowerCase(), unquote(m[2]!));
  return out;
}

function hash(alg: DigestAlgorithm, s: string | Uint8Array): string {
  return createHash(alg.startsWith("SHA-256") ? "sha256" : "md5").update(s).digest("hex");
}

export interface DigestInput {
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  /** "auth", "auth-int", or undefined (RFC 2069 compatibility). */
  qop?: "auth" | "auth-int";
  /** Nonce count, 8 hex digits, e.g. "00000001". */
  nc?: string;
  cnonce?: string;
  /** Entity body, for auth-int. */
  body?: string | Uint8Array;
}

/**
 * The `response` value (RFC 2617 §3.2.2, RFC 7616 §3.4.1):
 *   HA1 = H(user:realm:password)            (-sess: H(H(user:realm:password):nonce:cnonce))
 *   HA2 = H(method:uri)                     (auth-int: H(method:uri:H(body)))
 *   response = H(HA1:nonce:nc:cnonce:qop:HA2)   or H(HA1:nonce:HA2) without qop.
 */
export function computeDigestResponse(i: DigestInput): string {
  let ha1 = hash(i.algorithm, `${i.username}:${i.realm}:${i.password}`);
  if (i.algorithm.endsWith("-sess")) ha1 = hash(i.algorithm, `${ha1}:${i.nonce}:${i.cnonce ?? ""}`);
  const ha2 =
    i.qop === "auth-int"
      ? hash(i.algorithm, `${i.method}:${i.uri}:${hash(i.algorithm, i.body ?? "")}`)
      : hash(i.algorithm, `${i.method}:${i.uri}`);
  return i.qop
    ? hash(i.algorithm, `${ha1}:${i.nonce}:${i.nc}:${i.cnonce}:${i.qop}:${ha2}`)
    : hash(i.algorithm, `${ha1}:${i.nonce}:${ha2}`);
}

/**
 * The Authorization / Proxy-Authorization header value answering `ch` (RFC 3261 §22.4: `uri` is the
 * Request-URI). Prefers qop=auth, then auth-int, else none.
 */
export function buildDigestAuthorization(
  ch: DigestChallenge,
  creds: DigestCredentials,
  method: string,
  uri: string,
  opts: { cnonce?: string; nc?: number; body?: string | Uint8Array } = {},
): string {
  const qop = ch.qop.includes("auth") ? "auth" : ch.qop.includes("auth-int") ? "auth-int" : undefined;
  const nc = (opts.nc ?? 1).toString(16).padStart(8, "0");
  const cnonce = opts.cnonce ?? crypto.getRandomValues(new Uint32Array(2)).reduce((s, x) => s + x.toString(16).padStart(8, "0"), "");
  const response = computeDigestResponse({
    algorithm: ch.algorithm,
    username: creds.username,
    realm: ch.realm,
    password: creds.password,
    method,
    uri,
    nonce: ch.nonce,
    qop,
    nc,
    cnonce,
    body: opts.body,
  });
  const parts = [`username=${quote(creds.username)}`, `realm=${quote(ch.realm)}`, `nonce=${quote(ch.nonce)}`, `uri=${quote(uri)}`];
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quote(cnonce)}`);
  parts.push(`response=${quote(response)}`);
  if (ch.opaque !== undefined) parts.push(`opaque=${quote(ch.opaque)}`);
  parts.push(`algorithm=${ch.algorithm}`);
  return `Digest ${parts.join(", ")}`;
}
