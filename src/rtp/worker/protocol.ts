/**
 * Messages between the call thread's MediaPlane (plane.ts) and the media worker (media-worker.ts).
 * Per packet there is no message: outgoing paced frames go through each stream's FrameRing, incoming
 * datagrams travel in batches (one transferred buffer per batch).
 */
import type { SendFormat } from "../send-path.ts";
import type { RtpEndpoint } from "../symmetric-latch.ts";

export type PlaneRequest =
  | { t: "bind"; id: number; host: string; port: number }
  /** Closes the socket on `port` (and its stream). */
  | { t: "close"; port: number }
  | { t: "open"; port: number; ssrc: number; sequenceNumber: number; timestamp: number; format: SendFormat; dest: RtpEndpoint; sab: SharedArrayBuffer }
  | { t: "config"; port: number; format: SendFormat }
  | { t: "dest"; port: number; dest: RtpEndpoint }
  | { t: "now"; port: number; kind: "audio" | "event"; payload: Uint8Array; marker: boolean }
  | { t: "raw"; port: number; bytes: Uint8Array; dest: RtpEndpoint }
  /** Starts (on) or stops the stream's paced ticks. */
  | { t: "pace"; port: number; on: boolean }
  /** A frame was written into an empty ring: a held tick sends it now; an idle stream starts its talkspurt (Pacer.startNow). */
  | { t: "kick"; port: number }
  /** Scheduling of the worker's thread: its time slice, µs (util/thread-sched.ts). */
  | { t: "sched"; sliceUs: number }
  | { t: "stop" };

/** Per datagram in an `rx` batch: local port, remote port, byte offset, length, µs after the batch's first datagram arrived (Int32 each). */
export const RX_META_FIELDS = 5;

export type PlaneReply =
  | { t: "bound"; id: number; ok: true }
  | { t: "bound"; id: number; ok: false; code: string; message: string }
  /** Datagrams received: `meta` holds RX_META_FIELDS ints per datagram, `addrs` the source addresses, `t0` when the first of them arrived and `at` when the batch was posted (epoch ms), `dropped` datagrams dropped since the last batch (the backlog was full). */
  | { t: "rx"; buf: ArrayBuffer; meta: Int32Array; addrs: string[]; t0: number; at: number; dropped: number }
  | { t: "err"; port: number; message: string }
  /** Lateness (ms after the deadline) of each paced tick since the last report; `skipped` deadlines dropped by skips ahead since then. */
  | { t: "late"; values: Float64Array; skipped: number }
  | { t: "stopped" }
  /** The answer to a `sched` request: the worker thread's id, or why the slice was not set. */
  | { t: "sched"; sliceUs: number; ok: boolean; tid?: number; error?: string }
  /** The worker's script ran: it takes requests. `rxAck` (Int32 × 1): `rx` batches delivered, counted by the call thread. */
  | { t: "ready"; rxAck: SharedArrayBuffer };

/** What a send path needs of the plane: posting a request to the worker. */
export interface PlanePoster {
  post(m: PlaneRequest): void;
}
