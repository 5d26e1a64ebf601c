/**
 * Reading SDP (RFC 4566) into typed descriptions. Tokenising is done by `sdp-transform`; this file adds
 * only what that lenient parser does not check: the required lines, unreadable m=/c=/o= lines, port and
 * payload-type ranges, and the effective values RFC 4566/3264 define (media-level `c=` and direction
 * override session-level ones; static payload types need no rtpmap).
 */
import { isIP } from "node:net";
import { parse as tokenize } from "sdp-transform";
import type { MediaDescription, SessionDescription } from "sdp-transform";
import { SdpError } from "./errors.ts";
import { STATIC_AUDIO_PAYLOAD_TYPES } from "./payload-types.ts";
import type {
  G711Name,
  SdpAudio,
  SdpConnection,
  SdpDescription,
  SdpDirection,
  SdpMediaSection,
  SdpPayload,
  SdpTelephoneEvent,
} from "./types.ts";

/** RFC 4566 §5: every line is `<type>=<value>` with a one-letter type. */
const LINE = /^[a-z]=/;
/** RFC 4566 §5.7 connection data, as far as we use it (network type IN). */
const C_LINE = /^c=IN IP[46] \S+$/;
/** RTP profiles without SRTP (RFC 3551, RFC 4585). */
const PLAIN_RTP = /^RTP\/AVPF?$/i;

/**
 * Longest SDP body read, bytes. Reading runs on the thread that paces every call's RTP, at ~0.1–0.3 µs a
 * byte (sdp-transform's rules per line): a 50 KB offer of 2,400 m= lines or 4,000 attributes took 5–8 ms
 * (median; p90 12–31 ms on a busy 2-core machine) against 0.05 ms for a trunk's offer of a few hundred
 * bytes, and one INVITE, re-INVITE or UPDATE like it stalled every call's audio that long (s23 fresheyes3).
 * 8 KB keeps the worst near 1–2 ms and is many times any telephone offer (the largest fixture, baresip's offer, is 733 bytes).
 */
export const MAX_SDP_BYTES = 8192;

/** A description whose audio stream may be missing (answers, and the first step of offers). */
export interface LooseDescription extends Omit<SdpDescription, "audio"> {}

/**
 * Parses any SDP body into typed sections without requiring a usable audio stream.
 * @throws SdpError "malformed" when a required line is missing or a line cannot be read; "too_large"
 *   over MAX_SDP_BYTES (unread).
 */
export function parseDescription(sdp: string): LooseDescription {
  if (typeof sdp !== "string" || sdp.trim() === "") throw new SdpError("malformed", "empty SDP body");
  if (sdp.length > MAX_SDP_BYTES) throw new SdpError("too_large", `SDP body of ${sdp.length} bytes is over ${MAX_SDP_BYTES}`);
  const all = sdp.split(/\r\n|\r|\n/);
  const lines = all.filter((l) => l !== "");
  // RFC 4566 §5: a session description starts with v= (protocol version); only version 0 exists.
  if (lines[0].trim() !== "v=0") throw new SdpError("malformed", `first line must be v=0, got "${clip(lines[0])}"`);
  for (let i = 0; i < all.length; i++) {
    const l = all[i];
    if (l === "") continue;
    if (!LINE.test(l)) throw new SdpError("malformed", `line ${i + 1} is not <type>=<value>: "${clip(l)}"`);
    if (l.startsWith("c=") && !C_LINE.test(l.trim())) {
      throw new SdpError("malformed", `line ${i + 1}: unreadable connection "${clip(l)}"`);
    }
  }
  if (!lines.some((l) => l.startsWith("s="))) throw new SdpError("malformed", "missing s= line (RFC 4566 §5.3)");

  let parsed: SessionDescription;
  try {
    parsed = tokenize(sdp);
  } catch (cause) {
    throw new SdpError("malformed", "SDP could not be tokenized", { cause });
  }
  const o = parsed.origin;
  if (!o || o.address === undefined || o.sessionId === undefined || o.sessionId === "") {
    throw new SdpError("malformed", "missing or unreadable o= line (RFC 4566 §5.2)");
  }
  const mLines = lines.filter((l) => l.startsWith("m="));
  if (mLines.length === 0) throw new SdpError("malformed", "no m= line");
  if (parsed.media.length !== mLines.length) throw new SdpError("malformed", "m= line count mismatch");

  const sessionConnection = connectionOf(parsed.connection);
  const sessionDirection = parsed.direction;
  const media = parsed.media.map((m, index) =>
    section(m, index, mLines[index], sessionConnection, sessionDirection),
  );
  return {
    origin: {
      username: String(o.username),
      sessionId: String(o.sessionId),
      sessionVersion: String(o.sessionVersion), // sdp-transform makes a number only when it prints back the same
      address: String(o.address),
    },
    sessionName: parsed.name ?? "",
    connection: sessionConnection,
    media,
  };
}

/**
 * Parses an SDP offer (RFC 3264 §5) and picks its audio stream.
 * @returns the description; `audio` is the first audio m-line with a non-zero port over RTP/AVP(F).
 * @throws SdpError "malformed" | "no_audio" | "unsupported_transport" | "no_connection".
 */
export function parseOffer(sdp: string): SdpDescription {
  const d = parseDescription(sdp);
  return { ...d, audio: pickAudio(d.media) };
}

/**
 * The audio stream to use among `media`: first `m=audio` with port ≠ 0 over plain RTP.
 * @throws SdpError "no_audio" | "unsupported_transport" | "no_connection".
 */
