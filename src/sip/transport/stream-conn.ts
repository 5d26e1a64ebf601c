/** One TCP/TLS connection's state, as ./tcp.ts keeps it (the socket's `data`), and how connections are keyed. */
import type { Socket } from "bun";
import type { StreamBuffer } from "./stream-buffer.ts";
import type { Address } from "./types.ts";

/** A connection in the table, by "ip:port". */
export interface Conn {
  socket: Socket<ConnData>;
  key: string;
}
/** What ./tcp.ts keeps per connection. */
export interface ConnData {
  /** Received bytes not yet handled (./stream-buffer.ts). */
  in: StreamBuffer;
  /** A later turn's handling of `in` is scheduled. */
  draining: boolean;
  /** Reading is paused (backpressure) until the backlog drains. */
  paused: boolean;
  key: string;
  /** The peer's IP address (what the per-source limit counts). */
  host: string;
  /** Opened by a peer (counted against the limits), not by us. */
  inbound: boolean;
  /** performance.now() since which a message is awaited (opening, or its first byte); undefined = none. */
  pendingSince: number | undefined;
}

/** The connection table's key of an address: IP (without IPv6 brackets) and port. */
export function keyOf(a: Address): string {
  const h = a.host.startsWith("[") ? a.host.slice(1, -1) : a.host;
  return `${h}:${a.port}`;
}

/** The peer's port of a socket (Bun types it loosely). */
export function remotePort(s: Socket<ConnData>): number {
  return (s as unknown as { remotePort?: number }).remotePort ?? 0;
}

/** Stops reading `s` (Bun 1.4.5's `Socket.pause()`) and notes it in `paused`. False when it already was paused. */
export function pauseReading(s: Socket<ConnData>, paused: Set<Socket<ConnData>>): boolean {
  if (s.data.paused) return false;
  s.data.paused = true;
  paused.add(s);
  s.pause();
  return true;
}

/** Reads `s` again (`Socket.resume()`) and takes it out of `paused`. */
export function resumeReading(s: Socket<ConnData>, paused: Set<Socket<ConnData>>): void {
  s.data.paused = false;
  paused.delete(s);
  s.resume();
}
