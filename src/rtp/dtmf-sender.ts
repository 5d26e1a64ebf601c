/**
 * Sends DTMF keys as RFC 4733 telephone-events, one packet per 20 ms pacer tick in place of the audio
 * frame (§2.5.1): the first packet of an event has the marker bit (§2.5.1.1: "The RTP marker bit ... is
 * set for the first packet of a new event"); every packet of the event carries the event's start
 * timestamp and its duration so far (§2.5.1.2); the final packet has E=1 and is sent three times
 * (§2.5.1.4: "the final packet for each event ... SHOULD be sent a total of three times"), each with a new
 * sequence number and the same duration. Between keys, `gapMs` of ordinary audio (silence or speech)
 * goes out. Durations in timestamp units at 8000 Hz.
 *
 *   tick:  1     2     3  …  8        9        10       11     12 … (gap) → next key
 *          M,160 320   480   1280,E   1280,E   1280,E   audio
 */
import { serializeTelephoneEvent, dtmfEventCode } from "./dtmf.ts";

/** What the sender needs of an RtpSession. */
export interface EventSink {
  /** Timestamp the next packet would carry. */
  readonly next: { timestamp: number };
  sendEvent(payload: Uint8Array, marker: boolean, eventTimestamp: number, samples?: number): boolean;
}

export interface DtmfSenderOptions {
  /** Tone length per key, ms (multiple of 20; default 160). */
  toneMs?: number;
  /** Pause between keys, ms (default 100). */
  gapMs?: number;
  /** Power level, −dBm0 (default 10). */
  volume?: number;
}

const TICK_SAMPLES = 160;
const END_REPEATS = 3;

export class DtmfSender {
  private readonly queue: number[] = [];
  private readonly toneTicks: number;
  private readonly gapTicks: number;
  private readonly volume: number;
  /** The event being sent: code, start timestamp, ticks of tone sent, end packets sent; or gap ticks left. */
  private cur: { event: number; ts: number; ticks: number; ends: number } | null = null;
  private gapLeft = 0;

  constructor(private readonly sink: EventSink, o: DtmfSenderOptions = {}) {
    this.toneTicks = Math.max(2, Math.round((o.toneMs ?? 160) / 20));
    this.gapTicks = Math.max(1, Math.round((o.gapMs ?? 100) / 20));
    this.volume = o.volume ?? 10;
  }

  /**
   * Queues keys ("0"–"9", "*", "#", "A"–"D"; spaces and commas ignored).
   * @throws RangeError naming the first other character (nothing is queued then).
   */
  send(keys: string): void {
    const codes: number[] = [];
    for (const k of keys.replace(/[\s,]/g, "")) {
      const c = dtmfEventCode(k);
      if (c === undefined || c > 15) throw new RangeError(`not a DTMF key: ${JSON.stringify(k)}`);
      codes.push(c);
    }
    this.queue.push(...codes);
  }

  /** Keys queued or being sent. */
  get active(): boolean {
    return this.cur !== null || this.queue.length > 0 || this.gapLeft > 0;
  }

  /**
   * Called on each 20 ms tick before the audio. Returns true when this tick's packet was an event (the
   * audio frame must then not be sent); false during gaps and when idle.
   */
  tick(): boolean {
    if (this.gapLeft > 0) {
      this.gapLeft--;
      return false;
    }
    if (!this.cur) {
      if (this.queue.length === 0) return false; // every tick of a call: no native shift() for nothing
      const event = this.queue.shift()!;
      this.cur = { event, ts: this.sink.next.timestamp, ticks: 0, ends: 0 };
    }
    const c = this.cur;
    const first = c.ticks === 0;
    if (c.ticks < this.toneTicks) c.ticks++;
    const end = c.ticks >= this.toneTicks;
    if (end) c.ends++;
    const payload = serializeTelephoneEvent({ event: c.event, end, volume: this.volume, duration: c.ticks * TICK_SAMPLES });
    this.sink.sendEvent(payload, first, c.ts, TICK_SAMPLES);
    if (c.ends >= END_REPEATS) {
      this.cur = null;
      this.gapLeft = this.gapTicks;
    }
    return true;
  }

  /** Drops queued keys (an event in progress still ends properly). */
  clear(): void {
    this.queue.length = 0;
  }
}
