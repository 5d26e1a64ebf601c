/**
 * A pool of local RTP ports, one UDP socket per call.
 *
 * RTP uses an even port and RTCP the next odd one (RFC 3550 §11: "For UDP ... RTP SHOULD use an even
 * destination port number and the corresponding RTCP stream SHOULD use the next higher (odd)
 * destination port number"). We only bind the even RTP port; the pair (p, p+1) must fit in
 * [start, end], so the odd port is never handed to another call.
 *
 * Allocation rule: a port drawn uniformly at random (crypto.getRandomValues) from the even ports not
 * leased, so an attacker who saw one call's port cannot predict the next call's (RFC 3550 §8.2 and the
 * RTP port-randomisation practice of SBCs), and a port just released comes back with probability
 * 1/free (stray packets of the previous call rarely reach a new one). A port that another process
 * holds (bind fails with EADDRINUSE/EACCES) is skipped, not removed: it is tried again on later
 * allocations. When every free port was tried once, `allocate` throws "exhausted".
 */
import type { udp } from "bun";
import { RtpPortPoolError } from "./errors.ts";
import type { MediaDirection, RtpSendPath, SendFormat } from "./send-path.ts";
import type { RtpEndpoint } from "./symmetric-latch.ts";
import { rtpReceiveBudget } from "./receive-budget.ts";

/** What a lease's socket offers: send a datagram, close. A Bun UDP socket, or the media worker's proxy. */
export interface RtpSocket {
  send(data: Uint8Array, port: number, address: string): boolean;
  close(): void;
  readonly closed: boolean;
}

/** A Bun UDP socket delivering datagrams as Uint8Array (the in-thread binder's). */
export type BunRtpSocket = udp.Socket<"uint8array">;

/**
 * Binds `host:port` and delivers datagrams and errors to the handlers. Rejects with an error carrying
 * the system `code` (EADDRINUSE, EACCES, …). Default: a Bun UDP socket in this thread; MEDIA_WORKER=on
 * binds in the media worker (src/rtp/worker/plane.ts).
 */
export type RtpBinder = (host: string, port: number, onData: RtpPacketHandler, onError: RtpErrorHandler) => Promise<RtpBound>;

/** A bound port: its socket, and (media worker) a way to open the RTP send path on it. */
export interface RtpBound {
  socket: RtpSocket;
  openSendPath?: RtpLeaseSendPathFactory;
}

/** Opens the worker-side send path of a session on this port (see RtpSession, send-path.ts). */
export type RtpLeaseSendPathFactory = (
  ssrc: number,
  initial: { sequenceNumber: number; timestamp: number },
  format: SendFormat,
  dest: RtpEndpoint,
) => RtpSendPath;
export type { MediaDirection };

/**
 * Receives every datagram arriving on a leased port. `address` is the sender's IP, `port` its port;
 * `arrivedAt`: when the datagram reached the process (performance.now() ms on this thread), when that
 * was earlier than this call (the media worker's receive batches, MEDIA_WORKER=on); undefined: now.
 */
export type RtpPacketHandler = (data: Uint8Array, port: number, address: string, arrivedAt?: number) => void;

/**
 * Receives socket errors. On Linux an ICMP "port unreachable" for an earlier send (the peer's port is
 * closed, e.g. after it hung up) surfaces as an ECONNREFUSED error on the next receive; without a
 * handler Bun reports it as an unhandled error, so the pool always installs one.
 */
export type RtpErrorHandler = (err: Error) => void;

/** One leased port with its bound socket. Release it exactly once per call (more calls are no-ops). */
export interface RtpPortLease {
  /** The even local port. */
  readonly port: number;
  /** Local address the socket is bound to. */
  readonly host: string;
  readonly socket: RtpSocket;
  /** Present when the port lives in the media worker: the session numbers and sends through it. */
  readonly openSendPath?: RtpLeaseSendPathFactory;
  /** Datagram sink; the RtpSession sets it. Packets arriving while it is null are dropped. */
  onPacket: RtpPacketHandler | null;
  /** Socket error sink (ICMP unreachable and the like); the RtpSession counts them. Null: ignored. */
  onError: RtpErrorHandler | null;
  /** Closes the socket and returns the port to the pool. Idempotent. */
  release(): void;
  readonly released: boolean;
}

const SKIPPABLE = new Set(["EADDRINUSE", "EACCES"]);
/** The process's (EMFILE) or the system's (ENFILE) file table is full: no port would bind now. */
const OUT_OF_DESCRIPTORS = new Set(["EMFILE", "ENFILE"]);

/**
 * The RTP ports of `start`–`end` (inclusive): every even port whose odd RTCP port above it fits too
 * (RFC 3550 §11, file comment), within 2–65535. One call takes one; empty when no pair fits.
 */
export function evenRtpPorts(start: number, end: number): number[] {
  const ports: number[] = [];
  const first = start % 2 === 0 ? start : start + 1;
  for (let p = Math.max(first, 2); p + 1 <= Math.min(end, 65535); p += 2) ports.push(p);
  return ports;
}

export class RtpPortPool {
  /** Even ports p with start ≤ p and p + 1 ≤ end. */
  private readonly ports: number[] = [];
  private readonly leased = new Map<number, RtpPortLease>();
  private readonly pending = new Set<number>();
  /** Even ports neither leased nor being bound; order is irrelevant (draws are random). */
  private readonly idle: number[];

