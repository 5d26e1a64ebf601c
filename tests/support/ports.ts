/**
 * Free port finder for tests on 127.0.0.1.
 *
 * The kernel picks a free ephemeral port (bind to port 0), we read it and close the socket. Another
 * process may take the port between our close and the caller's bind; on loopback with ports drawn from
 * the ephemeral range that is rare, and `freeUdpPortRange` re-checks every port of a range.
 *
 * The process helper (spawn, readiness line, group kill) lives in `./process.ts`.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

/** Loopback address every test binds to. */
export const LOOPBACK = "127.0.0.1";

/** A UDP port that was free on 127.0.0.1 a moment ago (1024–65535). */
export async function freeUdpPort(): Promise<number> {
  const sock = await Bun.udpSocket({ hostname: LOOPBACK, port: 0 });
  try {
    return sock.port;
  } finally {
    sock.close();
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!addr || typeof addr === "string") throw new Error("freeTcpPort: no address from listen(0)");
  return addr.port;
}

/** True when a UDP socket can bind 127.0.0.1:`port` right now. */
export async function isUdpPortFree(port: number): Promise<boolean> {
  try {
    const s = await Bun.udpSocket({ hostname: LOOPBACK, port });
    s.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * True when some socket has UDP `port` bound (any local address), read from the kernel's socket tables
 * (/proc/net/udp and udp6: `local_address` is `HEXIP:HEXPORT`). Unlike `isUdpPortFree` this never binds
 * the port itself, so it can poll for a child process's readiness without racing that process's own
 * bind (a probe that binds makes SIPp or Kamailio fail with "address in use" if it binds in that window).
 */
export async function isUdpPortBound(port: number): Promise<boolean> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    // readFile, not Bun.file: /proc files report size 0 and Bun.file reads nothing from them.
    const text = await readFile(table, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local?.endsWith(hex)) return true;
    }
  }
  return false;
}

/**
 * Waits until `port` is bound (`isUdpPortBound`), polling every `pollMs`. Throws when `running()` turns
 * false first ("NAME exited at start") or after `timeoutMs` ("NAME did not bind PORT"), with `detail()`
 * (the process's stderr tail) in the message.
 */
export async function waitUdpPortBound(
  port: number,
  o: { name: string; running: () => boolean; detail?: () => string; timeoutMs?: number; pollMs?: number },
): Promise<void> {
  const deadline = performance.now() + (o.timeoutMs ?? 5000);
  while (!(await isUdpPortBound(port))) {
    if (!o.running()) throw new Error(`${o.name} exited at start:\n${o.detail?.() ?? ""}`);
    if (performance.now() > deadline) throw new Error(`${o.name} did not bind ${port}:\n${o.detail?.() ?? ""}`);
    await Bun.sleep(o.pollMs ?? 10);
  }
}

/** Ranges `freeUdpPortRange` does not hand out although nothing is bound there yet (an agent's RTP range: it binds per call). */
const reservedUdp: [number, number][] = [];

/**
 * Keeps `freeUdpPortRange` out of [start, start + count) until the returned function is called — e.g. a
 * load run's agent RTP range, so its callers' media ports (chosen later, while the agent has bound few of
 * its ports) cannot fall inside it and be captured as the agent's audio.
 */
export function reserveUdpPortRange(start: number, count: number): () => void {
  const r: [number, number] = [start, start + count - 1];
  reservedUdp.push(r);
  return () => void reservedUdp.splice(reservedUdp.indexOf(r), 1);
}

/**
 * `count` consecutive free UDP ports starting at an even port (RTP convention: RTP on even, RTCP on
 * the odd port above, RFC 3550 §11). Picks a random base in [20000, 60000) and checks every port;
 * retries up to `attempts` bases.
 *
 * @returns the first port of the range.
 * @throws Error when no free range was found.
 */
export async function freeUdpPortRange(count: number, attempts = 50): Promise<number> {
  for (let a = 0; a < attempts; a++) {
    const base = 20000 + 2 * Math.floor(Math.random() * 20000);
    let ok = !reservedUdp.some(([lo, hi]) => base <= hi && base + count - 1 >= lo);
    if (!ok) continue;
    for (let p = base; p < base + count && ok; p++) ok = await isUdpPortFree(p);
    if (ok) return base;
  }
  throw new Error(`freeUdpPortRange: no ${count} consecutive free UDP ports after ${attempts} tries`);
}
