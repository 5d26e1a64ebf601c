/**
 * Our side as offerer (UAC: outbound calls, the built-in test caller): build an offer, read the answer
 * (RFC 3264 §5, §7).
 */
import { write } from "sdp-transform";
import type { MediaDescription } from "sdp-transform";
import { mirrorDirection } from "./direction.ts";
import { SdpError } from "./errors.ts";
import { SDP_USERNAME, ipVersionOf, newSessionId } from "./origin.ts";
import { parseDescription, toAudio } from "./parse.ts";
import { DEFAULT_TELEPHONE_EVENT_PT, PT_PCMA, PT_PCMU, TELEPHONE_EVENT_FMTP } from "./payload-types.ts";
import type { G711Name, NegotiatedMedia, SdpDirection } from "./types.ts";
import { ANSWER_PTIME_MS, sendPtimeFor } from "./answer.ts";

export interface CreateOfferOptions {
  localAddress: string;
  /** Our RTP port (even, RFC 3550 §11). */
  localPort: number;
  /** Codecs in preference order; default ["PCMU", "PCMA"]. Static PTs 0 and 8 (RFC 3551 Table 4). */
  codecs?: G711Name[];
  /** Dynamic PT for telephone-event (RFC 4733); default 101; `null` to leave DTMF events out. */
  telephoneEventPt?: number | null;
  sessionId?: string;
  /** Default 1; increment for each new offer in the same session (RFC 3264 §8). */
  sessionVersion?: number;
  /** Default "sendrecv". */
  direction?: SdpDirection;
}

export interface OfferResult {
  sdp: string;
  sessionId: string;
  sessionVersion: number;
}

/**
 * Builds an offer with one audio m-line.
 * @throws SdpError "malformed" for an empty codec list or a telephone-event PT outside 96–127.
 */
export function createOffer(opts: CreateOfferOptions): OfferResult {
  const codecs = opts.codecs ?? ["PCMU", "PCMA"];
  if (codecs.length === 0) throw new SdpError("malformed", "createOffer: no codecs");
  const tePt = opts.telephoneEventPt === undefined ? DEFAULT_TELEPHONE_EVENT_PT : opts.telephoneEventPt;
  if (tePt !== null && (!Number.isInteger(tePt) || tePt < 96 || tePt > 127)) {
    // RFC 3551 §6: dynamic payload types are 96–127.
    throw new SdpError("malformed", `createOffer: telephone-event PT ${tePt} not in 96-127`);
  }
  const ipVer = ipVersionOf(opts.localAddress);
  const sessionId = opts.sessionId ?? newSessionId();
  const sessionVersion = opts.sessionVersion ?? 1;
  const pts = [...new Set(codecs)].map((c) => (c === "PCMU" ? PT_PCMU : PT_PCMA));
  const m: MediaDescription = {
    type: "audio",
    port: opts.localPort,
    protocol: "RTP/AVP",
    payloads: [...pts, ...(tePt === null ? [] : [tePt])].join(" "),
    rtp: pts.map((pt) => ({ payload: pt, codec: pt === PT_PCMU ? "PCMU" : "PCMA", rate: 8000 })),
    fmtp: [],
    ptime: ANSWER_PTIME_MS,
    direction: opts.direction ?? "sendrecv",
  };
  if (tePt !== null) {
    m.rtp.push({ payload: tePt, codec: "telephone-event", rate: 8000 });
    m.fmtp.push({ payload: tePt, config: TELEPHONE_EVENT_FMTP });
  }
  const sdp = write({
    version: 0,
    origin: { username: SDP_USERNAME, sessionId, sessionVersion, netType: "IN", ipVer, address: opts.localAddress },
    name: SDP_USERNAME,
    connection: { version: ipVer, ip: opts.localAddress },
    timing: { start: 0, stop: 0 },
    media: [m],
  });
  return { sdp, sessionId, sessionVersion };
}

/**
 * Reads the answer to an offer made with `createOffer`.
 * @param offered what we offered: the codecs (default both) and whether telephone-event was offered.
 * @returns the negotiated media; `direction` is OURS (the mirror of the answer's, RFC 3264 §6.1).
 * @throws SdpError "malformed" | "no_audio" | "rejected" (audio port 0) | "unsupported_transport" |
 *   "no_connection" | "no_common_codec" (the answer holds no codec we offered).
 */
export function parseAnswer(sdp: string, offered?: { codecs?: G711Name[]; telephoneEvent?: boolean }): NegotiatedMedia {
  const d = parseDescription(sdp);
  // RFC 3264 §6: the answer has the same m-lines in the same order; our offer has one audio m-line.
  const m = d.media.find((x) => x.type === "audio");
  if (!m) throw new SdpError("no_audio", "answer has no audio m-line");
  if (m.port === 0) throw new SdpError("rejected", "answerer rejected the audio stream (port 0)");
  if (!/^RTP\/AVPF?$/i.test(m.protocol)) throw new SdpError("unsupported_transport", `answer uses ${m.protocol}`);
  const audio = toAudio(m);
  const allowed = offered?.codecs ?? ["PCMU", "PCMA"];
  const chosen = audio.g711.find((c) => allowed.includes(c.codec));
  if (!chosen) throw new SdpError("no_common_codec", "answer holds no codec we offered");
  const te = offered?.telephoneEvent === false ? undefined : audio.telephoneEvent;
  const direction = mirrorDirection(audio.direction);
  return {
    codec: chosen.codec,
    payloadType: chosen.pt,
    telephoneEventPt: te?.pt,
    remote: { address: audio.connection!.address, port: audio.port },
    direction,
    remotePtime: audio.ptime,
    ...(sendPtimeFor(audio.maxptime) < ANSWER_PTIME_MS ? { sendPtime: sendPtimeFor(audio.maxptime) } : {}),
  };
}
