/**
 * A pool of local RTP ports, one UDP socket per call.
 *
 * RTP uses an even port and RTCP the next odd one (RFC 3550 §11: "For UDP ... RTP SHOULD use an even
 * destination port number and the corresponding RTCP stream SHOULD use the next higher (odd)
 * destination port number"). We only bind the even RTP port; the pair (p, p+1) must fit in
 * [start, end], so the odd port is never handed to another call.
 *
 * Allocation rule: a cursor walks the even ports round-robin, so a port just released is reused as late
 * as possible (stray packets of the previous call then rarely reach a new one). A port that another
 * process holds (bind fails with EADDRINUSE/EACCES) is skipped, not removed: it is tried again on later
 * passes. When one full pass finds nothing, `allocate` throws "exhausted".
 */
import type { udp } from "bun";
import { RtpPortPoolError } from "./errors.ts";

/** The socket type the pool hands out: datagrams arrive as Uint8Array. */
export type RtpSocket = udp.Socket<"uint8array">;

/** Receives every datagram arriving on a leased port. `address` is the sender's IP, `port` its port. */
export type RtpPacketHandler = (data: Uint8Array, port: number, address: string) => void;

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
  /** Datagram sink; the RtpSession sets it. Packets arriving while it is null are dropped. */
  onPacket: RtpPacketHandler | null;
  /** Socket error sink (ICMP unreachable and the like); the RtpSession counts them. Null: ignored. */
  onError: RtpErrorHandler | null;
  /** Closes the socket and returns the port to the pool. Idempotent. */
  release(): void;
  readonly released: boolean;
}

const SKIPPABLE = new Set(["EADDRINUSE", "EACCES"]);

export class RtpPortPool {
  /** Even ports p with start ≤ p and p + 1 ≤ end. */
  private readonly ports: number[] = [];
  private readonly leased = new Map<number, RtpPortLease>();
  private readonly pending = new Set<number>();
  private cursor = 0;

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
  ) {
    const first = start % 2 === 0 ? start : start + 1;
    for (let p = Math.max(first, 2); p + 1 <= Math.min(end, 65535); p += 2) this.ports.push(p);
    if (this.ports.length === 0) throw new RtpPortPoolError("bad_range", `no even RTP port pair in ${start}-${end}`, false);
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
   * Binds the next free even port.
   * @throws RtpPortPoolError "exhausted" (retryable) when no port could be bound in one pass;
   *   "bind_failed" (not retryable) for other bind errors, e.g. a `host` that is not a local address.
   */
  async allocate(): Promise<RtpPortLease> {
    let lastError: unknown;
    for (let tried = 0; tried < this.ports.length; tried++) {
      const port = this.ports[this.cursor];
      this.cursor = (this.cursor + 1) % this.ports.length;
      if (this.leased.has(port) || this.pending.has(port)) continue;
      this.pending.add(port);
      const slot: { lease?: RtpPortLease } = {};
      let socket: RtpSocket;
      try {
        socket = await bind(
          this.host,
          port,
          (data, rport, address) => slot.lease?.onPacket?.(data, rport, address),
          (err) => slot.lease?.onError?.(err),
        );
      } catch (err) {
        this.pending.delete(port);
        const code = (err as { code?: string }).code ?? "";
        if (!SKIPPABLE.has(code)) {
          throw new RtpPortPoolError("bind_failed", `bind ${this.host}:${port}: ${code || String(err)}`, false, { cause: err });
        }
        lastError = err;
        continue;
      }
      this.pending.delete(port);
      const lease = this.makeLease(port, socket);
      slot.lease = lease;
      this.leased.set(port, lease);
      return lease;
    }
    throw new RtpPortPoolError(
      "exhausted",
      `no free RTP port in ${this.start}-${this.end} (${this.leased.size} leased)`,
      true,
      lastError ? { cause: lastError } : undefined,
    );
  }

  /** Releases every lease (shutdown). */
  releaseAll(): void {
    for (const l of [...this.leased.values()]) l.release();
  }

  private makeLease(port: number, socket: RtpSocket): RtpPortLease {
    const pool = this;
    let released = false;
    return {
      port,
      host: this.host,
      socket,
      onPacket: null,
      onError: null,
      get released() {
        return released;
      },
      release() {
        if (released) return;
        released = true;
        this.onPacket = null;
        this.onError = null;
        socket.close();
        pool.leased.delete(port);
      },
    };
  }
}

function bind(host: string, port: number, onData: RtpPacketHandler, onError: RtpErrorHandler): Promise<RtpSocket> {
  return Bun.udpSocket({
    hostname: host,
    port,
    binaryType: "uint8array",
    socket: {
      data(_s, data, rport, address) {
        onData(data, rport, address);
      },
      error(_s, err) {
        onError(err);
      },
    },
  });
}
