/**
 * The stall watchdog of one Deepgram connection: a socket can stay open and take audio while the server
 * has stopped answering. A stall is nothing at all heard for `limitMs` while at least
 * STALL_MIN_SPEECH_MS of the caller's speech (frames whose mean absolute sample is ≥ STALL_SPEECH_LEVEL)
 * went out. Checked as frames are sent: no timer, constant work per byte.
 *
 *   const dog = new StallWatchdog(clock, "PCMU", 8000);
 *   dog.heard();                       // any server message, or a new connection
 *   const stall = dog.sent(payload);   // { silentForMs, speechMs } once it is a stall, else undefined
 */
import type { Clock } from "../../util/clock";
import { ALAW_DECODE, ULAW_DECODE } from "../../media/g711";
import { G711_BYTES_PER_MS } from "./options";

/** Caller speech sent without any answer that arms the stall watchdog, ms. */
export const STALL_MIN_SPEECH_MS = 1000;
/** Mean absolute sample value of a frame counted as speech (≈ −36 dBFS; line noise is far below). */
export const STALL_SPEECH_LEVEL = 500;

/** |sample| of each G.711 byte (256 entries per law): one look-up per byte in `sent`. */
const ULAW_ABS = Uint16Array.from(ULAW_DECODE, (v) => Math.abs(v));
const ALAW_ABS = Uint16Array.from(ALAW_DECODE, (v) => Math.abs(v));

export interface Stall {
  /** Time since the server last said anything, ms. */
  silentForMs: number;
  /** Caller speech sent in that time, ms. */
  speechMs: number;
}

export class StallWatchdog {
  /** When the connection last said anything (or was opened), clock ms. */
  private lastHeardAt: number;
  /** Speech sent since the connection last said anything, ms. */
  private speechMs = 0;
  /** |decoded sample| per G.711 byte of the stream's law. */
  private readonly table: Uint16Array;

  /** `limitMs` ≤ 0 turns the watchdog off (`sent` never reports). */
  constructor(
    private readonly clock: Clock,
    codec: "PCMU" | "PCMA",
    private readonly limitMs: number,
  ) {
    this.table = codec === "PCMU" ? ULAW_ABS : ALAW_ABS;
    this.lastHeardAt = clock.now();
  }

  /** The server said something, or a new connection opened: start over. */
  heard(): void {
    this.lastHeardAt = this.clock.now();
    this.speechMs = 0;
  }

  /** One frame of G.711 audio went out; returns the stall once there is one (see the file comment). */
  sent(payload: Uint8Array): Stall | undefined {
    if (this.limitMs <= 0 || payload.length === 0) return undefined;
    let sum = 0;
    const table = this.table;
    for (let i = 0; i < payload.length; i++) sum += table[payload[i]!]!;
    if (sum / payload.length >= STALL_SPEECH_LEVEL) this.speechMs += payload.length / G711_BYTES_PER_MS;
    if (this.speechMs < STALL_MIN_SPEECH_MS) return undefined; // before the clock read: most frames stop here
    const silentForMs = this.clock.now() - this.lastHeardAt;
    if (silentForMs < this.limitMs) return undefined;
    return { silentForMs, speechMs: this.speechMs };
  }
}
