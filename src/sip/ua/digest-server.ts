/**
 * The UAS side of SIP digest authentication (RFC 3261 §22.2 and §22.4, RFC 7616, RFC 8760): challenge
 * an inbound INVITE with 401 Unauthorized and verify the Authorization it comes back with.
 *
 * - Challenges: one WWW-Authenticate per algorithm, SHA-256 first, then MD5 (RFC 8760 §2.4: a UAS may
 *   add several challenges with the same realm, each with a different algorithm, most preferred
 *   first; MD5 stays for older PBXes), each with qop="auth" (RFC 8760 §2.6 updates RFC 3261 so that
 *   a qop parameter is always sent).
 * - Nonces are stateless and expire: `<issued ms, hex>.<random>.<HMAC-SHA-256(secret, both)>`, valid
 *   for `nonceTtlMs` (default 5 min). Valid credentials on an expired nonce of ours get a fresh
 *   challenge with `stale=true` (RFC 7616 §3.3: "stale: … the previous request from the client was
 *   rejected because the nonce value was stale … the client may wish to simply retry the request
 *   with a new encrypted response, without re-prompting the user").
 * - Replay: with qop the nonce count must grow per nonce (RFC 7616 §3.4: "the server can … detect
 *   request replays by maintaining its own copy of this count"); a replayed INVITE is challenged again.
 *   The map of counts is bounded (oldest nonces forgotten first; a forgotten nonce is still bounded by
 *   its expiry).
 *
 * Only `qop=auth` is accepted (what we offer), with an offered `algorithm`. The `uri` parameter must be
 * a SIP or SIPS URI; it need not equal the Request-URI. RFC 3261 §22.4 says "digest-uri-value =
 * Request-URI" for the UAC, but for the server only that it "MAY check that the Request-URI in the
 * Authorization header field value corresponds to a user for whom the server is willing to accept
 * forwarded or direct requests, but it is not necessarily a failure if the two fields are not
 * equivalent": a proxy or SBC in front of us may rewrite the Request-URI after the UAC computed the
 * digest (Kamailio's dispatcher, a trunk that strips the user part), and SIPp 3.6 sends only host and
 * port. The digest covers the `uri` as sent (HA2), the nonce is ours and expires, and the nonce count
 * stops replays, so a `uri` other than the Request-URI gains an attacker nothing the response does not
 * already prove. A `uri` that is not a SIP/SIPS URI (tel:, http:, garbage) is "malformed".
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { parseUri, quote, type SipRequest } from "../message/index.ts";
import { computeDigestResponse, parseAuthParams, type DigestAlgorithm } from "./digest.ts";

export interface DigestVerifierOptions {
  username: string;
  password: string;
  /** Realm in the challenges (RFC 3261 §22.1: "a globally unique" string, e.g. our host). */
  realm: string;
  /** How long a nonce stays valid, ms. Default 300,000 (5 min). */
  nonceTtlMs?: number;
  /** Wall-clock ms; default Date.now (nonces outlive nothing but this process, so monotonic is fine too). */
  now?: () => number;
  /** Nonce counts remembered for replay detection. Default 10,000. */
  maxTrackedNonces?: number;
  /**
   * Challenges offered, in order of preference (RFC 8760 §2.4); only these are accepted. Default
   * SHA-256 then MD5. Some UACs answer only the first challenge (SIPp 3.6 fails on a first SHA-256 one):
   * put MD5 first, or alone, for them.
   */
  algorithms?: readonly InboundDigestAlgorithm[];
}

/** Algorithms a UAS challenge may name here. */
export type InboundDigestAlgorithm = "SHA-256" | "MD5";

/** Why a request was refused (for logs); every outcome but "ok" gets a fresh 401 challenge. */
export type DigestVerdict = "ok" | "missing" | "malformed" | "wrong_user" | "bad_nonce" | "stale" | "replay" | "bad_response";

/** Default challenge order: the RFC 8760 algorithm first, MD5 for older PBXes. */
export const DEFAULT_INBOUND_DIGEST_ALGORITHMS: readonly InboundDigestAlgorithm[] = ["SHA-256", "MD5"];

export class DigestVerifier {
  readonly realm: string;
  private readonly secret = randomBytes(32);
  private readonly ttl: number;
  private readonly now: () => number;
  private readonly maxTracked: number;
  private readonly counts = new Map<string, number>();
  private readonly algorithms: readonly InboundDigestAlgorithm[];