  /**
   * @param start lowest port of the range (inclusive)
   * @param end highest port of the range (inclusive); RTCP's odd port must fit too
   * @param host local address to bind, default "0.0.0.0" (all IPv4 interfaces)
   * @throws RtpPortPoolError "bad_range" when the range holds no even/odd pair.
   */
  constructor(
    readonly start: number,
    readonly end: number,
    readonly host = "0.0.0.0",
    private readonly binder?: RtpBinder,
  ) {
    this.ports.push(...evenRtpPorts(start, end));
    if (this.ports.length === 0) throw new RtpPortPoolError("bad_range", `no even RTP port pair in ${start}-${end}`, false);
    this.idle = [...this.ports];
  }

  /** Number of even ports the range holds. */
  get size(): number {
    return this.ports.length;
  }
  /** Ports leased or being bound. */
  get inUse(): number {
    return this.leased.size + this.pending.size;
  }
  /** Ports not leased (including ones another process may currently hold). */
  get free(): number {
    return this.ports.length - this.inUse;
  }

  /**
   * Binds a free even port drawn at random.
   * @throws RtpPortPoolError "exhausted" (retryable) when no free port could be bound;
   *   "no_descriptors" (retryable) when the process may open no more files (EMFILE, ENFILE);
   *   "bind_failed" (not retryable) for other bind errors, e.g. a `host` that is not a local address.
   */
  async allocate(): Promise<RtpPortLease> {
    let lastError: unknown;
    const held: number[] = []; // ports another process holds: back to `idle` when this call returns
    try {
      while (this.idle.length > 0) {
        const port = this.takeRandomIdle();
        this.pending.add(port);
        // The lease exists before its socket, so a datagram goes socket -> lease -> onPacket with no closure
        // or slot between: at 200 calls each such hop is a cache miss per datagram (issue 13, s23 perf).
        const lease = new PooledLease(port, this.host, this);
        try {
          const handler = this.binder;
          lease.bind(
            handler
              ? await handler(this.host, port, (data, rport, address, arrivedAt) => lease.onPacket?.(data, rport, address, arrivedAt), (err) => lease.onError?.(err))
              : await bindInThread(this.host, port, lease),
          );
        } catch (err) {
          this.pending.delete(port);
          held.push(port);
          const code = (err as { code?: string }).code ?? "";
          if (OUT_OF_DESCRIPTORS.has(code)) {
            throw new RtpPortPoolError("no_descriptors", `bind ${this.host}:${port}: ${code}: no file descriptor left`, true, { cause: err });
          }
          if (!SKIPPABLE.has(code)) {
            throw new RtpPortPoolError("bind_failed", `bind ${this.host}:${port}: ${code || String(err)}`, false, { cause: err });
          }
          lastError = err;
          continue;
        }
        this.pending.delete(port);
        this.leased.set(port, lease);
        return lease;
      }
    } finally {
      for (const p of held) this.idle.push(p);
    }
    throw new RtpPortPoolError(
      "exhausted",
      `no free RTP port in ${this.start}-${this.end} (${this.leased.size} leased)`,
      true,
      lastError ? { cause: lastError } : undefined,
    );
  }

  /** Removes and returns a uniformly drawn idle port (swap with the last, pop: O(1)). */
  private takeRandomIdle(): number {
    const n = this.idle.length;
    // Rejection sampling keeps the draw uniform for any n ≤ 2^32.
    const limit = Math.floor(0x1_0000_0000 / n) * n;
    const buf = new Uint32Array(1);
    let r: number;
    do r = crypto.getRandomValues(buf)[0]!;
    while (r >= limit);
    const i = r % n;
    const port = this.idle[i]!;
    this.idle[i] = this.idle[n - 1]!;
    this.idle.pop();
    return port;
  }

  /** Releases every lease (shutdown). */
  releaseAll(): void {
    for (const l of [...this.leased.values()]) l.release();
  }

  /** A lease was released (PooledLease.release): its port is idle again. */
  returned(port: number): void {
    this.leased.delete(port);
    this.idle.push(port);
  }
}

/** The pool's lease: made before its port is bound (`bind` gives it the socket), handed out once bound. */
class PooledLease implements RtpPortLease {
  socket!: RtpSocket;
  openSendPath: RtpLeaseSendPathFactory | undefined;
  onPacket: RtpPacketHandler | null = null;
  onError: RtpErrorHandler | null = null;
  released = false;

  constructor(
    readonly port: number,
    readonly host: string,
    private readonly pool: RtpPortPool,
  ) {}

  bind(bound: RtpBound): void {
    this.socket = bound.socket;
    this.openSendPath = bound.openSendPath;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.onPacket = null;
    this.onError = null;
    this.socket.close();
    this.pool.returned(this.port);
  }
}

/**
 * Binds a Bun UDP socket in this thread for `lease`: each datagram goes to the receive budget with the
 * lease's handler of the moment (none: dropped), each socket error to its error handler.
 */
async function bindInThread(host: string, port: number, lease: PooledLease): Promise<RtpBound> {
  const socket: BunRtpSocket = await Bun.udpSocket({
    hostname: host,
    port,
    binaryType: "uint8array",
    socket: {
      data(_s, data, rport, address) {
        // At once while this turn's receive work is within RTP_RX_BUDGET_MS, else queued for a later
        // slice so the loop polls the SIP socket in between (receive-budget.ts; span and pace point there).
        // A datagram queued there keeps the handler it arrived under (a session closed meanwhile ignores it).
        const onPacket = lease.onPacket;
        if (onPacket !== null) rtpReceiveBudget.admit(onPacket, data, rport, address);
      },
      // Bun 1.4.5 passes the error as the first argument (the socket is `this`), not the second as its
      // types say: take whichever is an Error, as the SIP socket does (sip/transport/udp.ts).
      error: (...args: unknown[]) => lease.onError?.((args.find((a) => a instanceof Error) as Error | undefined) ?? new Error("socket error")),
    },
  });
  return { socket };
}
