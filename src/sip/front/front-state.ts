/**
 * What the call thread tells the SIP front thread (SIP_FRONT=on) without a message: the answer an
 * out-of-dialog OPTIONS gets now (src/call/admission.ts `optionsAnswer`: available, Retry-After, the
 * X-Calls load header, the SIP backlog already folded in) and a heartbeat, the call thread's last
 * publish time; and back, how many probes the front answered (for the SIP metrics). One
 * SharedArrayBuffer, written by the call thread under a sequence lock, read by the front without waiting.
 *
 *   const state = new FrontState();              // call thread; state.buffer goes to the worker
 *   state.publish(status, epochNowMs());          // every HEARTBEAT_MS
 *   new FrontState(buffer).read(epochNowMs())    // front: the status, or undefined when stale
 */
import type { OptionsStatus } from "../ua/delegate.ts";

/** The call thread publishes its status this often, ms. */
export const HEARTBEAT_MS = 100;
/**
 * A heartbeat older than this (ms) means the call thread is stuck (a turn over 1 s): the front then stops
 * answering for it and hands OPTIONS over like any datagram, so a hung agent still looks hung to a
 * balancer's probe. Last session's longest turns at 200 calls were 55–186 ms (notes s15).
 */
export const FRONT_STALE_MS = 1000;

/** Header bytes the status may carry (X-Calls is ~20). */
const HEADER_BYTES = 1024;
// Int32 slots after the two Float64 ones.
const SEQ = 0;
const AVAILABLE = 1;
const RETRY_AFTER = 2;
const HEADER_LEN = 3;
const ANSWERED_200 = 4;
const ANSWERED_503 = 5;
/** Datagram bytes the call thread took from the front's batches, mod 2^32. */
const CONSUMED = 6;
/** Datagrams the front dropped because the call thread had not taken RELAY_BACKLOG_BYTES yet. */
const DROPPED = 7;
const INTS = 8;

/**
 * Datagram bytes posted to the call thread and not yet taken there, at most (the SIP socket's default
 * receive buffer, SIP_UDP_RECEIVE_BUFFER_BYTES): past it the front drops, as the kernel did when the call
 * thread read the socket itself, instead of queueing a flood without end while the call thread is stuck.
 */
export const RELAY_BACKLOG_BYTES = 4 << 20;

/** Wall-clock ms with sub-ms precision, the same base on every thread (performance.now() is per thread). */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

export class FrontState {
  readonly buffer: SharedArrayBuffer;
  private readonly f: Float64Array;
  private readonly i: Int32Array;
  private readonly bytes: Uint8Array;
  private cached: { seq: number; headers: Array<[string, string]> } | undefined;

  constructor(buffer = new SharedArrayBuffer(16 + INTS * 4 + HEADER_BYTES)) {
    this.buffer = buffer;
    this.f = new Float64Array(buffer, 0, 2);
    this.i = new Int32Array(buffer, 16, INTS);
    this.bytes = new Uint8Array(buffer, 16 + INTS * 4, HEADER_BYTES);
  }

  /** Call thread: the OPTIONS answer now and the heartbeat `nowMs` ({@link epochNowMs}). Headers that do not fit are left out. */
  publish(status: OptionsStatus, nowMs: number): void {
    const encoded = new TextEncoder().encode(JSON.stringify(status.headers ?? []));
    Atomics.add(this.i, SEQ, 1); // odd: writing
    this.i[AVAILABLE] = status.available ? 1 : 0;
    this.i[RETRY_AFTER] = status.retryAfterS ?? -1;
    if (encoded.length <= HEADER_BYTES) {
      this.bytes.set(encoded);
      this.i[HEADER_LEN] = encoded.length;
    } else this.i[HEADER_LEN] = 0;
    this.f[0] = nowMs;
    Atomics.add(this.i, SEQ, 1); // even: done
  }

  /**
   * Front: the status last published, or undefined when none was, it is older than FRONT_STALE_MS at
   * `nowMs`, or the call thread is writing it right now (then the datagram goes to the call thread).
   */
  read(nowMs: number): OptionsStatus | undefined {
    const seq = Atomics.load(this.i, SEQ);
    if (seq === 0 || seq % 2 === 1) return undefined;
    const at = this.f[0]!;
    const available = this.i[AVAILABLE] === 1;
    const retry = this.i[RETRY_AFTER]!;
    let headers = this.cached?.seq === seq ? this.cached.headers : undefined;
    if (!headers) {
      const len = this.i[HEADER_LEN]!;
      const text = new TextDecoder().decode(this.bytes.slice(0, len));
      if (Atomics.load(this.i, SEQ) !== seq) return undefined;
      headers = len > 0 ? (JSON.parse(text) as Array<[string, string]>) : [];
      this.cached = { seq, headers };
    }
    if (Atomics.load(this.i, SEQ) !== seq) return undefined;
    if (nowMs - at > FRONT_STALE_MS) return undefined;
    return retry >= 0 ? { available, retryAfterS: retry, headers } : { available, headers };
  }

  /** Front: one probe answered with `status` (200 or 503). */
  countAnswer(status: number): void {
    Atomics.add(this.i, status === 200 ? ANSWERED_200 : ANSWERED_503, 1);
  }

  /** Call thread: `bytes` of relayed datagrams taken. */
  consumed(bytes: number): void {
    Atomics.add(this.i, CONSUMED, bytes);
  }

  /** Front: relayed bytes (`posted`, mod 2^32) the call thread has not taken yet. */
  pendingBytes(posted: number): number {
    return (posted - Atomics.load(this.i, CONSUMED)) >>> 0;
  }

  /** Front: one datagram dropped for the backlog. */
  countDropped(): void {
    Atomics.add(this.i, DROPPED, 1);
  }

  /** Call thread: datagrams the front dropped for the backlog so far. */
  dropped(): number {
    return Atomics.load(this.i, DROPPED);
  }

  /** Call thread: probes the front answered so far, by status. */
  answered(): { ok: number; unavailable: number } {
    return { ok: Atomics.load(this.i, ANSWERED_200), unavailable: Atomics.load(this.i, ANSWERED_503) };
  }
}