  constructor(private readonly o: DigestVerifierOptions) {
    this.realm = o.realm;
    this.ttl = o.nonceTtlMs ?? 300_000;
    this.now = o.now ?? Date.now;
    this.maxTracked = o.maxTrackedNonces ?? 10_000;
    this.algorithms = o.algorithms?.length ? o.algorithms : DEFAULT_INBOUND_DIGEST_ALGORITHMS;
  }

  /** WWW-Authenticate values for a 401, most preferred first (default SHA-256, MD5), one fresh nonce. */
  challenges(stale = false): string[] {
    const nonce = this.newNonce();
    return this.algorithms.map(
      (alg) => `Digest realm=${quote(this.realm)}, nonce=${quote(nonce)}, algorithm=${alg}, qop="auth"${stale ? ", stale=true" : ""}`,
    );
  }

  /** Checks the request's Authorization header(s); "ok" when one of them is valid. */
  verify(req: SipRequest): DigestVerdict {
    const values = req.headers.getAll("Authorization");
    if (values.length === 0) return "missing";
    let worst: DigestVerdict = "malformed";
    for (const v of values) {
      const r = this.verifyOne(v, req);
      if (r === "ok") return r;
      // Report the most telling failure: stale beats the others (it decides stale=true).
      if (r === "stale" || worst === "malformed") worst = r;
    }
    return worst;
  }

  private verifyOne(value: string, req: SipRequest): DigestVerdict {
    const m = /^\s*Digest\s+(.*)$/is.exec(value);
    if (!m) return "malformed";
    const p = parseAuthParams(m[1]!);
    const username = p.get("username");
    const realm = p.get("realm");
    const nonce = p.get("nonce");
    const uri = p.get("uri");
    const response = p.get("response");
    const qop = p.get("qop")?.toLowerCase();
    const nc = p.get("nc");
    const cnonce = p.get("cnonce");
    const algRaw = p.get("algorithm") ?? "MD5";
    const algorithm: DigestAlgorithm | undefined = this.algorithms.find((a) => a.toLowerCase() === algRaw.toLowerCase());
    if (!username || realm === undefined || !nonce || uri === undefined || !response || !algorithm) return "malformed";
    if (qop !== "auth" || !nc || !/^[0-9a-f]{8}$/i.test(nc) || !cnonce) return "malformed";
    if (username !== this.o.username || realm !== this.realm) return "wrong_user";
    if (!isSipUri(uri)) return "malformed";
    const issued = this.nonceIssuedAt(nonce);
    if (issued === undefined) return "bad_nonce";
    const expected = computeDigestResponse({
      algorithm,
      username,
      realm,
      password: this.o.password,
      method: req.method,
      uri,
      nonce,
      qop: "auth",
      nc: nc.toLowerCase(),
      cnonce,
    });
    if (!sameText(expected, response.toLowerCase())) return "bad_response";
    if (this.now() - issued > this.ttl) return "stale";
    const count = parseInt(nc, 16);
    const seen = this.counts.get(nonce);
    if (seen !== undefined && count <= seen) return "replay";
    this.counts.delete(nonce);
    if (this.counts.size >= this.maxTracked) this.counts.delete(this.counts.keys().next().value!);
    this.counts.set(nonce, count);
    return "ok";
  }

  private newNonce(): string {
    const body = `${Math.floor(this.now()).toString(16)}.${randomBytes(9).toString("base64url")}`;
    return `${body}.${this.mac(body)}`;
  }

  /** Issue time of a nonce we made (MAC checks), else undefined. */
  private nonceIssuedAt(nonce: string): number | undefined {
    const i = nonce.lastIndexOf(".");
    if (i <= 0) return undefined;
    const body = nonce.slice(0, i);
    if (!sameText(this.mac(body), nonce.slice(i + 1))) return undefined;
    const t = parseInt(body.slice(0, body.indexOf(".")), 16);
    return Number.isFinite(t) ? t : undefined;
  }

  private mac(body: string): string {
    return createHmac("sha256", this.secret).update(body).digest("base64url").slice(0, 32);
  }
}

/** `uri` (from Authorization) is a SIP or SIPS URI (RFC 3261 §19.1), whatever it names. */
function isSipUri(uri: string): boolean {
  try {
    const u = parseUri(uri);
    return u.scheme === "sip" || u.scheme === "sips";
  } catch {
    return false;
  }
}

/** Constant-time comparison of two ASCII strings (length may leak, content does not). */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
