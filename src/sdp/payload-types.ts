/**
 * Static RTP payload types (RFC 3551 §6, Table 4) for audio, so an m-line may list `0` or `8` without
 * an `a=rtpmap` (RFC 4566 §6: rtpmap is optional for static payload types). Dynamic types are 96–127
 * (RFC 3551 §6) and always need an rtpmap.
 */

export interface StaticPayloadType {
  encoding: string;
  clockRate: number;
  channels: number;
}

/** RFC 3551 Table 4 (audio). */
export const STATIC_AUDIO_PAYLOAD_TYPES: Readonly<Record<number, StaticPayloadType>> = {
  0: { encoding: "PCMU", clockRate: 8000, channels: 1 },
  3: { encoding: "GSM", clockRate: 8000, channels: 1 },
  4: { encoding: "G723", clockRate: 8000, channels: 1 },
  5: { encoding: "DVI4", clockRate: 8000, channels: 1 },
  6: { encoding: "DVI4", clockRate: 16000, channels: 1 },
  7: { encoding: "LPC", clockRate: 8000, channels: 1 },
  8: { encoding: "PCMA", clockRate: 8000, channels: 1 },
  9: { encoding: "G722", clockRate: 8000, channels: 1 },
  10: { encoding: "L16", clockRate: 44100, channels: 2 },
  11: { encoding: "L16", clockRate: 44100, channels: 1 },
  12: { encoding: "QCELP", clockRate: 8000, channels: 1 },
  13: { encoding: "CN", clockRate: 8000, channels: 1 },
  14: { encoding: "MPA", clockRate: 90000, channels: 1 },
  15: { encoding: "G728", clockRate: 8000, channels: 1 },
  16: { encoding: "DVI4", clockRate: 11025, channels: 1 },
  17: { encoding: "DVI4", clockRate: 22050, channels: 1 },
  18: { encoding: "G729", clockRate: 8000, channels: 1 },
};

/** PT of PCMU (RFC 3551 Table 4). */
export const PT_PCMU = 0;
/** PT of PCMA (RFC 3551 Table 4). */
export const PT_PCMA = 8;
/** PT of comfort noise (RFC 3389 §4, RFC 3551 Table 4). */
export const PT_CN = 13;
/** Our default dynamic PT for telephone-event in offers (RFC 4733 §7.1.1; 101 is the common choice). */
export const DEFAULT_TELEPHONE_EVENT_PT = 101;
/** Events we accept: DTMF 0-9 * # A-D (0–15) and flash (16) (RFC 4733 §3.2, Table 7). */
export const TELEPHONE_EVENT_FMTP = "0-16";
