/**
 * Raw UDP helpers for SIP robustness tests: send arbitrary bytes (garbage, truncated or malformed SIP)
 * to a target and collect what comes back, then read a SIP status line from a reply.
 *
 * On Linux a datagram sent to a closed loopback port comes back as ICMP port unreachable, which Bun
 * reports on the socket's `error` handler as ECONNREFUSED; it is recorded as `refused` here instead of
 * surfacing as an unhandled error.
 */
import { LOOPBACK } from "./ports.ts";

export interface UdpReply {
  /** Raw datagram bytes. */
  data: Uint8Array;
  /** The bytes decoded as UTF-8 (lossy). */
  text: string;
  from: { address: string; port: number };
  /** Arrival time, ms after the first send. */
  atMs: number;
}

export interface UdpExchangeOptions {
  target: { host?: string; port: number };
  /** One datagram or several, sent back to back from the same local port. */
  payload: string | Uint8Array | (string | Uint8Array)[];
  /** How long to listen after the last send, ms. */
  timeoutMs: number;
  /** Resolve as soon as this many replies arrived (default 1). */
  expectCount?: number;
  /** Local port to bind (default: ephemeral). */
  localPort?: number;
}

export interface UdpExchangeResult {
  replies: UdpReply[];
  /** True when the kernel reported ECONNREFUSED (nobody bound at the target). */
  refused: boolean;
  localPort: number;
}

/**
 * Sends `payload` to `target` and gathers reply datagrams until `expectCount` arrived or `timeoutMs`
 * passed. Never rejects for silence: `replies` is then empty.
 */
export async function udpExchange(opts: UdpExchangeOptions): Promise<UdpExchangeResult> {
  const host = opts.target.host ?? LOOPBACK;
  const want = opts.expectCount ?? 1;
  const replies: UdpReply[] = [];
  let refused = false;
  let t0 = performance.now();
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  const sock = await Bun.udpSocket({
    hostname: LOOPBACK,
    port: opts.localPort ?? 0,
    socket: {
      data(_s, buf, port, address) {
        const data = new Uint8Array(buf);
        replies.push({ data, text: new TextDecoder().decode(data), from: { address, port }, atMs: performance.now() - t0 });
        if (replies.length >= want) done();
      },
      // Bun 1.4.5 passes the error as the first argument (the typings say second): accept either.
      error(...args: unknown[]) {
        if (args.some((a) => (a as { code?: string } | undefined)?.code === "ECONNREFUSED")) refused = true;
      },
    },
  });
  const localPort = sock.port;
  try {
    const list = Array.isArray(opts.payload) ? opts.payload : [opts.payload];
    t0 = performance.now();
    for (const p of list) sock.send(typeof p === "string" ? new TextEncoder().encode(p) : p, opts.target.port, host);
    const timer = setTimeout(done, opts.timeoutMs);
    await finished;
    clearTimeout(timer);
  } finally {
    sock.close();
  }
  return { replies, refused, localPort };
}

export interface SipStatusLine {
  version: string;
  /** Status code, 100–699 (RFC 3261 §7.2). */
  code: number;
  reason: string;
}

/**
 * Parses the first line of a SIP response: `SIP-Version SP Status-Code SP Reason-Phrase CRLF`
 * (RFC 3261 §7.2). Returns null for anything else (a request, garbage).
 */
export function parseSipStatusLine(text: string): SipStatusLine | null {
  const first = text.split(/\r?\n/, 1)[0] ?? "";
  const m = first.match(/^(SIP\/\d+\.\d+) ([1-6]\d\d) ?(.*)$/);
  if (!m) return null;
  return { version: m[1]!, code: Number(m[2]), reason: m[3]! };
}

/** Value of the first header `name` (case-insensitive, compact forms not expanded) in a SIP message. */
export function sipHeader(text: string, name: string): string | undefined {
  const head = text.split(/\r?\n\r?\n/, 1)[0] ?? "";
  const lname = name.toLowerCase();
  for (const line of head.split(/\r?\n/).slice(1)) {
    const i = line.indexOf(":");
    if (i > 0 && line.slice(0, i).trim().toLowerCase() === lname) return line.slice(i + 1).trim();
  }
  return undefined;
}
