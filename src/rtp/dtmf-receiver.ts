/**
 * DTMF key presses from RFC 4733 telephone-event packets of one RTP stream (the RtpSession hands them
 * over after its source, sequence and direction checks).
 *
 * DTMF (RFC 4733 §2.5.1): an event is identified by its RTP timestamp. It is reported once, on the
 * first packet with the E bit; if a new event starts before any end packet of the previous one arrived
 * (all three lost), the previous one is reported then with the last duration seen — and so it is when
 * audio resumes past its end (`audio`): the sender repeats the final packet because it can be lost
 * (§2.5.1.4: "The final packet for each event and for each segment SHOULD be sent a total of three times
 * at the interval used by the source for updates"), all three can be, and without this a last key whose end packets were all lost (a one-key menu answer) was
 * never acted on (probe, session 11). A caller's phone that sends nothing after the key (silence
 * suppression, or the key was the last thing before a hold) gets the same from a clock: an open event
 * with no packet of its own and no audio for QUIET_CLOSE_MS is reported then. Either way it is reported
 * once: later packets of that event (a late end packet) find it reported. A press longer
 * than the 16-bit duration field continues in segments at timestamp + 0xFFFF (§2.5.1.3): one key.
 */
import type { Clock, TimerHandle } from "../util/clock.ts";
import { dtmfKey, parseTelephoneEvent } from "./dtmf.ts";

/** Timestamp rate of telephone events with G.711 audio, Hz (RFC 4733 §2.3: the audio's rate, 8000). */
const EVENT_CLOCK_RATE = 8000;
/**
 * Audio this far (timestamp units: 100 ms at 8000 Hz) past an open event's last known end closes it. A
 * sender that keeps sending audio during the event (its updates every ~50 ms lag the audio) does not.
 */
const AUDIO_CLOSE_MARGIN = 800;
/**
 * An open event (no end packet seen) that has had no packet of its own and no audio for this long is
 * over, ms — at least; a sender that updates sparsely gets three of its own update intervals (below).
 * Senders mostly update an event every 40–50 ms (baresip's re library: TELEV_PTIME 50 ms; the SIPp
 * captures in tests/rtp/fixtures.ts: 40 ms), so 500 ms is ten updates lost, far beyond jitter.
 */
export const QUIET_CLOSE_MS = 500;
/**
 * The quiet close waits this many of the event's own update intervals when that is longer than
 * QUIET_CLOSE_MS: the interval is read from the duration field's last step (the first packet's duration
 * is the time since the event began, one interval), so a long press updated every 500 ms (tests/e2e/dtmf)
 * or 2 s waits 1.5 or 6 s, never closing a key that is still held. At most QUIET_CLOSE_MAX_MS.
 */
const QUIET_CLOSE_INTERVALS = 3;
/** The longest quiet close, ms. */
const QUIET_CLOSE_MAX_MS = 10_000;

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
  /** False when the end packets were lost and the event was closed by the next one or by later audio. */
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
  /** The duration field's last increase (timestamp units): the sender's update interval. */
  step: number;
}

export class DtmfReceiver {
  private dtmf: EventInProgress | undefined;
  private quiet: TimerHandle | undefined;
  /** The event the quiet timer waits for, and when it is over (clock ms). */
  private quietFor: EventInProgress | undefined;
  private quietDeadline = 0;
  private quietFireAt = 0;

  /**
   * @param onEvent called once per key press.
   * @param clock when given, an open event with no packet for QUIET_CLOSE_MS is reported by its timer
   *   (the RtpSession's clock; without one only a packet closes an event). `close()` stops the timer.
   */
  constructor(
    private readonly onEvent: (event: DtmfEvent) => void,
    private readonly clock?: Clock,
  ) {}

  /** Stops the quiet timer (the stream is over); an event still open is not reported. Idempotent. */
  close(): void {
    this.clock?.clearTimer(this.quiet);
    this.quiet = undefined;
    this.quietFor = undefined;
  }

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
      cur.step = Math.max(1, e.duration + 0xffff - cur.duration);
      cur.duration = e.duration;
    } else if (!cur || cur.ts !== timestamp || cur.event !== e.event) {
      if (cur && !cur.reported) this.reportDtmf(cur, false);
      this.dtmf = { ts: timestamp, event: e.event, duration: e.duration, volume: e.volume, reported: false, carried: 0, step: e.duration };
    } else {
      if (e.duration > cur.duration) {
        cur.step = e.duration - cur.duration;
        cur.duration = e.duration;
      }
    }
    const now = this.dtmf!;
    if (e.end && !now.reported) this.reportDtmf(now, true);
    if (!now.reported) this.armQuietClose(now);
    return true;
  }

  /**
   * One audio packet's RTP timestamp: an open event (no end packet seen) whose last known end
   * (start + duration) is more than 100 ms before it is over — its end packets were lost — and is
   * reported now with `endSeen` false.
   */
  audio(timestamp: number): void {
    const cur = this.dtmf;
    if (!cur || cur.reported) return;
    const past = (timestamp - ((cur.ts + cur.duration) >>> 0)) >>> 0; // serial: RTP timestamps wrap at 2^32
    if (past > AUDIO_CLOSE_MARGIN && past < 0x80000000) this.reportDtmf(cur, false);
    else this.armQuietClose(cur); // audio during the event: the stream is alive, wait for its packets
  }

  /**
   * Moves the quiet close of `d` to QUIET_CLOSE_MS (or 3 intervals) from now. One timer per event: a
   * packet or audio frame during the event only moves the deadline (audio arrives every 20 ms while a key
   * is held); the timer, when it fires early, waits again for what is left.
   */
  private armQuietClose(d: EventInProgress): void {
    const clock = this.clock;
    if (!clock) return;
    const intervalMs = (d.step * 1000) / EVENT_CLOCK_RATE;
    const ms = Math.min(QUIET_CLOSE_MAX_MS, Math.max(QUIET_CLOSE_MS, QUIET_CLOSE_INTERVALS * intervalMs));
    this.quietDeadline = clock.now() + ms;
    // The armed timer serves unless it would fire after the new deadline (the interval shrank).
    if (this.quiet && this.quietFor === d && this.quietFireAt <= this.quietDeadline) return;
    this.quietFor = d;
    this.waitQuiet(clock, d, ms);
  }

  private waitQuiet(clock: Clock, d: EventInProgress, ms: number): void {
    clock.clearTimer(this.quiet);
    this.quietFireAt = clock.now() + ms;
    this.quiet = clock.setTimer(ms, () => {
      this.quiet = undefined;
      if (this.dtmf !== d || d.reported) return;
      const left = this.quietDeadline - clock.now();
      if (left > 0) this.waitQuiet(clock, d, left);
      else this.reportDtmf(d, false);
    });
  }

  private reportDtmf(d: EventInProgress, endSeen: boolean): void {
    d.reported = true;
    this.close();
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
