/**
 * RFC 4733 telephone-event payload (§2.3), one event per packet:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     event     |E|R| volume    |          duration             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   offset 0        offset 1: E = end (0x80), R reserved (0x40), volume 6 bits (−dBm0)
 *                                   offset 2: duration, in RTP timestamp units (8000 Hz here)
 *
 * An event's packets share one RTP timestamp (its start, §2.5.1.2); the final one has E=1 and is sent
 * three times (§2.5.1.4).
 */
import { RtpParseError } from "./errors.ts";

/** Bytes of one telephone-event payload. */
export const TELEPHONE_EVENT_BYTES = 4;

export interface TelephoneEvent {
  /** Event code 0–255; DTMF 0–15, flash 16 (RFC 4733 §3.2 Table 7). */
  event: number;
  /** E bit: last packet(s) of the event. */
  end: boolean;
  /** Power level in −dBm0, 0–63 (0 = loudest). */
  volume: number;
  /** Duration so far, timestamp units (samples at 8000 Hz). */
  duration: number;
}

/**
 * Parses a telephone-event payload (extra bytes, e.g. RFC 2198 redundancy, are ignored).
 * @throws RtpParseError "too_short" for fewer than 4 bytes.
 */
export function parseTelephoneEvent(payload: Uint8Array): TelephoneEvent {
  if (payload.length < TELEPHONE_EVENT_BYTES) {
    throw new RtpParseError("too_short", `telephone-event payload of ${payload.length} bytes, need 4`);
  }
  return {
    event: payload[0],
    end: (payload[1] & 0x80) !== 0,
    volume: payload[1] & 0x3f,
    duration: (payload[2] << 8) | payload[3],
  };
}

/** Builds a telephone-event payload (R bit 0). */
export function serializeTelephoneEvent(e: TelephoneEvent): Uint8Array {
  return new Uint8Array([e.event & 0xff, (e.end ? 0x80 : 0) | (e.volume & 0x3f), (e.duration >> 8) & 0xff, e.duration & 0xff]);
}

const DTMF_CHARS = "0123456789*#ABCD";

/** The DTMF key of an event code (RFC 4733 §3.2): "0"–"9", "*", "#", "A"–"D", "flash" (16); else undefined. */
export function dtmfKey(event: number): string | undefined {
  if (event >= 0 && event < 16) return DTMF_CHARS[event];
  if (event === 16) return "flash";
  return undefined;
}

/** The event code of a DTMF key, or undefined. */
export function dtmfEventCode(key: string): number | undefined {
  if (key === "flash") return 16;
  const i = DTMF_CHARS.indexOf(key.toUpperCase());
  return key.length === 1 && i >= 0 ? i : undefined;
}
