/**
 * DNS-rebinding protection for the token-less HTTP API. Without API_TOKEN the server listens on
 * 127.0.0.1 only, but a web page can still reach it through a browser: it points its own host name at
 * 127.0.0.1 and sends requests whose `Host` header carries that name. Requests whose `Host` is not a
 * loopback name or the configured host are therefore refused (403) when no token is set
 * (RFC 9110 §7.2: `Host` names the authority the client meant to reach).
 *
 *   const denied = checkHost(request, { apiToken: undefined, allowed: ["127.0.0.1"] });
 *   if (denied) → 403 denied
 */

/** Host names that always mean this machine. */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** The host part of a `Host` header value: `example.com:8000` → `example.com`, `[::1]:80` → `[::1]`. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(":");
  return (colon < 0 ? h : h.slice(0, colon)).replace(/\.$/, "");
}

export interface HostCheckOptions {
  /** With a token set, every host is served (the token is the protection). */
  apiToken?: string;
  /** Host names allowed besides loopback (SERVER_HOST when it is not 0.0.0.0). */
  allowed?: readonly string[];
}

/**
 * Undefined when the request may go on, else the 403 body `{ error: "forbidden_host", message }`.
 * A request without `Host` (HTTP/1.0; never sent by a browser) is allowed.
 */
export function checkHost(request: Request, opts: HostCheckOptions): { error: "forbidden_host"; message: string } | undefined {
  if (opts.apiToken !== undefined) return undefined;
  const header = request.headers.get("host");
  if (header === null || header === "") return undefined;
  const name = hostName(header);
  if (LOOPBACK_HOSTS.has(name) || /^127(\.\d{1,3}){3}$/.test(name)) return undefined;
  if (opts.allowed?.some((a) => a.toLowerCase() === name)) return undefined;
  return {
    error: "forbidden_host",
    message: `Host "${name}" is not served: without API_TOKEN only 127.0.0.1 and localhost are (DNS rebinding protection); set API_TOKEN to serve other hosts`,
  };
}
