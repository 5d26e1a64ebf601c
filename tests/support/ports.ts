/**
 * Free port finder for tests on 127.0.0.1.
 *
 * The kernel picks a free ephemeral port (bind to port 0), we read it and close the socket. Another
 * process may take the port between our close and the caller's bind; on loopback with ports drawn from
 * the ephemeral range that is rare, and `freeUdpPortRange` re-checks every port of a range.
 *
 * Two test files at once (scripts/test.sh: `bun test --parallel=N`, TEST_WORKERS=N > 1): each worker
 * process hands out ports only from its own slice of [20000, ephemeral start) — see `workerSlice` — and
 * never the same one twice, so a port one worker picked and has not bound yet is neither picked by the
 * other worker nor given by the kernel to anyone's port-0 bind. (5 Dec 2026, two at a time: "a SIPp port
 * taken between the free-port check and SIPp's bind by the other worker".)
 *
 * The process helper (spawn, readiness line, group kill) lives in `./process.ts`.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

/** Loopback address every test binds to. */
export const LOOPBACK = "127.0.0.1";

/** Lowest port handed out from a worker's slice (the agent's default RTP range is 10000–20000). */
const SLICE_FLOOR = 20000;

/**
 * The ports [lo, hi) this process hands out when it is worker `BUN_TEST_WORKER_ID` (1-based, set by
 * `bun test --parallel`) of `TEST_WORKERS` (set by scripts/test.sh), or null outside such a run. The
 * span [SLICE_FLOOR, first ephemeral port) is cut into TEST_WORKERS equal even-aligned slices; the first
 * ephemeral port is read from /proc/sys/net/ipv4/ip_local_port_range (32768 on Linux by default).
 */
export function workerSlice(env: Record<string, string | undefined> = process.env, ephemeralStart = firstEphemeralPort()): [number, number] | null {
  const workers = Number(env.TEST_WORKERS);
  const id = Number(env.BUN_TEST_WORKER_ID);
  if (!Number.isInteger(workers) || workers < 2 || !Number.isInteger(id) || id < 1 || id > workers) return null;
  const size = 2 * Math.floor((ephemeralStart - SLICE_FLOOR) / workers / 2);
  if (size < 1000) return null; // an odd ephemeral range: back to the kernel's picks
  const lo = SLICE_FLOOR + (id - 1) * size;
  return [lo, lo + size];
}

function firstEphemeralPort(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

const slice = workerSlice();
/** Ports this worker has handed out (UDP and TCP alike): never handed again by this process. */
const handed = new Set<number>();

/** A random port in this worker's slice, not handed out before, for which `free` holds; marked handed. */
async function fromSlice([lo, hi]: [number, number], free: (port: number) => Promise<boolean>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    // Short of the slice's end by 2: baresip also binds its SIP port + 1 (TLS), which stays in the slice.
    const port = lo + Math.floor(Math.random() * (hi - lo - 2));
    if (handed.has(port) || reservedUdp.some(([a, b]) => port >= a && port <= b)) continue;
    handed.add(port);
    if (await free(port)) return port;
  }
  throw new Error(`ports: no free port in this worker's slice ${lo}-${hi - 1} after 200 tries`);
}

async function isTcpPortFree(port: number): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, LOOPBACK, () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

/** A UDP port that was free on 127.0.0.1 a moment ago (1024–65535; in this worker's slice under --parallel). */
export async function freeUdpPort(): Promise<number> {
  if (slice) return fromSlice(slice, isUdpPortFree);
  const sock = await Bun.udpSocket({ hostname: LOOPBACK, port: 0 });
  try {
    return sock.port;
  } finally {
    sock.close();
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago (in this worker's slice under --parallel). */
export async function freeTcpPort(): Promise<number> {
  if (slice) return fromSlice(slice, isTcpPortFree);
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
  return () => {
    const i = reservedUdp.indexOf(r);
    if (i >= 0) reservedUdp.splice(i, 1); // a second call must not remove another range (splice(-1) would)
  };
}

/**
 * `count` consecutive free UDP ports starting at an even port (RTP convention: RTP on even, RTCP on
 * the odd port above, RFC 3550 §11). Picks a random base in [20000, 60000) — in this worker's slice
 * under --parallel, where no port of it was handed out before — and checks every port; retries up to
 * `attempts` bases.
 *
 * @returns the first port of the range.
 * @throws Error when no free range was found.
 */
export async function freeUdpPortRange(count: number, attempts = 50): Promise<number> {
  const [lo, hi] = slice ?? [20000, 60000];
  for (let a = 0; a < attempts; a++) {
    const base = lo + 2 * Math.floor((Math.random() * Math.max(1, hi - lo - count)) / 2);
    let ok = !reservedUdp.some(([rlo, rhi]) => base <= rhi && base + count - 1 >= rlo);
    for (let p = base; p < base + count && ok && slice; p++) ok = !handed.has(p);
    if (!ok) continue;
    for (let p = base; p < base + count && ok; p++) ok = await isUdpPortFree(p);
    if (slice) for (let p = base; p < base + count; p++) handed.add(p);
    if (ok) return base;
  }
  throw new Error(`freeUdpPortRange: no ${count} consecutive free UDP ports after ${attempts} tries`);
}
