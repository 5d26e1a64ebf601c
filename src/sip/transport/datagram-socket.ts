import { fdOf } from "../../util/socket-buffer.ts";
import type { GateVerdict } from "./source-gate.ts";
import type { Address } from "./types.ts";

/**
 * The socket under a {@link UdpTransport}: a local `Bun.udpSocket` ({@link bindUdpSocket}) or the SIP
 * front thread's socket seen from the call thread (SIP_FRONT=on, ./front/front-link.ts). Either way
 * datagrams leave from the one listening port (RFC 3581 §4: a response goes back from the port the
 * request arrived on, "symmetric response routing").
 */
export interface DatagramSocket {
  /** The bound address (the real port when bound to port 0). */
  readonly local: Address;
  /** The socket's file descriptor, process-wide (socket options: src/util/socket-buffer.ts). */
  readonly fd: number;
  /**
   * Hands one datagram to the kernel, or to the thread that owns the socket: true when taken, false when
   * the socket would block (EAGAIN, dropped unsent). @throws the send error (e.g. EHOSTUNREACH).
   */
  send(bytes: Uint8Array, port: number, host: string): boolean;
  close(): void;
  /**
   * Socket owned by another thread: runs `cb` once the datagrams waiting in the socket now have reached
   * this thread's sink (the owner's next poll, then a message back). Absent on a local socket. Never throws.
   */
  afterPolled?(cb: () => void): void;
}

/** What a {@link DatagramSocket} reports upward: UdpTransport's receive path. */
export interface DatagramSink {
  /**
   * One received datagram (Bun may reuse `data`'s buffer: copy what is kept). `verdict`: the source
   * gate's, when the front thread already asked it (then not asked again); `arrivedAt`: when it was read
   * from the socket, performance.timeOrigin + performance.now() ms, when it was read on another thread.
   */
  onDatagram(data: Uint8Array, source: Address, verdict?: GateVerdict, arrivedAt?: number): void;
  /**
   * A socket error (an ICMP unreachable for an earlier datagram, from the socket's error queue).
   * `after`: the destination the error follows when the front thread knows it was not one of this
   * side's sends (an OPTIONS answer it sent itself): then it is not attributed to this side's last send.
   */
  onSocketError(err: Error | undefined, after?: Address): void;
}

/** Binds a local UDP socket that reports to `sink`. @throws the socket error (e.g. EADDRINUSE). */
export async function bindUdpSocket(host: string, port: number, sink: () => DatagramSink | undefined): Promise<DatagramSocket> {
  const socket = await Bun.udpSocket({
    hostname: host,
    port,
    binaryType: "uint8array",
    socket: {
      data: (_s, data, port, address) => sink()?.onDatagram(data, { host: address, port }),
      // Bun 1.4.5 passes the error as the first argument (its typings say the second): take either.
      error: (...args: unknown[]) => sink()?.onSocketError(args.find((a) => a instanceof Error) as Error | undefined),
    },
  });
  return {
    local: { host: socket.hostname, port: socket.port },
    get fd() {
      return fdOf(socket);
    },
    send: (bytes, port, host) => socket.send(bytes, port, host),
    close: () => socket.close(),
  };
}
