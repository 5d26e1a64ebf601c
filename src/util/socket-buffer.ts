/**
 * A socket's kernel receive buffer (SO_RCVBUF, socket(7)), set on the file descriptor Bun's UDP socket
 * exposes (`socket.fd`), through bun:ffi and libc: Bun.udpSocket has no option for it.
 *
 *   const r = setReceiveBuffer(socket.fd, 4 << 20);   // { ok: true, bytes: 8388608 } (the kernel doubles it)
 *
 * Why: datagrams that arrive while the thread is busy wait in this buffer; once it is full the kernel
 * drops the rest unseen (counted only in /proc/net/udp `drops`). Its default, net.core.rmem_default,
 * is 212,992 bytes, and each queued datagram is charged its whole buffer (~2.3 KB for a 1 KB INVITE):
 * measured on 6 Dec 2026 (issue 13), of 600 SIP datagrams sent to a busy agent in a burst 166 reached
 * the receive lanes. socket(7): "SO_RCVBUF Sets or gets the maximum socket receive buffer in bytes. The
 * kernel doubles this value (to allow space for bookkeeping overhead) when it is set using setsockopt(2),
 * and this doubled value is returned by getsockopt(2). … The maximum allowed value is set by the
 * /proc/sys/net/core/rmem_max file." A request over rmem_max is silently capped, so the result carries
 * what the kernel granted (read back), and the caller can say so.
 *
 * Returns a result instead of throwing: Linux only; elsewhere (or without libc) the default stays.
 */
import { ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import { errnoText as errno, libc as c, type Libc } from "./libc.ts";

/** Option levels and names (include/uapi/asm-generic/socket.h; the same on x86-64 and arm64). */
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;

export type ReceiveBufferResult = { ok: true; bytes: number } | { ok: false; error: string };

/**
 * The file descriptor of a Bun socket (`Bun.udpSocket`'s result has `fd` at run time, Bun 1.4.5, not in its
 * typings); -1 when it has none.
 */
export function fdOf(socket: object): number {
  const fd = (socket as { fd?: unknown }).fd;
  return typeof fd === "number" ? fd : -1;
}

/**
 * The receive buffer of socket `fd` as the kernel reports it (getsockopt SO_RCVBUF), bytes: the
 * doubled value, what the socket may hold queued.
 */
export function receiveBuffer(fd: number): ReceiveBufferResult {
  const l = c();
  if (typeof l === "string") return { ok: false, error: l };
  const val = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (l.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, ptr(val), ptr(len)) !== 0) return { ok: false, error: `getsockopt: ${errno(l)}` };
  return { ok: true, bytes: val[0]! };
}

/**
 * Asks for a receive buffer of `bytes` on socket `fd` (setsockopt SO_RCVBUF) and reads back what was
 * granted: about 2 × min(bytes, net.core.rmem_max). Needs no privilege (SO_RCVBUFFORCE, which passes
 * rmem_max, would need CAP_NET_ADMIN and is not used).
 * @param bytes 1 … 2^31-1; the request, before the kernel doubles it.
 */
export function setReceiveBuffer(fd: number, bytes: number): ReceiveBufferResult {
  if (!Number.isInteger(fd) || fd < 0) return { ok: false, error: `no file descriptor (${fd})` };
  const l = c();
  if (typeof l === "string") return { ok: false, error: l };
  const val = new Int32Array([Math.max(1, Math.min(0x7fffffff, Math.round(bytes)))]);
  if (l.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, ptr(val), 4) !== 0) return { ok: false, error: `setsockopt: ${errno(l)}` };
  return receiveBuffer(fd);
}

/** net.core.rmem_max, bytes (the cap on a request), or undefined where it cannot be read. */
export function receiveBufferMax(): number | undefined {
  try {
    const n = Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
