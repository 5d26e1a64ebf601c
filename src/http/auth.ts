/**
 * Bearer-token access to the HTTP API (RFC 6750): `Authorization: Bearer <API_TOKEN>`. Placing calls
 * costs money, and records hold personal data, so every route except the public ones needs the token
 * when API_TOKEN is set. Without API_TOKEN the server listens on 127.0.0.1 only (src/cli/config.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Routes open without a token: health (for probes and orchestrators), the API description, and the call
 * page's static shell and script (src/http/call-page.ts: they hold no data; the page asks for the token).
 */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(["/", "/health/live", "/health/ready", "/openapi/json", "/ui", "/ui/app.js"]);

/** `WWW-Authenticate` value sent with a 401 (RFC 6750 §3). */
export const BEARER_CHALLENGE = 'Bearer realm="voice-agent"';

const digest = (s: string) => createHash("sha256").update(s).digest();

/** True when the request carries `Authorization: Bearer <token>` with the right token (constant time). */
export function hasValidBearer(request: Request, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
  return !!m && timingSafeEqual(digest(m[1]!), digest(token));
}

/**
 * Checks a request. Returns undefined when allowed, else the 401 body:
 * `{ error: "unauthorized", message }` (missing header, other scheme, wrong token).
 * The comparison takes the same time whatever the token (SHA-256 of both, then timingSafeEqual).
 */
export function checkBearer(request: Request, token: string | undefined): { error: "unauthorized"; message: string } | undefined {
  if (token === undefined) return undefined;
  const path = new URL(request.url).pathname.replace(/\/+$/, "") || "/";
  if (PUBLIC_PATHS.has(path)) return undefined;
  const header = request.headers.get("authorization");
  if (!header) return { error: "unauthorized", message: "Authorization: Bearer <API_TOKEN> required" };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return { error: "unauthorized", message: "expected the Bearer scheme: Authorization: Bearer <API_TOKEN>" };
  if (!timingSafeEqual(digest(m[1]!), digest(token))) return { error: "unauthorized", message: "invalid token" };
  return undefined;
}
