/**
 * Our answer to an offer (RFC 3264 §6): exactly one G.711 codec (the first PCMU or PCMA the offer lists,
 * i.e. the offerer's preference, §6.1), plus telephone-event under the offerer's PT number when offered;
 * CN/8000 (PT 13) too when offered and asked for (`comfortNoise`); every other m-line is rejected with port 0 in its original position (§6). An offered `a=rtcp-mux` is
 * accepted (RFC 5761 §5.1.1).
 */
import { isIP } from "node:net";
import { write } from "sdp-transform";
import type { MediaDescription, SessionDescription } from "sdp-transform";
import { effectiveOfferDirection, mirrorDirection } from "./direction.ts";
import { SdpError } from "./errors.ts";
import { SDP_USERNAME, ipVersionOf, newSessionId } from "./origin.ts";
import { parseOffer } from "./parse.ts";
import { PT_CN, TELEPHONE_EVENT_FMTP } from "./payload-types.ts";
import type { G711Name, NegotiatedMedia, SdpDescription, SdpMediaSection, SdpPayload } from "./types.ts";

/** Packet duration we ask for and send, ms (RFC 3551 §4.2: default packetization interval 20 ms). */
export const ANSWER_PTIME_MS = 20;

/**
 * The shortest packet we send, ms. Each packet is a send system call (~5 µs here) on the thread that
 * paces every call: a peer's `a=maxptime:1` made one call send 1,000 packets a second instead of 50
 * (s23 fresheyes3), twenty calls' worth of sending bought with one offer. No G.711 gateway we know asks
 * for less than 10 ms (pjmedia's shortest frame is 10 ms too); such an offer is refused.
 */
export const MIN_SEND_PTIME_MS = 10;

/**
 * The packet duration we send to a peer whose SDP says `a=maxptime` (RFC 4566 §6: "This gives the
 * maximum amount of media that can be encapsulated in each packet, expressed as time in milliseconds"):
 * our 20 ms, or 10 ms (each 20 ms frame as two packets of consecutive timestamps) when the peer's maximum
 * is 10–19 ms. A maxptime of 20 or more, or none, changes nothing.
 * @throws SdpError "unsupported_ptime" for a maxptime under MIN_SEND_PTIME_MS: we cannot meet it, and the
 *   offer is refused with 488 (RFC 3261 §21.4.26, the meaning of 606 for this resource: "some aspects
 *   of the session description such as the requested media, bandwidth, or addressing style were not
 *   acceptable"; a refused re-offer leaves the session as it was, RFC 3264 §8); an answer asking it is unusable.
 */
export function sendPtimeFor(maxptime: number | undefined): number {
  if (maxptime === undefined || maxptime >= ANSWER_PTIME_MS) return ANSWER_PTIME_MS;
  if (maxptime < MIN_SEND_PTIME_MS) {
    throw new SdpError("unsupported_ptime", `a=maxptime:${maxptime} asks for packets shorter than the ${MIN_SEND_PTIME_MS} ms this agent sends at least`);
  }
  return MIN_SEND_PTIME_MS;
}

export interface CreateAnswerOptions {
  /** The remote offer, raw or already parsed with `parseOffer`. */
  offer: string | SdpDescription;
  /** Our RTP address for `c=`/`o=` (IPv4 or IPv6 literal). */
  localAddress: string;
  /**
   * The address our RTP socket is bound to ("0.0.0.0", "::", or a literal). When given, an offer whose
   * `c=` is of an address family that socket cannot send to (IPv6 from an IPv4 socket, or the reverse) is
   * refused with "unsupported_address" instead of answered with a call whose audio never arrives.
   */
  bindAddress?: string;
  /** Our RTP port (even, RFC 3550 §11). */
  localPort: number;
  /** `o=` session id; random when omitted. Keep it for later answers in the same dialog. */
  sessionId?: string;
  /** `o=` version; default 1. Increment for each new answer in the same session (RFC 3264 §8). */
  sessionVersion?: number;
  /**
   * The codec to keep when the offer still lists it (a re-offer in a dialog, RFC 6337 §5.3: changing
   * codecs without need costs a glitch); otherwise the offerer's first G.711 codec.
   */
  preferCodec?: G711Name;
  /**
   * RTP_SILENCE_SUPPRESSION=on: accept comfort noise (RFC 3389, static PT 13 CN/8000) when the offer
   * lists it, so our keep-alives in silence can be CN packets (src/rtp/silence-suppression.ts).
   */
  comfortNoise?: boolean;
}

export interface AnswerResult extends NegotiatedMedia {
  /** The answer body (CRLF line ends). */
  sdp: string;
  sessionId: string;
  sessionVersion: number;
}

/**
 * Builds the answer for an offer.
 * @throws SdpError "no_common_codec" when the offer has neither PCMU nor PCMA (→ SIP 488), or any
 *   `parseOffer` error ("malformed", "no_audio", "unsupported_transport", "no_connection").
 */
