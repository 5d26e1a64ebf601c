/**
 * A tiny stand-in for the agent, used ONLY to prove the e2e tooling works (SIPp scenarios, capture,
 * decoding, matching) before the real agent runs. It is not a SIP stack: no transactions, no
 * retransmissions, one process-local map of dialogs, loopback only.
 *
 * Behaviour (RFC 3261 sections cited for the response each scenario expects):
 * - INVITE: 100, then 180 (with To tag), then after `ringMs` 200 with an SDP answer choosing the first
 *   offered of PCMU/PCMA (RFC 3264 §6.1), or 488 when neither is offered (§13.3.1.1).
 *   After the ACK it sends `agentAudio` as RTP (20 ms, 160 B) to the offer's c=/m= address, then
 *   optionally a BYE (`hangupAfterAudio`).
 * - CANCEL of a ringing INVITE: 200 to the CANCEL, 487 to the INVITE (§9.2).
 * - BYE: 200 inside a known dialog, else 481 (§15.1.2). OPTIONS: 200 with Allow (§11.2).
 * - SUBSCRIBE, MESSAGE, … (known methods): 405 with Allow (§8.2.1); unknown methods: 501 (§21.5.2).
 * - Anything that does not parse as a request: ignored.
 */
import type { udp } from "bun";
import { buildRtp } from "../support/rtp.ts";
import { LOOPBACK } from "../support/ports.ts";

export interface StandinOptions {
  /** Ring time between 180 and 200, ms. Default 0. */
  ringMs?: number;
  /** Raw G.711 bytes the "agent" says after the ACK (in the negotiated law is the caller's job). */
  agentAudio?: Uint8Array;
  /** Delay after the ACK before the audio starts, ms. Default 200. */
  audioDelayMs?: number;
  /** Answer with this payload type whatever was offered (to test failure paths). */
  forceAnswerPt?: number;
  /** Send BYE once the audio is out. Default false. */
  hangupAfterAudio?: boolean;
  /** Answer 200 to methods it does not implement (to test failure paths). Default false. */
  acceptUnknownMethods?: boolean;
}

interface Dialog {
  callId: string;
  toTag: string;
  remoteMedia?: { ip: string; port: number };
  pt: number;
  confirmed: boolean;
  cancelled: boolean;
  inviteHead?: ParsedRequest;
  contact?: { ip: string; port: number };
  localUri: string;
  remoteFrom: string;
  timers: Array<ReturnType<typeof setTimeout>>;
}

interface ParsedRequest {
  method: string;
  uri: string;
  headers: Array<[string, string]>;
  body: string;
}

const ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS";
const KNOWN = new Set(["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "SUBSCRIBE", "NOTIFY", "MESSAGE", "INFO", "PRACK", "UPDATE", "REFER", "PUBLISH"]);

function parseRequest(text: string): ParsedRequest | null {
  const sep = text.indexOf("\r\n\r\n");
  if (sep < 0) return null;
  const lines = text.slice(0, sep).split("\r\n");
  const m = lines[0]!.match(/^([A-Z]+) (\S+) SIP\/2\.0$/);
  if (!m) return null;
  const headers: Array<[string, string]> = [];
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    if (i > 0) headers.push([l.slice(0, i).trim(), l.slice(i + 1).trim()]);
  }
  return { method: m[1]!, uri: m[2]!, headers, body: text.slice(sep + 4) };
}

const hdr = (r: ParsedRequest, name: string) => r.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];

/** The stand-in UAS. `start()` binds SIP and RTP sockets on 127.0.0.1; `stop()` closes them. */
export class StandinUas {
  sipPort = 0;
  rtpPort = 0;
  /** Every request method received, in order. */
  readonly received: string[] = [];
  /** Every response status sent, in order ("INVITE 180", …). */
  readonly sent: string[] = [];
  /** RTP packets received from the caller. */
  rtpIn = 0;
  /** RTP packets sent. */
  rtpOut = 0;
  private sip!: udp.Socket<"buffer">;
  private rtp!: udp.Socket<"buffer">;
  private readonly dialogs = new Map<string, Dialog>();
  private readonly ssrc = (Math.random() * 2 ** 32) >>> 0;