export function pickAudio(media: SdpMediaSection[]): SdpAudio {
  const live = media.filter((m) => m.type === "audio" && m.port !== 0);
  if (live.length === 0) throw new SdpError("no_audio", "no audio stream with a non-zero port");
  const rtp = live.find((m) => PLAIN_RTP.test(m.protocol));
  if (!rtp) {
    throw new SdpError("unsupported_transport", `audio only over ${live.map((m) => m.protocol).join(", ")}`);
  }
  return toAudio(rtp);
}

/**
 * Adds the G.711 and telephone-event views to an audio section.
 * @throws SdpError "no_connection" | "unsupported_address" (a host name, multicast or broadcast `c=`).
 */
export function toAudio(m: SdpMediaSection): SdpAudio {
  // RFC 4566 §5.7: a c= in every media description or one at session level.
  if (!m.connection) throw new SdpError("no_connection", `no c= for m-line ${m.index} nor at session level`);
  checkUnicast(m.connection.address);
  const g711: SdpAudio["g711"] = [];
  let telephoneEvent: SdpTelephoneEvent | undefined;
  for (const p of m.payloads) {
    const enc = p.encoding.toUpperCase();
    if ((enc === "PCMU" || enc === "PCMA") && p.clockRate === 8000 && p.channels === 1) {
      g711.push({ codec: enc as G711Name, pt: p.pt });
    } else if (enc === "TELEPHONE-EVENT" && p.clockRate === 8000 && !telephoneEvent) {
      // RFC 4733 §7.1.1: the event clock must match the audio clock, 8000 Hz for G.711.
      telephoneEvent = { pt: p.pt, clockRate: p.clockRate, events: p.fmtp };
    }
  }
  return { ...m, type: "audio", g711, telephoneEvent };
}

// ---------------------------------------------------------------- helpers

function section(
  m: MediaDescription,
  index: number,
  raw: string,
  sessionConnection: SdpConnection | undefined,
  sessionDirection: SdpDirection | undefined,
): SdpMediaSection {
  // sdp-transform leaves type/port unset when the m= line does not match its pattern (e.g. "port/count").
  const port = Number(m.port);
  if (!m.type || !m.protocol || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SdpError("malformed", `unreadable m= line "${clip(raw)}" (RFC 4566 §5.14)`);
  }
  const formats = (m.payloads ?? "").toString().trim();
  const isRtp = /RTP\//i.test(m.protocol);
  const payloads: SdpPayload[] = [];
  if (isRtp) {
    if (formats === "") throw new SdpError("malformed", `m= line without formats "${clip(raw)}"`);
    for (const f of formats.split(/\s+/)) {
      // RFC 4566 §5.14: for RTP/AVP the formats are RTP payload type numbers (7 bits, RFC 3550 §5.1).
      if (!/^\d{1,3}$/.test(f) || Number(f) > 127) {
        throw new SdpError("malformed", `payload type "${clip(f)}" is not 0-127 in "${clip(raw)}"`);
      }
      payloads.push(payloadOf(Number(f), m));
    }
  }
  return {
    index,
    type: m.type,
    port,
    protocol: m.protocol,
    formats,
    payloads,
    connection: connectionOf(m.connection) ?? sessionConnection,
    direction: m.direction ?? sessionDirection ?? "sendrecv",
    ptime: positive(m.ptime),
    maxptime: positive(m.maxptime),
    ...(m.rtcpMux ? { rtcpMux: true as const } : {}),
  };
}

function payloadOf(pt: number, m: MediaDescription): SdpPayload {
  const map = m.rtp?.find((r) => Number(r.payload) === pt);
  const fmtp = m.fmtp?.find((f) => Number(f.payload) === pt)?.config;
  if (map) {
    const channels = map.encoding === undefined ? 1 : Number(map.encoding);
    return {
      pt,
      encoding: String(map.codec),
      clockRate: Number(map.rate) || 0,
      channels: Number.isInteger(channels) && channels > 0 ? channels : 1,
      fmtp,
    };
  }
  // RFC 3551 §6 / RFC 4566 §6: static payload types may appear without rtpmap.
  const s = STATIC_AUDIO_PAYLOAD_TYPES[pt];
  if (s) return { pt, encoding: s.encoding, clockRate: s.clockRate, channels: s.channels, fmtp };
  return { pt, encoding: "", clockRate: 0, channels: 1, fmtp };
}

function connectionOf(c: { version: number; ip: string } | undefined): SdpConnection | undefined {
  if (!c || !c.ip) return undefined;
  return { address: c.ip.split("/")[0], ipVersion: Number(c.version) === 6 ? 6 : 4 };
}

/**
 * RFC 4566 §5.7: "If the session is not multicast, then the connection address contains the unicast IP
 * address of the expected data source or data relay or data sink". We send only to a unicast IP literal:
 * a host name would need a DNS lookup (and every packet sent to it failed), and multicast or broadcast
 * destinations would turn the agent into a reflector of its audio. 0.0.0.0 / :: (hold) stay allowed.
 */
function checkUnicast(address: string): void {
  const v = isIP(address);
  if (v === 0) throw new SdpError("unsupported_address", `c= address "${clip(address)}" is not an IP address (host names are not resolved)`);
  const multicast = v === 4 ? Number(address.split(".")[0]) >= 224 : /^ff/i.test(address);
  if (multicast) throw new SdpError("unsupported_address", `c= address ${address} is multicast, broadcast or reserved; only unicast media is supported`);
}

function positive(v: unknown): number | undefined {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