export function createAnswer(opts: CreateAnswerOptions): AnswerResult {
  const offer = typeof opts.offer === "string" ? parseOffer(opts.offer) : opts.offer;
  const audio = offer.audio;
  if (opts.bindAddress !== undefined) checkReachable(audio.connection?.address, opts.bindAddress);
  const chosen = audio.g711.find((c) => c.codec === opts.preferCodec) ?? audio.g711[0];
  if (!chosen) {
    // Name what was offered as the offer wrote it: PCMU at 16000 Hz or in stereo is not G.711 (RFC 3551 §4.5.14).
    const listed = audio.payloads.map(describePayload).join(", ");
    throw new SdpError("no_common_codec", `offer lists no PCMU/PCMA at 8000 Hz mono (has: ${listed})`);
  }
  const te = audio.telephoneEvent;
  // RFC 3389 §4 registers CN as "audio/CN" at 8000 Hz under the static PT 13 (RFC 3551 Table 4).
  const cn = !!opts.comfortNoise && audio.payloads.some((p) => p.pt === PT_CN && p.encoding.toUpperCase() === "CN" && p.clockRate === 8000);
  const direction = mirrorDirection(effectiveOfferDirection(audio.direction, audio.connection?.address));
  const ipVer = ipVersionOf(opts.localAddress);
  const sessionId = opts.sessionId ?? newSessionId();
  const sessionVersion = opts.sessionVersion ?? 1;

  const audioLine: MediaDescription = {
    type: "audio",
    port: opts.localPort,
    // RFC 3264 §6: the answer uses the offered transport (RTP/AVP, or RTP/AVPF which is compatible).
    protocol: audio.protocol,
    payloads: [chosen.pt, te?.pt, cn ? PT_CN : undefined].filter((pt) => pt !== undefined).join(" "),
    rtp: [{ payload: chosen.pt, codec: chosen.codec, rate: 8000 }],
    fmtp: [],
    ptime: ANSWER_PTIME_MS,
    direction,
  };
  // RFC 5761 §5.1.1: "If the answerer wishes to multiplex RTP and RTCP on a single port, it MUST include
  // an a=rtcp-mux attribute in the answer." We do whenever it is offered (one port fewer through NATs).
  if (audio.rtcpMux) audioLine.rtcpMux = "rtcp-mux";
  if (te) {
    audioLine.rtp.push({ payload: te.pt, codec: "telephone-event", rate: 8000 });
    audioLine.fmtp.push({ payload: te.pt, config: TELEPHONE_EVENT_FMTP });
  }
  if (cn) audioLine.rtp.push({ payload: PT_CN, codec: "CN", rate: 8000 });
  const desc: SessionDescription = {
    version: 0,
    origin: { username: SDP_USERNAME, sessionId, sessionVersion, netType: "IN", ipVer, address: opts.localAddress },
    name: SDP_USERNAME,
    connection: { version: ipVer, ip: opts.localAddress },
    timing: { start: 0, stop: 0 },
    media: offer.media.map((m) => (m.index === audio.index ? audioLine : rejectedLine(m))),
  };
  return {
    sdp: write(desc),
    sessionId,
    sessionVersion,
    codec: chosen.codec,
    payloadType: chosen.pt,
    telephoneEventPt: te?.pt,
    remote: { address: audio.connection!.address, port: audio.port },
    direction,
    remotePtime: audio.ptime,
    ...(sendPtimeFor(audio.maxptime) < ANSWER_PTIME_MS ? { sendPtime: sendPtimeFor(audio.maxptime) } : {}),
    ...(audio.rtcpMux ? { rtcpMux: true as const } : {}),
    ...(cn ? { comfortNoise: true as const } : {}),
  };
}

/** RFC 3264 §6: a rejected stream keeps its position with port 0 and at least one offered format. */
function rejectedLine(m: SdpMediaSection): MediaDescription {
  return { type: m.type, port: 0, protocol: m.protocol, payloads: m.formats || "0", rtp: [], fmtp: [] };
}

/**
 * RFC 4566 §5.7: `c=` is "the unicast IP address of the expected data source or data relay or data sink";
 * we must be able to send to it. A socket bound to an IPv4 address (or 0.0.0.0) cannot reach an IPv6 one
 * and the reverse; "::" is dual-stack and reaches both. Hold addresses (0.0.0.0, ::) receive nothing.
 * @throws SdpError "unsupported_address" naming both families (→ SIP 488 with a Warning)
 */
function checkReachable(remote: string | undefined, bindAddress: string): void {
  if (!remote || remote === "0.0.0.0" || remote === "::") return;
  const theirs = isIP(remote);
  const ours = bindAddress === "::" ? 0 : isIP(bindAddress) || 4;
  if (theirs === 0 || ours === 0 || theirs === ours) return;
  throw new SdpError("unsupported_address", `c= address ${remote} is IPv${theirs}; this agent sends media over IPv${ours} only`);
}

/** "PCMU", or "PCMU/16000", "PCMA/8000/2" when not 8000 Hz mono, or the bare payload type when unknown. */
function describePayload(p: SdpPayload): string {
  if (!p.encoding) return String(p.pt);
  const g711 = /^PCM[UA]$/i.test(p.encoding);
  if (!g711 || (p.clockRate === 8000 && p.channels === 1)) return p.encoding;
  return `${p.encoding}/${p.clockRate}${p.channels === 1 ? "" : `/${p.channels}`}`;
}
