/**
 * Header field names: compact forms (RFC 3261 §7.3.3 and the IANA registry), canonical spelling, and
 * which headers are comma-separated lists that may be split into one value per entry (§7.3.1: "it MUST
 * be possible to combine the multiple header field rows into one ... comma-separated list").
 */

/** Compact form → full name (RFC 3261 §20 table, RFC 3265, 3515, 3892, 3841, 4028, 4474). */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: "Accept-Contact",
  b: "Referred-By",
  c: "Content-Type",
  d: "Request-Disposition",
  e: "Content-Encoding",
  f: "From",
  i: "Call-ID",
  j: "Reject-Contact",
  k: "Supported",
  l: "Content-Length",
  m: "Contact",
  n: "Identity-Info",
  o: "Event",
  r: "Refer-To",
  s: "Subject",
  t: "To",
  u: "Allow-Events",
  v: "Via",
  x: "Session-Expires",
  y: "Identity",
};

const CANONICAL_LIST = [
  "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events",
  "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition",
  "Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Diversion",
  "Error-Info", "Event", "Expires", "From", "Identity", "Identity-Info", "In-Reply-To", "Max-Forwards",
  "Min-Expires", "Min-SE", "MIME-Version", "Organization", "P-Asserted-Identity", "P-Preferred-Identity",
  "Path", "Priority", "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck",
  "Reason", "Record-Route", "Refer-To", "Referred-By", "Reject-Contact", "Remote-Party-ID", "Reply-To",
  "Request-Disposition", "Require", "Retry-After", "Route", "RSeq", "Server", "Session-Expires", "Subject",
  "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
];

const CANONICAL: ReadonlyMap<string, string> = new Map(CANONICAL_LIST.map((n) => [n.toLowerCase(), n]));

/**
 * Headers whose comma-joined values are split into separate entries at parse time. Only those whose
 * values never contain a bare comma (auth headers do, Date does), and whose order matters to routing.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set(["via", "route", "record-route", "contact", "path"]);

/**
 * Normalises a header name: compact form → full name, known names → canonical case, unknown names kept
 * as written (lookups are case-insensitive anyway).
 */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) {
    const full = COMPACT_FORMS[lower];
    if (full) return full;
  }
  return CANONICAL.get(lower) ?? name;
}
