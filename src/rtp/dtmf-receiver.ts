/**
 * DTMF key presses from RFC 4733 telephone-event packets of one RTP stream (the RtpSession hands them
 * over after its source, sequence and direction checks).
 *
 * DTMF (RFC 4733 §2.5.1): an event is identified by its RTP timestamp. It is reported once, on the
 * first packet with the E bit; if a new event starts before any end packet of the previous one arrived
 * (all three lost), the previous one is reported then with the last duration seen. A press longer
 * than the 16-bit duration field continues in segments at timestamp + 0xFFFF (§2.5.1.3): one key.
 */
import { dtmfKey, parseTelephoneEvent } from "./dtmf.ts";

/** Timestamp rate of telephone events with G.711 audio, Hz (RFC 4733 §2.3: the audio's rate, 8000). */
const EVENT_CLOCK_RATE = 8000;

/** One DTMF key press received as RFC 4733 events. */
export interface DtmfEvent {
  /** "0"–"9", "*", "#", "A"–"D", "flash", or "event-N" for other event codes. */
  key: string;
  /** RFC 4733 event code. */
  event: number;
  /** Duration in ms (from the event's duration field at 8000 Hz). */
  durationMs: number;
  /** Power level, −dBm0 (0–63). */
  volume: number;
  /** RTP timestamp of the event start. */
  rtpTimestamp: number;
  /** False when the end packets were lost and the event was closed by the next one. */
  endSeen: boolean;
}

/** The event in progress; `carried`: duration of its earlier long-event segments (§2.5.1.3). */
interface EventInProgress {
  ts: number;
  event: number;
  duration: number;
  volume: number;
  reported: boolean;
  carried: number;
}

export class DtmfReceiver {
  private dtmf: EventInProgress | undefined;

  /** @param onEvent called once per key press. */
  constructor(private readonly onEvent: (event: DtmfEvent) => void) {}

  /**
   * One telephone-event packet: its RTP timestamp and payload (RFC 4733 §2.3).
   * @returns false when the payload is not a telephone event (malformed; nothing reported).
   */
  push(timestamp: number, payload: Uint8Array): boolean {
    let e: ReturnType<typeof parseTelephoneEvent>;
    try {
      e = parseTelephoneEvent(payload);
    } catch {
      return false;
    }
    const cur = this.dtmf;
    if (cur && !cur.reported && cur.event === e.event && timestamp === ((cur.ts + 0xffff) >>> 0)) {
      // §2.5.1.3: an event longer than the duration field holds continues as a new segment whose
      // "timestamp [is] equal to the previous event's timestamp plus the maximum duration": the same key.
      cur.carried += 0xffff;
      cur.ts = timestamp;
      cur.duration = e.duration;
    } else if (!cur || cur.ts !== timestamp || cur.event !== e.event) {
      if (cur && !cur.reported) this.reportDtmf(cur, false);
      this.dtmf = { ts: timestamp, event: e.event, duration: e.duration, volume: e.volume, reported: false, carried: 0 };
    } else {
      cur.duration = Math.max(cur.duration, e.duration);
    }
    const now = this.dtmf!;
    if (e.end && !now.reported) this.reportDtmf(now, true);
    return true;
  }

  private reportDtmf(d: EventInProgress, endSeen: boolean): void {
    d.reported = true;
    this.onEvent({
      key: dtmfKey(d.event) ?? `event-${d.event}`,
      event: d.event,
      durationMs: ((d.carried + d.duration) * 1000) / EVENT_CLOCK_RATE,
      volume: d.volume,
      rtpTimestamp: d.ts,
      endSeen,
    });
  }
}