  constructor(private readonly opts: StandinOptions = {}) {}

  async start(): Promise<this> {
    this.sip = await Bun.udpSocket({
      hostname: LOOPBACK,
      socket: { data: (_s, buf, port, address) => this.onSip(new TextDecoder().decode(buf), address, port), error: () => undefined },
    });
    this.rtp = await Bun.udpSocket({ hostname: LOOPBACK, socket: { data: () => void this.rtpIn++, error: () => undefined } });
    this.sipPort = this.sip.port;
    this.rtpPort = this.rtp.port;
    return this;
  }

  stop(): void {
    for (const d of this.dialogs.values()) d.timers.forEach(clearTimeout);
    this.sip?.close();
    this.rtp?.close();
  }

  private respond(req: ParsedRequest, code: number, reason: string, to: { ip: string; port: number }, extra: string[] = [], body = "", toTag?: string): void {
    const lines = [`SIP/2.0 ${code} ${reason}`];
    for (const [n, v] of req.headers) if (n.toLowerCase() === "via") lines.push(`Via: ${v}`);
    lines.push(`From: ${hdr(req, "From")}`);
    const toH = hdr(req, "To") ?? "";
    lines.push(`To: ${toTag && !/;tag=/.test(toH) ? `${toH};tag=${toTag}` : toH}`);
    lines.push(`Call-ID: ${hdr(req, "Call-ID")}`, `CSeq: ${hdr(req, "CSeq")}`, ...extra);
    if (body) lines.push("Content-Type: application/sdp");
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, "", body);
    this.sip.send(lines.join("\r\n"), to.port, to.ip);
    this.sent.push(`${req.method} ${code}`);
  }

  private onSip(text: string, ip: string, port: number): void {
    const req = parseRequest(text);
    if (!req) return; // responses (200 to our BYE) and garbage
    this.received.push(req.method);
    const from = { ip, port };
    const callId = hdr(req, "Call-ID") ?? "";
    const d = this.dialogs.get(callId);
    const contact = `Contact: <sip:agent@${LOOPBACK}:${this.sipPort}>`;
    switch (req.method) {
      case "INVITE":
        return this.onInvite(req, from, callId, contact);
      case "ACK":
        if (d && !d.cancelled && !d.confirmed) {
          d.confirmed = true;
          d.timers.push(setTimeout(() => this.playAudio(d), this.opts.audioDelayMs ?? 200));
        }
        return;
      case "CANCEL":
        if (d && !d.confirmed && d.inviteHead && !d.cancelled) {
          d.cancelled = true;
          d.timers.forEach(clearTimeout);
          this.respond(req, 200, "OK", from);
          this.respond(d.inviteHead, 487, "Request Terminated", from, [], "", d.toTag);
        } else this.respond(req, 481, "Call/Transaction Does Not Exist", from);
        return;
      case "BYE":
        if (d && d.confirmed && (hdr(req, "To") ?? "").includes(`tag=${d.toTag}`)) {
          d.timers.forEach(clearTimeout);
          this.dialogs.delete(callId);
          this.respond(req, 200, "OK", from);
        } else this.respond(req, 481, "Call/Transaction Does Not Exist", from);
        return;
      case "OPTIONS":
        return this.respond(req, 200, "OK", from, [`Allow: ${ALLOW}`, "Accept: application/sdp"], "", "opt");
      default:
        if (this.opts.acceptUnknownMethods) this.respond(req, 200, "OK", from, [], "", "x");
        else if (KNOWN.has(req.method)) this.respond(req, 405, "Method Not Allowed", from, [`Allow: ${ALLOW}`], "", "x");
        else this.respond(req, 501, "Not Implemented", from, [], "", "x");
    }
  }

  private onInvite(req: ParsedRequest, from: { ip: string; port: number }, callId: string, contact: string): void {
    if (this.dialogs.has(callId)) return; // retransmission
    const media = req.body.match(/^m=audio (\d+) RTP\/AVP ([\d ]+)/m);
    const conn = req.body.match(/^c=IN IP4 (\S+)/m);
    const offered = media ? media[2]!.trim().split(/\s+/).map(Number) : [];
    const pt = this.opts.forceAnswerPt ?? offered.find((p) => p === 0 || p === 8);
    this.respond(req, 100, "Trying", from);
    const toTag = `standin${Math.floor(Math.random() * 1e9)}`;
    if (pt === undefined) {
      this.respond(req, 488, "Not Acceptable Here", from, [], "", toTag);
      return;
    }
    const contactUri = (hdr(req, "Contact") ?? "").match(/sip:[^@]+@([\d.]+):(\d+)/);
    const d: Dialog = {
      callId,
      toTag,
      pt,
      confirmed: false,
      cancelled: false,
      inviteHead: req,
      remoteMedia: media && conn ? { ip: conn[1]!, port: Number(media[1]) } : undefined,
      contact: contactUri ? { ip: contactUri[1]!, port: Number(contactUri[2]) } : from,
      localUri: hdr(req, "To") ?? "",
      remoteFrom: hdr(req, "From") ?? "",
      timers: [],
    };
    this.dialogs.set(callId, d);
    this.respond(req, 180, "Ringing", from, [contact], "", toTag);
    const codec = pt === 0 ? "PCMU" : pt === 8 ? "PCMA" : "G729";
    const sdp = ["v=0", `o=standin 1 1 IN IP4 ${LOOPBACK}`, "s=-", `c=IN IP4 ${LOOPBACK}`, "t=0 0", `m=audio ${this.rtpPort} RTP/AVP ${pt} 101`, `a=rtpmap:${pt} ${codec}/8000`, "a=rtpmap:101 telephone-event/8000", "a=ptime:20", "a=sendrecv", ""].join("\r\n");
    d.timers.push(setTimeout(() => this.respond(req, 200, "OK", from, [contact], sdp, toTag), this.opts.ringMs ?? 0));
  }

  /** Sends `agentAudio` in 160-byte frames every 20 ms against a monotonic deadline. */
  private playAudio(d: Dialog): void {
    const audio = this.opts.agentAudio;
    if (!audio || !d.remoteMedia) return this.maybeHangup(d);
    const frames = Math.ceil(audio.length / 160);
    const t0 = performance.now();
    let i = 0;
    const tick = () => {
      if (!this.dialogs.has(d.callId)) return;
      const payload = new Uint8Array(160).fill(d.pt === 8 ? 0xd5 : 0xff);
      payload.set(audio.subarray(i * 160, i * 160 + 160));
      this.rtp.send(buildRtp({ marker: i === 0, payloadType: d.pt, sequenceNumber: (1000 + i) & 0xffff, timestamp: 5000 + i * 160, ssrc: this.ssrc, payload }), d.remoteMedia!.port, d.remoteMedia!.ip);
      this.rtpOut++;
      i++;
      if (i < frames) d.timers.push(setTimeout(tick, Math.max(0, t0 + i * 20 - performance.now())));
      else this.maybeHangup(d);
    };
    tick();
  }

  private maybeHangup(d: Dialog): void {
    if (!this.opts.hangupAfterAudio || !d.contact) return;
    const via = `SIP/2.0/UDP ${LOOPBACK}:${this.sipPort};branch=z9hG4bK-standin-${Math.floor(Math.random() * 1e9)}`;
    const lines = [
      `BYE sip:caller@${d.contact.ip}:${d.contact.port} SIP/2.0`,
      `Via: ${via}`,
      `From: ${d.localUri};tag=${d.toTag}`,
      `To: ${d.remoteFrom}`,
      `Call-ID: ${d.callId}`,
      "CSeq: 1 BYE",
      "Max-Forwards: 70",
      "Content-Length: 0",
      "",
      "",
    ];
    this.dialogs.delete(d.callId);
    this.sip.send(lines.join("\r\n"), d.contact.port, d.contact.ip);
    this.sent.push("BYE");
  }
}
